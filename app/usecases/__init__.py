"""Use cases: every action a person, a partner, a customer, a mail, a timer or a worker can take.

Views, the API, inbound mail, the CLI, the demo and the workers call only these. Each runs in one
unit of work (`app.usecases.uow.unit_of_work`): it commits or rolls back as a whole, and the outbox
jobs it wrote are handed to the queue only after the commit. A use case called inside another one
(or inside a request's unit of work) joins it.

    orders     place an order (API, order form, partner portal, e-mail, demo)
    tasks      complete a task (with its form's files), claim, release, assign
    messages   deliver a message to an order's process, cancel an order
    customer   what the customer does on the status page
    bulk       one action over many orders, each its own unit of work
    mail       e-mail to the orders address; the quarantine's accept and drop
    incidents  retry or skip a job that ran out of attempts
    signin     password sign-in under one throttle (web form and API token)
    process    load → act → run → save of an order's workflow, used by the others
"""
