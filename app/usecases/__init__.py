"""Use cases: every action a person, a partner, a customer, a mail, a timer or a worker can take.

Views, the API, inbound mail, the CLI, the demo and the workers call only these. Each runs in one
unit of work (`app.usecases.uow.unit_of_work`): it commits or rolls back as a whole, and the outbox
jobs it wrote are handed to the queue only after the commit.
"""
