"""The background processes: the rq worker and its entry point, the scheduler loop, the outbox relay, the mail
receiver, and their flask commands. They depend on `app` (operators, use cases), never the reverse."""
