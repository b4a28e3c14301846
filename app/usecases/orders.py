"""Placing an order: the one way an order is born — from the API, the order form, the partner portal, an e-mail
or the demo — checked, staged with its customer and its process started, in one unit of work."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import Order, OrderStatus, ProcessInstance, User
from app.services import order_batch
from app.services import orders as order_service
from app.usecases.process import start_order_process
from app.usecases.uow import unit_of_work


@unit_of_work()
def place_order(payload: dict, actor: User | None, *, external_ref: str | None = None) -> Order:
    """A new order from an intake payload (the API's JSON shape); ValidationError per field, nothing saved.
    `external_ref`: its number in the system an Excel import came from."""
    order = order_service.create_order(order_service.validate_intake(payload), actor)
    order.external_ref = external_ref
    start_order_process(order, actor)
    return order


def place_batch(rows: list[tuple[dict, str]], actor: User | None, import_id: int) -> list[int]:
    """An import's batch of orders (validated intake values, external number) staged in the caller's unit of work,
    without their processes: each is started afterwards by `start_placed`, one order per unit of work."""
    return order_batch.create_orders(rows, actor, import_id)


def start_placed(order_id: int, actor: User | None) -> bool:
    """Start the lifecycle of an order placed by `place_batch`, in the caller's unit of work; False when there is
    nothing to start (its process has started already, or it was cancelled meanwhile). The order's row is locked
    first, so two deliveries of the same job cannot start it twice."""
    # The lock on the row alone (the order loads its partner by an outer join, which PostgreSQL will not lock).
    db.session.execute(select(Order.id).where(Order.id == order_id).with_for_update())
    order = db.session.get(Order, order_id)
    if order is None or order.status != OrderStatus.ACTIVE:
        return False
    if db.session.execute(select(ProcessInstance.id).where(ProcessInstance.order_id == order_id)).first():
        return False
    start_order_process(order, actor)
    return True


def place_order_from_form(values: dict, actor: User, **fixed) -> Order:
    """An order from the new-order form (fields named like `customer.phone`); `fixed` overrides what was posted."""
    payload = {"kind": values.get("kind"), "channel": values.get("channel") or "phone",
               "customer": {"name": values.get("customer.name", ""), "phone": values.get("customer.phone", ""),
                            "email": values.get("customer.email", "")},
               "address": values.get("address", ""), "description": values.get("description", ""),
               "partner": values.get("partner") or None, **fixed}
    return place_order(payload, actor)
