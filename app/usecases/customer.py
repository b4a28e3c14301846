"""What a customer does from the status page (no account: the link is the key), each one unit of work.

Completing the customer's own tasks (the contract decision, the rating, a claim with photos) goes through
`app.usecases.tasks.complete_task_with_files` as the customer account.
"""
from __future__ import annotations

from app.models import Order
from app.services import customer_view
from app.usecases.uow import unit_of_work


@unit_of_work()
def ask_question(order: Order, text: str) -> None:
    """A question: a note the customer and staff see, and a message to the manager."""
    customer_view.ask(order, text)


@unit_of_work()
def approve_contract(order: Order, version: int) -> None:
    """The customer agrees to this edition of the contract (ValidationError when a newer one exists)."""
    customer_view.approve_contract(order, version)


@unit_of_work()
def choose_channels(order: Order, channels: list[str], locale: str | None) -> None:
    """How the customer wants to hear from us, and in which language."""
    order.customer.notify_channels = channels
    if locale:
        order.customer.locale = locale
