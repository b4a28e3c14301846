"""A process as analysts, admins and the director see it on its diagram, and an admin's hand on it — an order's
lifecycle (given by its order) or any other instance.

`instance_view` reads: the element states of the running workflow (`app.engine.inspect`) with the order's failed
jobs laid over them, its open tasks, waiting timers and messages, jobs and recent history. The actions — retry or
skip a failed step, send a message, suspend, resume — each take a reason and are recorded in the order's history
with who did it. While an instance is suspended nothing moves it (`app.usecases.process.ensure_moves`); the
results of jobs that finish meanwhile stay on their jobs and `resume` applies them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select

from app.engine import engine
from app.engine.inspect import Picture, picture
from app.errors import Conflict, NotFound, ValidationError
from app.extensions import db
from app.models import AuditEvent, HumanTask, Order, OutboxJob, ProcessInstance, User
from app.services import audit
from app.usecases import process
from app.usecases.incidents import retry_incident, skip_incident
from app.usecases.messages import deliver_message, deliver_to_instance
from app.usecases.uow import unit_of_work

REASON_MAX = 500
FAILED_JOBS = ("incident",)
FAILED_ELEMENT = re.compile(r"\(([A-Za-z_][\w.-]*)\): ")  # how app.engine.runtime names the element that failed


@dataclass
class InstanceView:
    order: Order
    instance: ProcessInstance
    picture: Picture
    open_tasks: list[HumanTask]
    jobs: list[OutboxJob]
    history: list[AuditEvent]
    suspended_reason: str | None

    @property
    def incidents(self) -> list[OutboxJob]:
        return [job for job in self.jobs if job.status in FAILED_JOBS]


def _instance(target: Order | ProcessInstance) -> ProcessInstance:
    """The instance an admin acts on: itself, or an order's lifecycle."""
    if isinstance(target, ProcessInstance):
        return target
    if target.instance is None:
        raise NotFound(_("У заказа %(number)s нет процесса", number=target.number))
    return target.instance


def instance_view(order: Order, history: int = 30) -> InstanceView:
    """What the instance page shows: the diagram's states with failed steps marked, and the instance around it."""
    instance = _instance(order)
    shown = picture(process.workflow_of(instance))
    jobs = list(db.session.execute(select(OutboxJob).where(OutboxJob.order_id == order.id)
                                   .order_by(OutboxJob.id.desc()).limit(100)).scalars())
    for job in jobs:  # a service task whose job gave up is the failed step, whatever the engine thinks of it
        if job.status in FAILED_JOBS and job.bpmn_id:
            shown.elements[job.bpmn_id] = "error"
    if instance.error:  # a step the scheduler could not run names its element: "Name (bpmn_id): …"
        for bpmn_id in FAILED_ELEMENT.findall(instance.error):
            shown.elements[bpmn_id] = "error"
    tasks = list(db.session.execute(select(HumanTask).where(HumanTask.order_id == order.id,
                                                            HumanTask.state == "open").order_by(HumanTask.id)
                                    ).scalars())
    events = list(db.session.execute(select(AuditEvent).where(AuditEvent.order_id == order.id)
                                     .order_by(AuditEvent.id.desc()).limit(history)).scalars())
    reason = process.suspension_reason(instance) if instance.status == process.SUSPENDED else None
    return InstanceView(order, instance, shown, tasks, jobs, events, reason)


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise ValidationError(_("Укажите причину"), fields={"reason": _("Укажите причину")})
    if len(text) > REASON_MAX:
        message = _("Причина — не длиннее %(n)d символов", n=REASON_MAX)
        raise ValidationError(message, fields={"reason": message})
    return text


def _instance_job(instance: ProcessInstance, job_id: int | None) -> OutboxJob:
    job = db.session.get(OutboxJob, job_id) if job_id else None
    if job is None or job.instance_id != instance.id:
        message = _("Выберите задание этого процесса")
        raise ValidationError(message, fields={"job": message})
    return job


def _record(instance: ProcessInstance, actor: User, **kwargs) -> None:
    """An admin's action in the history of the instance (and of its order, if it has one)."""
    audit.record(instance.order_id, kwargs.pop("kind", "process"), actor, instance_id=instance.id, **kwargs)


@unit_of_work()
def suspend(target: Order | ProcessInstance, actor: User, reason: str) -> ProcessInstance:
    """Stop the instance where it stands: its tasks, messages, timers and job results wait for `resume`."""
    reason = _reason(reason)
    instance = _instance(target)
    if instance.status != "running":
        raise Conflict(_("Приостановить можно только выполняющийся процесс (сейчас: %(status)s)",
                         status=instance.status), instance_status=instance.status)
    instance.status = process.SUSPENDED
    instance.next_timer_at = None  # the scheduler's due_instances no longer sees it; resume puts it back
    _record(instance, actor, field="status", old="running", new=process.SUSPENDED, details={"reason": reason})
    return instance


@unit_of_work()
def resume(target: Order | ProcessInstance, actor: User, reason: str) -> ProcessInstance:
    """Running again: timers that fell due meanwhile fire on the scheduler's next pass; held job results apply now."""
    reason = _reason(reason)
    instance = _instance(target)
    if instance.status != process.SUSPENDED:
        raise Conflict(_("Процесс (%(label)s) не приостановлен", label=process.instance_label(instance)),
                       instance_status=instance.status)
    instance.status = "running"
    _record(instance, actor, field="status", old=process.SUSPENDED, new="running", details={"reason": reason})
    held = list(db.session.execute(select(OutboxJob).where(
        OutboxJob.instance_id == instance.id, OutboxJob.task_guid.is_not(None),
        OutboxJob.status.in_(("done", "skipped"))).order_by(OutboxJob.id)).scalars())
    eng = engine()

    def apply_results(workflow):
        applied = [job for job in held if eng.complete_service_task(workflow, job.task_guid, job.result)]
        if not applied:
            return False
        for job in applied:
            _record(instance, actor, kind="job", field=job.operator, old=None, new="done", entity="job",
                    entity_id=job.id, details={"reason": _("результат применён при возобновлении")})

    if process.step(instance, apply_results, actor) is None:  # nothing held: only the timers come back
        instance.next_timer_at = eng.describe(process.workflow_of(instance)).next_timer_at
        if instance.next_timer_at is not None:
            db.session.info["timer_at"] = instance.next_timer_at
    return instance


@unit_of_work()
def retry(target: Order | ProcessInstance, actor: User, reason: str, job_id: int | None = None) -> ProcessInstance:
    """Run a failed step again: the instance's job out of attempts, or the step that left the instance in error."""
    reason = _reason(reason)
    instance = _instance(target)
    if job_id:
        retry_incident(_instance_job(instance, job_id).id, actor, reason=reason)
        return instance
    if not instance.error:
        raise Conflict(_("У процесса (%(label)s) нет ошибки: повторять нечего", label=process.instance_label(instance)))
    failed = instance.error
    process.step(instance, lambda workflow: None, actor, refresh_timers=True)  # raises again if it still fails
    _record(instance, actor, field="retry", old=failed[:500], new="running", details={"reason": reason})
    return instance


@unit_of_work()
def skip(target: Order | ProcessInstance, actor: User, reason: str, job_id: int | None,
         result: dict | None) -> OutboxJob:
    """Finish the failed service task by hand with `result` (or none) and let the process go on."""
    reason = _reason(reason)
    job = _instance_job(_instance(target), job_id)
    return skip_incident(job.id, actor, result, reason)


@unit_of_work()
def send_message(target: Order | ProcessInstance, actor: User, name: str, payload: dict, reason: str) -> None:
    """Deliver one of the messages the diagram waits for right now, as an admin, with the reason in the history."""
    reason = _reason(reason)
    if not (name or "").strip():
        message = _("Выберите сообщение")
        raise ValidationError(message, fields={"message": message})
    instance = _instance(target)
    if instance.order is not None:
        deliver_message(instance.order, name.strip(), payload, actor, source="manual", reason=reason)
    else:
        deliver_to_instance(instance, name.strip(), payload, actor)
        _record(instance, actor, kind="message", field=name.strip(), details={"reason": reason})
