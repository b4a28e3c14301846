"""Messages into processes (a payment, the customer's decision, a cancellation, any diagram's message); each one
unit of work.

A message goes to an order's process by the order's number, to one instance by its id, or to the instance(s)
waiting for it whose correlation values match (`correlation`, and what the payload's correlation properties
say); with none of these, to the one instance waiting for it (orders' processes only by number or id). Who may
send it: `policy.MESSAGE_SENDERS` by name; any other name admins, and — to a process no order started — its
starter and the roles that may start it.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select

from app import policy
from app.engine import engine
from app.engine.messages import MissingPayloadKey, catches, caught_messages, payload_correlations, waiting
from app.engine.views import StepView
from app.errors import Conflict, Forbidden, NotFound, ValidationError
from app.extensions import db
from app.models import Order, ProcessDefinition, ProcessInstance, User
from app.services import audit, orders
from app.usecases import process
from app.usecases.uow import unit_of_work

RUNNING = ("running", process.SUSPENDED)  # suspended: `process.step` refuses it and says why


@dataclass(frozen=True)
class Delivery:
    """Where a message went: the instances it reached (the first is *the* instance) and its order, if any."""

    message: str
    instance_ids: list[int]
    order_number: str | None


@unit_of_work()
def deliver_message(order: Order, name: str, payload: dict, actor, *, source: str = "api",
                    reason: str | None = None) -> StepView:
    """Deliver a named message to the order's process, or refuse clearly when it is not waiting for it.

    `reason`: why an admin sent it by hand, kept with the message in the order's history.
    """
    if name == "cancel" and isinstance(actor, User):  # POST /api/v1/messages/cancel too: the one cancel rule
        policy.ensure(actor, "orders.cancel", order)
    instance = order.instance
    if instance is None or instance.status not in RUNNING:
        raise Conflict(f"Order {order.number} has no running process", stage=order.stage)

    def act(workflow):
        if not _send(workflow, name, payload):
            raise Conflict(f"Order {order.number} is at stage '{order.stage}', where message '{name}' "
                           f"is not accepted", stage=order.stage, message_name=name)

    view = process.step(instance, act, actor)
    assert view is not None  # act never declines: it raises Conflict
    audit.record(order.id, "message", actor, field=name, new=_short(payload),
                 details={"reason": reason} if reason else None)
    orders.apply_process_data(order, view.message_data, actor, source=source)
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


@unit_of_work()
def send(name: str, payload: dict, actor: User, *, order_number: str | None = None, instance_id: int | None = None,
         correlation: dict | None = None) -> Delivery:
    """Deliver a message where the caller points it (see the module's docstring); refuse clearly otherwise."""
    if order_number and instance_id is not None:
        raise ValidationError(_("Укажите номер заказа или номер процесса, не оба"),
                              fields={"instance_id": _("вместе с order_number не указывают")})
    if order_number or name in policy.MESSAGE_SENDERS:
        policy.ensure(actor, "messages.send", name)  # who, before whether the order (or a waiting process) exists
    if order_number:
        try:
            order = orders.get_order(order_number)
        except NotFound:
            raise NotFound(f"No order {order_number} waits for message '{name}': the order does not exist") from None
        view_instance = order.instance
        deliver_message(order, name, payload, actor)
        assert view_instance is not None  # deliver_message refuses an order without a process
        return Delivery(name, [view_instance.id], order.number)
    if instance_id is not None:
        instance = db.session.get(ProcessInstance, instance_id)
        if instance is None:
            raise NotFound(_("Процесса №%(id)s нет", id=instance_id), fields={"instance_id": _("нет такого процесса")})
        _ensure_may_send(actor, name, instance)
        if correlation:
            _check_correlation(instance, name, correlation)
        _deliver(instance, name, payload, actor)
        return Delivery(name, [instance.id], instance.order.number if instance.order else None)
    targets = _waiting_instances(name, payload, actor, correlation or {})
    for instance in targets:
        _deliver(instance, name, payload, actor)
    return Delivery(name, [i.id for i in targets], targets[0].order.number if targets[0].order else None)


@unit_of_work()
def deliver_to_instance(instance: ProcessInstance, name: str, payload: dict, actor) -> StepView:
    """Deliver a message to one instance (an order's or not), or refuse clearly when it does not catch it."""
    if instance.order is not None:
        return deliver_message(instance.order, name, payload, actor)
    if instance.status not in RUNNING:
        raise Conflict(_("Процесс %(label)s не выполняется: %(status)s", label=process.instance_label(instance),
                         status=instance.status), status=instance.status, instance_status=instance.status)

    def act(workflow):
        if _send(workflow, name, payload):
            return
        now = waiting(workflow, name)
        if now is None:
            raise Conflict(_("Процесс %(label)s сейчас не ждёт сообщения «%(name)s»",
                             label=process.instance_label(instance), name=name),
                           message_name=name, waiting=sorted(engine().waiting_messages(workflow)))
        raise Conflict(_("Процесс %(label)s ждёт сообщения «%(name)s» с другими значениями корреляции: "
                         "%(mine)s, а в сообщении %(theirs)s", label=process.instance_label(instance), name=name,
                         mine=_pairs(now.correlations, now.properties),
                         theirs=_pairs(payload_correlations(workflow, name, payload), now.properties)),
                       message_name=name)

    view = process.step(instance, act, actor)
    assert view is not None  # act never declines: it raises Conflict
    audit.record(None, "message", actor, field=name, new=_short(payload), entity="instance", entity_id=instance.id,
                 instance_id=instance.id)
    return view


def _deliver(instance: ProcessInstance, name: str, payload: dict, actor) -> StepView:
    if instance.order is not None:
        return deliver_message(instance.order, name, payload, actor)
    return deliver_to_instance(instance, name, payload, actor)


def _send(workflow, name: str, payload: dict) -> bool:
    try:
        return engine().send_message(workflow, name, payload)
    except MissingPayloadKey as exc:
        raise _missing(exc) from None


def _missing(exc: MissingPayloadKey) -> ValidationError:
    return ValidationError(_("В сообщении нет «%(key)s»: по нему сообщение находит свой процесс (свойство "
                             "корреляции «%(prop)s» читает `%(expression)s`)", key=exc.key, prop=exc.prop,
                             expression=exc.expression),
                           fields={f"payload.{exc.key}": _("нужно для корреляции «%(prop)s»", prop=exc.prop)})


def _ensure_may_send(actor, name: str, instance: ProcessInstance | None) -> None:
    reason = _send_refusal(actor, name, instance)
    if reason:
        raise Forbidden(reason)


def _send_refusal(actor, name: str, instance: ProcessInstance | None) -> str | None:
    """Named senders for the named messages; any other message to a process no order started may also come
    from its starter and from the roles that may start that process."""
    if name == "cancel" and instance is not None and instance.order is not None:
        return policy.refusal(actor, "orders.cancel", instance.order)
    reason = policy.refusal(actor, "messages.send", name)
    if reason is None or name in policy.MESSAGE_SENDERS or instance is None or instance.order_id is not None:
        return reason
    if not isinstance(actor, User) or not policy.role_allows(actor, "messages.send"):
        return reason
    if instance.started_by_id == actor.id or policy.can(actor, "processes.start", instance.definition.process_id):
        return None
    return reason


def _check_correlation(instance: ProcessInstance, name: str, correlation: dict) -> None:
    now = waiting(process.workflow_of(instance), name) if instance.status in RUNNING else None
    if now is not None and not _matches(now, correlation):
        raise Conflict(_("Процесс %(label)s ждёт сообщения «%(name)s» для %(mine)s, а не для %(theirs)s",
                         label=process.instance_label(instance), name=name,
                         mine=_pairs(now.correlations, now.properties), theirs=_pairs(correlation)),
                       message_name=name)


def _matches(now, correlation: dict) -> bool:
    return all(key in now.correlations and now.correlations[key] == value for key, value in correlation.items())


def _waiting_instances(name: str, payload: dict, actor, correlation: dict) -> list[ProcessInstance]:
    """The running instances that wait for `name` and would catch this payload (the correlation filter first).

    Only versions whose diagram catches the message are loaded, and of those only the instances still running.
    Orders' processes are not among them: an order is named by its number (a stray `cancel` must not find the one
    order that happens to wait for it).
    """
    versions = [version_id for version_id, checksum in db.session.execute(
        select(ProcessDefinition.id, ProcessDefinition.checksum)) if name in _caught(version_id, checksum)]
    candidates = db.session.execute(select(ProcessInstance).where(
        ProcessInstance.definition_id.in_(versions), ProcessInstance.status.in_(RUNNING),
        ProcessInstance.order_id.is_(None))
        .order_by(ProcessInstance.id)).scalars().all() if versions else []
    waiting_any, known, matched = False, set[str](), []
    for instance in candidates:
        workflow = process.workflow_of(instance)
        now = waiting(workflow, name)
        if now is None or _send_refusal(actor, name, instance):
            continue
        waiting_any = True
        known |= now.properties
        if not _matches(now, correlation):
            continue
        try:
            if catches(workflow, name, payload):
                matched.append(instance)
        except MissingPayloadKey as exc:
            raise _missing(exc) from None
    unknown = sorted(set(correlation) - known)
    if waiting_any and unknown:
        raise ValidationError(_("У сообщения «%(name)s» нет свойства корреляции «%(key)s» (есть: %(known)s)",
                                name=name, key=unknown[0], known=", ".join(sorted(known)) or "—"),
                              fields={f"correlation.{unknown[0]}": _("нет такого свойства корреляции")})
    if not matched:
        if waiting_any:
            raise NotFound(_("Ни один процесс не ждёт сообщения «%(name)s» с такими значениями корреляции "
                             "(%(theirs)s)", name=name, theirs=_pairs(correlation) if correlation else
                             _("из сообщения")), message_name=name)
        raise NotFound(_("Ни один процесс не ждёт сообщения «%(name)s»", name=name), message_name=name)
    if len(matched) > 1 and not correlation:
        raise Conflict(_("Сообщения «%(name)s» ждут несколько процессов (%(ids)s): укажите instance_id или "
                         "correlation", name=name, ids=", ".join(f"№{i.id}" for i in matched)),
                       message_name=name, instance_ids=[i.id for i in matched])
    return matched


def _caught(version_id: int, checksum: str) -> frozenset[str]:
    """The messages a version's diagram catches (cached: a version never changes)."""
    eng = engine()

    def load() -> frozenset[str]:
        return caught_messages(eng.specs(version_id, checksum,
                                         lambda: db.session.get_one(ProcessDefinition, version_id).spec_json))

    return eng.version_cached(version_id, checksum, "messages", load)


def _pairs(values: dict, only=None) -> str:
    shown = {k: v for k, v in values.items() if only is None or k in only}
    return ", ".join(f"{k}={v!r}" for k, v in sorted(shown.items())) or "—"


def _short(payload: dict) -> str:
    text = ", ".join(f"{k}={v}" for k, v in (payload or {}).items())
    return text[:500]
