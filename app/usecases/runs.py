"""Processes no order started: start one with its data, look at it, cancel it; each one unit of work.

The order lifecycle starts with its order (`app.usecases.orders`); any other deployed process is started here by
a person whose role its settings allow (`policy` "processes.start"), and its tasks are worked from the same inbox.
"""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select

from app import policy
from app.engine import engine
from app.errors import Conflict, NotFound, ValidationError
from app.extensions import db
from app.models import AuditEvent, HumanTask, ProcessDefinition, ProcessInstance, User
from app.services import audit
from app.services.forms import validate_form
from app.usecases import process
from app.usecases.uow import unit_of_work

STATUSES = ("running", "completed", "error", "cancelled", "suspended")


def startable_definition(process_id: str) -> ProcessDefinition:
    """The version new instances of `process_id` get; NotFound when it was never deployed, Conflict for the
    order lifecycle (an order starts it)."""
    if process_id == process.ORDER_PROCESS:
        raise Conflict(_("Процесс заказа запускается созданием заказа"), process_id=process_id)
    try:
        return process.active_definition(process_id)
    except Conflict:
        raise NotFound(f"Process '{process_id}' is not deployed") from None


def start_form(definition: ProcessDefinition) -> tuple[str | None, dict]:
    """(form file name, JSON schema) of the diagram's start-event form (`formJsonSchemaFilename` on the start
    event), or (None, {}) when the process starts without one."""
    spec, _subs = engine().specs(definition.id, definition.checksum, lambda: definition.spec_json)
    name = engine().start_form(spec)
    forms = process.definition_forms(definition)
    return (name, forms.get(name, {})) if name else (None, {})


@unit_of_work()
def start(process_id: str, data: dict, actor: User) -> ProcessInstance:
    """Start the active version of a process with start data; the start form (if any) validates it."""
    policy.ensure(actor, "processes.start", process_id)
    definition = startable_definition(process_id)
    if not isinstance(data, dict):
        raise ValidationError("data must be an object", fields={"data": "an object"})
    form_name, schema = start_form(definition)
    if form_name:
        data = {**data, **validate_form(schema, data)}
    return process.start_process(definition, data, actor)


def get_instance(instance_id: int, user: User) -> ProcessInstance:
    instance = db.session.get(ProcessInstance, instance_id)
    reason = policy.refusal(user, "instances.read", instance) if instance is not None else None
    if instance is None or reason:
        raise NotFound(reason or f"Process instance {instance_id} does not exist")
    return instance


def instance_data(instance: ProcessInstance) -> dict:
    """The instance's data as the process holds it now (at its end: what it finished with)."""
    return engine().workflow_data(process.workflow_of(instance))


def open_tasks(instance: ProcessInstance) -> list[HumanTask]:
    return list(db.session.execute(select(HumanTask).where(HumanTask.instance_id == instance.id,
                                                           HumanTask.state == "open")
                                   .order_by(HumanTask.id)).scalars())


def log(instance: ProcessInstance, limit: int = 1000) -> list[AuditEvent]:
    """What the instance's scripts printed (`print`), newest last: the last `limit` lines."""
    rows = db.session.execute(select(AuditEvent).where(AuditEvent.instance_id == instance.id,
                                                       AuditEvent.kind == "log")
                              .order_by(AuditEvent.id.desc()).limit(limit)).scalars().all()
    return list(reversed(rows))


@unit_of_work()
def cancel(instance_id: int, actor: User, reason: str) -> ProcessInstance:
    """Cancel a running (or suspended) process no order started; its open tasks are cancelled with it."""
    instance = get_instance(instance_id, actor)
    policy.ensure(actor, "instances.admin")
    if instance.order_id is not None:
        raise Conflict(_("Процесс заказа отменяют отменой заказа"), order_number=instance.order.number)
    if instance.status in ("completed", "cancelled"):
        raise Conflict(_("Процесс №%(id)s уже завершён: %(status)s", id=instance.id, status=instance.status),
                       status=instance.status)
    process.cancel_instance(instance, actor)
    audit.record(None, "process", actor, field="status", new="cancelled", entity="instance",
                 entity_id=instance.id, instance_id=instance.id, details={"reason": reason} if reason else None)
    return instance
