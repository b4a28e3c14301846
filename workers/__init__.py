"""Background side: rq jobs (one module per operator), the queue and the outbox relay."""
