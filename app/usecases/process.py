"""Moving a process one step: load → act → run → save, then project the tasks (and the order, if it has one).

The engine adapter (`app.engine`) knows workflows only; this module ties them to orders, tasks and people. An
instance is an order's lifecycle (`start_order_process`) or any other deployed process someone started
(`start_process`): everything below serves both. It stages, the caller's unit of work commits.
"""
from __future__ import annotations

from datetime import datetime
from typing import Callable, cast

from flask_babel import gettext as _
from sqlalchemy import Table, bindparam, inspect, select, update
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from app import clock
from app.engine import engine
from app.engine.views import StepView
from app.errors import Conflict
from app.extensions import db
from app.models import (
    AuditEvent,
    Order,
    OutboxJob,
    ProcessDefinition,
    ProcessInstance,
    User,
)
from app.services import audit, orders
from app.services.outbox import add_job
from app.usecases.projection import project_order, project_tasks
from app.usecases.uow import written_by_statement

ORDER_PROCESS = "order_lifecycle"  # the process an order starts (`start_order_process`); the others, `start_process`


def active_definition(process_id: str = ORDER_PROCESS) -> ProcessDefinition:
    """The version new instances of the process get (`app.usecases.deploy.activate` moves it)."""
    definition = db.session.execute(
        select(ProcessDefinition).where(ProcessDefinition.process_id == process_id)
        .order_by(ProcessDefinition.active.desc(), ProcessDefinition.version.desc()).limit(1)
    ).scalar_one_or_none()
    if definition is None:
        raise Conflict(f"Process '{process_id}' is not deployed; run `flask deploy`")
    return definition


def _specs(definition: ProcessDefinition) -> tuple:
    return engine().specs(definition.id, definition.checksum, lambda: definition.spec_json)


def definition_forms(definition: ProcessDefinition) -> dict:
    """The version's forms snapshot (cached: a version never changes)."""
    return engine().version_cached(definition.id, definition.checksum, "forms", lambda: definition.forms or {})


def start_order_process(order: Order, actor: User | None) -> ProcessInstance:
    """Start the active version of the lifecycle for a freshly staged order."""
    return start_process(active_definition(), orders.process_start_data(order), actor, order=order)


def start_process(definition: ProcessDefinition, data: dict, actor: User | None, *,
                  order: Order | None = None) -> ProcessInstance:
    """Start an instance of the version with its start data and run it to its first wait.

    Without an order it is a process of its own: `actor` is its starter (who gets the tasks no role works).
    """
    eng = engine()
    workflow = eng.new_workflow(_specs(definition), data)
    instance = ProcessInstance(order=order, definition=definition,
                               started_by=actor if isinstance(actor, User) else None)
    db.session.add(instance)
    view = eng.run(workflow)
    _save(instance, workflow, view, actor)
    route_signals(instance, view, actor)
    if order is None:
        audit.record(None, "process", actor, field="status", new="running", entity="instance",
                     entity_id=instance.id, instance_id=instance.id,
                     details={"process_id": definition.process_id, "version": definition.version})
    return instance


def instance_label(instance: ProcessInstance) -> str:
    """How people name an instance: its order's number, or the process's name and the instance's number."""
    if instance.order is not None:
        return _("заказ %(number)s", number=instance.order.number)
    return _("«%(name)s» №%(id)s", name=instance.definition.name or instance.definition.process_id, id=instance.id)


def _load(instance: ProcessInstance):
    return engine().load(_specs(instance.definition), instance.state)


def workflow_of(instance: ProcessInstance):
    """The instance's workflow, loaded to be looked at (`app.engine.inspect`) or acted on through `step`."""
    return _load(instance)


SUSPENDED = "suspended"


def suspension_reason(instance: ProcessInstance) -> str | None:
    """Why an admin suspended the instance (the reason given with its last suspension)."""
    whose = (AuditEvent.order_id == instance.order_id if instance.order_id is not None
             else AuditEvent.instance_id == instance.id)
    event = db.session.execute(select(AuditEvent).where(
        whose, AuditEvent.kind == "process", AuditEvent.field == "status",
        AuditEvent.new_value == SUSPENDED).order_by(AuditEvent.id.desc()).limit(1)).scalar_one_or_none()
    return (event.details or {}).get("reason") if event is not None else None


def ensure_moves(instance: ProcessInstance | None) -> None:
    """The one rule of suspension: a suspended instance does not move — no task, message, timer or result.

    Every step goes through here (`step`), and so do claiming and assigning its tasks (`app.usecases.tasks`).
    """
    if instance is None or instance.status != SUSPENDED:
        return
    reason = suspension_reason(instance)
    message = _("Процесс (%(label)s) приостановлен администратором", label=instance_label(instance))
    if reason:
        message += _(" (причина: %(reason)s)", reason=reason)
    raise Conflict(message + _(": задачи, сообщения и таймеры ждут, пока его возобновят"),
                   instance_status=SUSPENDED)


def _save(instance: ProcessInstance, workflow, view: StepView, actor, *, acted: str | None = None,
          recorded: dict | None = None) -> None:
    """Persist the state and rebuild the projections in the same unit of work (`project_tasks`: the task acted
    on, `acted`, records `recorded` on its row)."""
    eng = engine()
    if view.next_timer_at and view.next_timer_at != instance.next_timer_at:
        db.session.info["timer_at"] = min(view.next_timer_at, db.session.info.get("timer_at") or view.next_timer_at)
    _write_instance(instance, {
        "state": eng.dump(workflow),  # after describe(): the service calls are marked outboxed
        "next_timer_at": view.next_timer_at, "status": "completed" if view.finished else "running", "error": None,
        "finished_at": clock.now() if view.finished and instance.finished_at is None else instance.finished_at})
    db.session.info.setdefault("saved_states", {})[instance.id] = (_specs(instance.definition), instance.state)
    order = instance.order
    if order is not None:  # the order's side of the link, known without a query (that would read the state again)
        set_committed_value(order, "instance", instance)
    waiting, moved = project_tasks(instance, workflow, view, actor, acted, recorded,
                                  definition_forms(instance.definition))
    for bpmn_id, text in view.log:  # what the step's scripts printed: the instance's log (`runs.log`)
        audit.record(instance.order_id, "log", actor, field=bpmn_id[:80], new=text, entity="instance",
                     entity_id=instance.id, instance_id=instance.id)
    if order is not None:
        project_order(order, view, actor, workflow, waiting=waiting, moved=moved)
    elif view.finished:
        audit.record(None, "process", actor, field="status", old="running", new="completed", entity="instance",
                     entity_id=instance.id, instance_id=instance.id)
    for call in view.calls:
        # spiffworkflow:retry in the diagram overrides the operator's defaults (retries = attempts - 1).
        add_job(call.operator, call.params, order_id=instance.order_id, instance_id=instance.id, task_guid=call.guid,
                bpmn_id=call.bpmn_id, max_attempts=call.retries + 1 if call.retries is not None else None,
                backoff_base=call.backoff_base, flush=False)


_INSTANCES = cast(Table, ProcessInstance.__table__)
_SAVED = ("state", "next_timer_at", "status", "error", "finished_at")
# A step's write of its instance, built once and run at once: through the unit of work it was one more object for
# the commit's flush to sort and diff (4 % of a plain completion's Python calls). The version counter is checked as
# the flush checks it: another writer's step in between matches no row.
_WRITE_INSTANCE = (update(_INSTANCES)
                   .where(_INSTANCES.c.id == bindparam("b_id"), _INSTANCES.c.lock_version == bindparam("b_version"))
                   .values({name: bindparam(f"b_{name}", type_=_INSTANCES.c[name].type)
                            for name in (*_SAVED, "lock_version", "updated_at")}))


def _write_instance(instance: ProcessInstance, values: dict) -> None:
    """Write what a step changed of its instance: a new one (or one with other changes staged) with the unit of
    work, a stored one by one UPDATE now, its object then holding the values as the database does."""
    if instance.id is None or inspect(instance).modified:
        for name, value in values.items():
            setattr(instance, name, value)
        if instance.id is None:
            db.session.flush()
        return
    written = {**values, "lock_version": instance.lock_version + 1, "updated_at": clock.now()}
    result = db.session.connection().execute(_WRITE_INSTANCE, {
        "b_id": instance.id, "b_version": instance.lock_version, **{f"b_{k}": v for k, v in written.items()}})
    if result.rowcount != 1:
        raise StaleDataError(f"Process instance {instance.id} was changed by another step meanwhile")
    for name, value in written.items():
        set_committed_value(instance, name, value)
    written_by_statement(instance)


def step(instance: ProcessInstance, act: Callable, actor, *, acted: str | None = None, recorded: dict | None = None,
          refresh_timers: bool = False) -> StepView | None:
    """Load, act, run, save. An `act` that returns False changed nothing: nothing is saved. The row of the task
    `acted` on, closed by the step, records `recorded` with it (what a person's form submitted, who took it).

    A suspended instance is refused here, whatever asked (`ensure_moves`).
    """
    ensure_moves(instance)
    eng = engine()
    workflow = eng.load(_specs(instance.definition), instance.state, instance_id=instance.id)
    if act(workflow) is False:
        return None
    view = eng.run(workflow, refresh_timers=refresh_timers)
    _save(instance, workflow, view, actor, acted=acted, recorded=recorded)
    route_signals(instance, view, actor)
    return view


SIGNAL_HOPS = 5


def signal_waiters(name: str) -> list[ProcessInstance]:
    """Running instances of the versions that catch the signal somewhere (each then checked for waiting now)."""
    eng = engine()
    definitions = db.session.execute(select(ProcessDefinition).where(ProcessDefinition.id.in_(
        select(ProcessInstance.definition_id).where(ProcessInstance.status == "running")))).scalars()
    catching = [d.id for d in definitions if eng.catches_signal(_specs(d), name)]
    if not catching:
        return []
    return list(db.session.execute(select(ProcessInstance).where(
        ProcessInstance.definition_id.in_(catching), ProcessInstance.status == "running")
        .order_by(ProcessInstance.id)).scalars())


def route_signals(origin: ProcessInstance, view: StepView, actor) -> None:
    """A signal an instance threw and nothing in it caught reaches the other running instances waiting for it (BPMN
    broadcasts signals; Spiff leaves the way between instances to the platform), in the same unit of work."""
    if not view.signals:
        return
    hops = db.session.info.get("signal_hops", 0)
    if hops >= SIGNAL_HOPS:
        raise Conflict(_("Сигналы между процессами идут по кругу (больше %(hops)s переходов): проверьте диаграммы",
                         hops=SIGNAL_HOPS))
    db.session.info["signal_hops"] = hops + 1
    try:
        for name, payload in view.signals:
            for other in signal_waiters(name):
                if other.id != origin.id and step(
                        other, lambda wf, n=name, p=payload: engine().send_signal(wf, n, p or {}), actor) is not None:
                    audit.record(other.order_id, "signal", actor, field=name, entity="instance", entity_id=other.id,
                                 instance_id=other.id, details={"from_instance": origin.id})
    finally:
        db.session.info["signal_hops"] = hops


def cancel_instance(instance: ProcessInstance, actor) -> None:
    """Cancel the instance's workflow (suspended or not): its open tasks are cancelled, its jobs find nothing."""
    workflow = _load(instance)
    view = engine().cancel(workflow)
    _save(instance, workflow, view, actor)
    instance.status, instance.next_timer_at = "cancelled", None
    instance.finished_at = instance.finished_at or clock.now()


# -- service jobs and timers --------------------------------------------------------------------------

def complete_service_job(job: OutboxJob, result) -> bool:
    """Finish the job's service task; a second completion (or a cancelled task) is a no-op.

    While the instance is suspended the result stays on the job (done or skipped) and resuming applies it
    (`app.usecases.instances.resume`): the operator's work is not lost and not done twice.
    """
    instance = db.session.get(ProcessInstance, job.instance_id)
    if instance is None or job.task_guid is None or instance.status == SUSPENDED:
        return False
    eng = engine()
    guid = job.task_guid
    return step(instance, lambda wf: eng.complete_service_task(wf, guid, result),
                 f"job:{job.operator}") is not None


def reject_service_job(job: OutboxJob, message: str) -> dict | None:
    """Send the order back to the person whose data the job's operator refused.

    The diagram's input-error boundary event on the job's service task decides where to; the payload
    it carried, or None when nothing catches the error (the caller then opens an incident).
    """
    instance = db.session.get(ProcessInstance, job.instance_id) if job.instance_id else None
    if instance is None or not job.task_guid:
        return None
    eng = engine()
    caught: dict = {}

    def act(workflow):
        payload = eng.reject_service_task(workflow, job.task_guid, message)
        if payload is None:
            return False
        caught.update(payload)

    step(instance, act, f"job:{job.operator}")
    return caught or None


def record_error(instance_id: int, message: str, actor) -> None:
    """A step no person waits on failed (a timer's wake-up, a service job's result) and rolled back: the instance
    shows it — status "error" and the failed element with its message — and its timers stop until an admin retries
    it; the next step that runs puts it back to "running". Call it in a fresh unit of work."""
    instance = db.session.get_one(ProcessInstance, instance_id)
    if instance.status in ("completed", "cancelled"):
        return
    old = instance.status
    instance.status, instance.error, instance.next_timer_at = "error", message[:2000], None
    audit.record(instance.order_id, "process", actor, field="status", old=old, new="error", entity="instance",
                 entity_id=instance.id, instance_id=instance.id, details={"error": message[:500]})


def due_instances(now: datetime | None = None, limit: int = 200) -> list[tuple[int, datetime]]:
    """(instance id, due time) of instances whose earliest timer is due — an indexed range scan."""
    now = now or clock.now()
    return [(instance_id, due) for instance_id, due in db.session.execute(
        select(ProcessInstance.id, ProcessInstance.next_timer_at).where(
            ProcessInstance.next_timer_at.is_not(None), ProcessInstance.next_timer_at <= now)
        .order_by(ProcessInstance.next_timer_at).limit(limit)) if due is not None]


def instance_to_step(instance_id: int) -> ProcessInstance | None:
    """The instance with its order, in one query (a step saves both)."""
    return db.session.get(ProcessInstance, instance_id, options=(joinedload(ProcessInstance.order),))


def wake_instance(instance_id: int, now: datetime | None = None) -> bool:
    """Fire the due timers of one instance and run it on; False when nothing was due any more."""
    now = now or clock.now()
    instance = instance_to_step(instance_id)
    if instance is None or instance.next_timer_at is None or instance.next_timer_at > now:
        return False
    step(instance, lambda wf: None, "timer", refresh_timers=True)
    return True
