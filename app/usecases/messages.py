"""Messages into a process: an order's (a payment, the customer's decision, a cancellation) or any other instance's;
each one unit of work."""
from __future__ import annotations

from app import policy
from app.engine import engine
from app.engine.runtime import StepView
from app.errors import Conflict, ValidationError
from app.models import Order, ProcessInstance, User
from app.services import audit, orders
from app.usecases import process
from app.usecases.uow import unit_of_work


@unit_of_work()
def deliver_message(order: Order, name: str, payload: dict, actor, *, source: str = "api",
                    reason: str | None = None) -> StepView:
    """Deliver a named message to the order's process, or refuse clearly when it is not waiting for it.

    `reason`: why an admin sent it by hand, kept with the message in the order's history.
    """
    if name == "cancel" and isinstance(actor, User):  # POST /api/v1/messages/cancel too: the one cancel rule
        policy.ensure(actor, "orders.cancel", order)
    instance = order.instance
    if instance is None or instance.status not in ("running", process.SUSPENDED):  # suspended: step says why
        raise Conflict(f"Order {order.number} has no running process", stage=order.stage)
    eng = engine()

    def act(workflow):
        if not eng.send_message(workflow, name, payload):
            raise Conflict(f"Order {order.number} is at stage '{order.stage}', where message '{name}' "
                           f"is not accepted", stage=order.stage, message_name=name)

    view = process.step(instance, act, actor)
    assert view is not None  # act never declines: it raises Conflict
    audit.record(order.id, "message", actor, field=name, new=_short(payload),
                 details={"reason": reason} if reason else None)
    orders.apply_process_data(order, view.message_data, actor, source=source)
    return view


@unit_of_work()
def deliver_to_instance(instance: ProcessInstance, name: str, payload: dict, actor) -> StepView:
    """Deliver a named message to one instance's process (an order's goes through `deliver_message`), or refuse
    clearly (409, naming the message) when the instance does not wait for it now."""
    if instance.order is not None:
        return deliver_message(instance.order, name, payload, actor)
    if instance.status not in ("running", process.SUSPENDED):  # suspended: step says why
        raise Conflict(f"Process instance {instance.id} is {instance.status}: message '{name}' is not accepted",
                       instance_status=instance.status, message_name=name)
    eng = engine()

    def act(workflow):
        if not eng.send_message(workflow, name, payload):
            raise Conflict(f"Process instance {instance.id} is not waiting for message '{name}'",
                           message_name=name, waiting=sorted(eng.waiting_messages(workflow)))

    view = process.step(instance, act, actor)
    assert view is not None  # act never declines: it raises Conflict
    audit.record(None, "message", actor, field=name, new=_short(payload), entity="instance",
                 entity_id=instance.id, instance_id=instance.id)
    return view


@unit_of_work()
def cancel_order(order: Order, reason: str, actor) -> StepView:
    """Cancel with a required reason; refused with the stage named where the diagram does not allow it."""
    if isinstance(actor, User):  # who, before what: a refused user hears that, not that the reason is missing
        policy.ensure(actor, "orders.cancel", order)
    reason = (reason or "").strip()
    if len(reason) < 3:
        raise ValidationError("Укажите причину отмены", fields={"reason": "Укажите причину отмены"})
    try:
        return deliver_message(order, "cancel", {"reason": reason}, actor)
    except Conflict as exc:
        if exc.details.get("instance_status") == process.SUSPENDED:
            raise  # the order stands still: that is the reason, not its stage
        raise Conflict(f"Заказ {order.number} на этапе «{order.stage}»: отмена невозможна (отменить можно новый "
                       f"заказ, на замере, на подготовке договора или в ожидании решения банка)",
                       stage=order.stage) from exc


def _short(payload: dict) -> str:
    text = ", ".join(f"{k}={v}" for k, v in (payload or {}).items())
    return text[:500]
