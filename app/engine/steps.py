"""Domain functions that move a process: each stages one step (load → run → save → project)."""
from __future__ import annotations

from datetime import datetime
from typing import Callable

from flask import current_app
from sqlalchemy import select, update

from app import clock, policy
from app.engine.runtime import INPUT_ERROR_VARIABLE, ProcessEngine, StepView, TaskView
from app.errors import Conflict, NotFound, ValidationError
from app.extensions import db
from app.models import (
    Escalation,
    HumanTask,
    Order,
    OrderStatus,
    OutboxJob,
    ProcessDefinition,
    ProcessInstance,
    User,
)
from app.services import audit, orders
from app.services.forms import validate_form
from app.services.outbox import add_job


def engine() -> ProcessEngine:
    return current_app.extensions["bespoke.engine"]


def newest_definition(process_id: str = "order_lifecycle") -> ProcessDefinition:
    definition = db.session.execute(
        select(ProcessDefinition).where(ProcessDefinition.process_id == process_id)
        .order_by(ProcessDefinition.version.desc()).limit(1)
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
    """Start the newest version of the lifecycle for a freshly staged order."""
    definition = newest_definition()
    eng = engine()
    workflow = eng.new_workflow(_specs(definition), orders.process_start_data(order))
    instance = ProcessInstance(order=order, definition=definition)
    db.session.add(instance)
    view = eng.run(workflow)
    _save(instance, workflow, view, actor)
    return instance


def _load(instance: ProcessInstance):
    return engine().load(_specs(instance.definition), instance.state)


def _save(instance: ProcessInstance, workflow, view: StepView, actor, *, acted: str | None = None) -> None:
    """Persist the state and rebuild the projections in the same unit of work."""
    eng = engine()
    instance.state = eng.dump(workflow)  # after describe(): the service calls are marked outboxed
    if view.next_timer_at and view.next_timer_at != instance.next_timer_at:
        db.session.info["timer_at"] = min(view.next_timer_at, db.session.info.get("timer_at") or view.next_timer_at)
    instance.next_timer_at = view.next_timer_at
    instance.status = "completed" if view.finished else "running"
    instance.error = None
    if instance.id is None:
        db.session.flush()
    order = instance.order
    _project_tasks(instance, workflow, view, actor, acted)
    _project_order(order, view, actor)
    for call in view.calls:
        # spiffworkflow:retry in the diagram overrides the operator's defaults (retries = attempts - 1).
        add_job(call.operator, call.params, order_id=order.id, instance_id=instance.id, task_guid=call.guid,
                bpmn_id=call.bpmn_id, max_attempts=call.retries + 1 if call.retries is not None else None,
                backoff_base=call.backoff_base)


def _project_tasks(instance: ProcessInstance, workflow, view: StepView, actor, acted: str | None) -> None:
    now = clock.now()
    open_rows = {t.task_guid: t for t in db.session.execute(
        select(HumanTask).where(HumanTask.instance_id == instance.id, HumanTask.state == "open")).scalars()}
    ready = {t.guid: t for t in view.ready}
    closed: list[int] = []
    for guid, row in open_rows.items():
        if guid in ready:
            continue
        spiff_task = engine().user_task(workflow, guid)
        done = spiff_task is not None and engine().state_of(spiff_task) == "COMPLETED"
        row.state = "completed" if done else "cancelled"
        row.completed_at = now
        closed.append(row.id)
        if guid == acted and isinstance(actor, User):
            row.completed_by_id = actor.id
        audit.record(instance.order_id, "task", actor, field="state", old="open", new=row.state,
                     entity="task", entity_id=row.id, details={"bpmn_id": row.bpmn_id, "name": row.name})
    if closed:  # a task that is done no longer needs anyone chasing it
        db.session.execute(update(Escalation).where(Escalation.human_task_id.in_(closed),
                                                    Escalation.cleared_at.is_(None)).values(cleared_at=now))
    forms = definition_forms(instance.definition)
    for guid, view_task in ready.items():
        if guid in open_rows:
            continue
        row = HumanTask(task_guid=guid, instance_id=instance.id, order_id=instance.order_id,
                        bpmn_id=view_task.bpmn_id, name=view_task.name, stage=view_task.stage,
                        lane=view_task.lane, form_schema=view_task.form, form_ui_schema=view_task.ui_form,
                        assignee_id=_user_id(view_task.assignee), due_at=view_task.due_at,
                        data=_form_data(view_task, forms), created_at=now)
        db.session.add(row)


def _user_id(login: str | None) -> int | None:
    if not login:
        return None
    return db.session.execute(select(User.id).where(User.login == login)).scalar_one_or_none()


def _form_data(task: TaskView, forms: dict) -> dict:
    schema = forms.get(task.form or "", {})
    fields = (schema.get("properties") or {}).keys()
    data = {k: task.data[k] for k in fields if k in task.data}
    if task.input_error:
        data[INPUT_ERROR_VARIABLE] = task.input_error  # shown on the task page and in the API's task data
    return data


def _project_order(order: Order, view: StepView, actor) -> None:
    stage, status = order.stage, order.status
    for milestone in view.milestones:
        stage = milestone.get("stage") or stage
        status = milestone.get("status") or status
    if view.ready:
        stage = view.ready[0].stage
    if stage != order.stage:
        audit.record(order.id, "stage", actor, field="stage", old=order.stage or None, new=stage)
        order.stage = stage
    if status != order.status:
        audit.record(order.id, "status", actor, field="status", old=order.status, new=status)
        order.status = status
        if status == OrderStatus.COMPLETED:
            order.completed_at = clock.now()


def _step(instance: ProcessInstance, act: Callable, actor, *, acted: str | None = None,
          refresh_timers: bool = False) -> StepView | None:
    """Load, act, run, save. An `act` that returns False changed nothing: nothing is saved."""
    eng = engine()
    workflow = _load(instance)
    if act(workflow) is False:
        return None
    view = eng.run(workflow, refresh_timers=refresh_timers)
    _save(instance, workflow, view, actor, acted=acted)
    return view


# -- human tasks ------------------------------------------------------------------------------------

def get_task(task_id: int) -> HumanTask:
    task = db.session.get(HumanTask, task_id)
    if task is None:
        raise NotFound(f"Task {task_id} does not exist")
    return task


def ensure_can_act(task: HumanTask, user: User) -> None:
    policy.ensure(user, "tasks.complete", task.order, task)


def _ensure_open(task: HumanTask) -> None:
    if task.state != "open":
        who = f" by {task.completed_by.login}" if task.completed_by else ""
        raise Conflict(f"Task '{task.name}' of order {task.order.number} is no longer open: "
                       f"{task.state}{who}", state=task.state)


def complete_task(task_id: int, data: dict, actor: User) -> HumanTask:
    """Validate and submit a user task's form; the process moves on in the same unit of work."""
    task = get_task(task_id)
    _ensure_open(task)
    ensure_can_act(task, actor)
    instance = task.order.instance
    schema = definition_forms(instance.definition).get(task.form_schema or "", {})
    clean = validate_form(schema, data, order=task.order)
    eng = engine()

    def act(workflow):
        spiff_task = eng.user_task(workflow, task.task_guid)
        if spiff_task is None or eng.state_of(spiff_task) != "READY":
            raise Conflict(f"Task '{task.name}' is no longer waiting for input")
        problem = eng.task_check(spiff_task, clean)
        if problem:
            raise ValidationError(problem, fields={"_task": problem})
        eng.complete_user_task(spiff_task, clean)

    if task.assignee_id is None:
        task.assignee = actor
    _step(instance, act, actor, acted=task.task_guid)
    task.data = {**(task.data or {}), **clean}  # what was submitted: the task's record and later context
    orders.apply_process_data(task.order, clean, actor)
    return task


def claim_task(task_id: int, actor: User) -> HumanTask:
    task = get_task(task_id)
    _ensure_open(task)
    ensure_can_act(task, actor)
    if task.assignee_id != actor.id:
        task.assignee = actor
        audit.record(task.order_id, "task", actor, field="assignee", old=None, new=actor.login,
                     entity="task", entity_id=task.id)
    return task


def unclaim_task(task_id: int, actor: User) -> HumanTask:
    task = get_task(task_id)
    _ensure_open(task)
    policy.ensure(actor, "tasks.unclaim", task.order, task)
    if task.assignee_id is not None:
        audit.record(task.order_id, "task", actor, field="assignee", old=task.assignee.login, new=None,
                     entity="task", entity_id=task.id)
        task.assignee = None
    return task


def assign_task(task_id: int, login: str, actor: User) -> HumanTask:
    task = get_task(task_id)
    _ensure_open(task)
    policy.ensure(actor, "tasks.assign", task.order, task)
    user = db.session.execute(select(User).where(User.login == login)).scalar_one_or_none()
    if user is None or not user.active:
        raise ValidationError(f"No active user '{login}'", fields={"user": "unknown user"})
    if task.lane not in user.role_codes:
        raise ValidationError(f"{login} does not work the '{task.lane}' lane", fields={"user": "wrong role"})
    old = task.assignee.login if task.assignee else None
    task.assignee = user
    audit.record(task.order_id, "task", actor, field="assignee", old=old, new=user.login,
                 entity="task", entity_id=task.id)
    return task


# -- messages, service jobs, timers ------------------------------------------------------------------

def deliver_message(order: Order, name: str, payload: dict, actor, *, source: str = "api") -> StepView:
    """Deliver a named message to the order's process, or refuse clearly when it is not waiting for it."""
    if name == "cancel" and isinstance(actor, User):  # POST /api/v1/messages/cancel too: the one cancel rule
        policy.ensure(actor, "orders.cancel", order)
    instance = order.instance
    if instance is None or instance.status != "running":
        raise Conflict(f"Order {order.number} has no running process", stage=order.stage)
    eng = engine()

    def act(workflow):
        if not eng.send_message(workflow, name, payload):
            raise Conflict(f"Order {order.number} is at stage '{order.stage}', where message '{name}' "
                           f"is not accepted", stage=order.stage, message_name=name)

    view = _step(instance, act, actor)
    assert view is not None  # act never declines: it raises Conflict
    audit.record(order.id, "message", actor, field=name, new=_short(payload))
    orders.apply_process_data(order, view.message_data, actor, source=source)
    return view


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
        raise Conflict(f"Заказ {order.number} на этапе «{order.stage}»: отмена невозможна (отменить можно новый "
                       f"заказ, на замере, на подготовке договора или в ожидании решения банка)",
                       stage=order.stage) from exc


def _short(payload: dict) -> str:
    text = ", ".join(f"{k}={v}" for k, v in (payload or {}).items())
    return text[:500]


def complete_service_job(job: OutboxJob, result) -> bool:
    """Finish the job's service task; a second completion (or a cancelled task) is a no-op."""
    instance = db.session.get(ProcessInstance, job.instance_id)
    if instance is None or job.task_guid is None:
        return False
    eng = engine()
    guid = job.task_guid
    return _step(instance, lambda wf: eng.complete_service_task(wf, guid, result),
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

    _step(instance, act, f"job:{job.operator}")
    return caught or None


def due_instances(now: datetime | None = None, limit: int = 200) -> list[tuple[int, datetime]]:
    """(instance id, due time) of instances whose earliest timer is due — an indexed range scan."""
    now = now or clock.now()
    return [(instance_id, due) for instance_id, due in db.session.execute(
        select(ProcessInstance.id, ProcessInstance.next_timer_at).where(
            ProcessInstance.next_timer_at.is_not(None), ProcessInstance.next_timer_at <= now)
        .order_by(ProcessInstance.next_timer_at).limit(limit)) if due is not None]


def wake_instance(instance_id: int, now: datetime | None = None) -> bool:
    """Fire the due timers of one instance and run it on; False when nothing was due any more."""
    now = now or clock.now()
    instance = db.session.get(ProcessInstance, instance_id)
    if instance is None or instance.next_timer_at is None or instance.next_timer_at > now:
        return False
    _step(instance, lambda wf: None, "timer", refresh_timers=True)
    return True
