"""Human tasks: complete one with its form, claim, release or assign it; each one unit of work."""
from __future__ import annotations

from flask_babel import gettext
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload, lazyload

from app import policy
from app.engine import engine
from app.errors import Conflict, NotFound, ValidationError
from app.extensions import db
from app.forms_ui import set_path
from app.models import HumanTask, Order, User
from app.services import audit, orders, visits
from app.services.attachments import allowed_for, save_upload
from app.services.forms import validate_form
from app.usecases import process
from app.usecases.uow import savepoint, unit_of_work

# What acting on a task reads first: its order (whose it is, what the step writes) and its instance with its version.
# The order's customer and partner, and the assignee (a name in a refusal), load only if something asks for them.
TASK_TO_ACT_ON = (joinedload(HumanTask.order).options(lazyload(Order.customer), lazyload(Order.partner)),
                  joinedload(HumanTask.instance), lazyload(HumanTask.assignee))


_TASK = select(HumanTask).where(HumanTask.id == bindparam("task_id")).options(*TASK_TO_ACT_ON)
_TASK_HELD = _TASK.with_for_update(of=HumanTask).execution_options(populate_existing=True)


def get_task(task_id: int, *, hold: bool = False) -> HumanTask:
    """The task with its order and instance (what acting on it checks first), in one query (a statement built
    once: its options cost more to build and key for the cache than the query to run). `hold`: its row locked for
    the unit of work and read as stored now, for who takes it (claim, release, assign: on PostgreSQL a second
    person's claim waits for the first's and then sees it taken; a completion is checked by the process's
    version instead)."""
    task = db.session.execute(_TASK_HELD if hold else _TASK, {"task_id": task_id}).scalar_one_or_none()
    if task is None:
        raise NotFound(f"Task {task_id} does not exist")
    return task


def ensure_can_act(task: HumanTask, user: User) -> None:
    policy.ensure(user, "tasks.complete", task.order, task)


def _ensure_open(task: HumanTask) -> None:
    if task.state != "open":
        who = f" by {task.completed_by.login}" if task.completed_by else ""
        raise Conflict(f"Task '{task.name}' ({process.instance_label(task.instance)}) is no longer open: "
                       f"{task.state}{who}", state=task.state)
    process.ensure_moves(task.instance)  # nobody takes or does a task of a suspended process


@unit_of_work()
def complete_task(task_id: int, data: dict, actor: User) -> HumanTask:
    """Validate and submit a user task's form; the process moves on in the same unit of work."""
    task = get_task(task_id)
    _ensure_open(task)
    ensure_can_act(task, actor)
    instance = task.instance
    schema = process.definition_forms(instance.definition).get(task.form_schema or "", {})
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

    # What was submitted (the task's record and later context) and who did it, if nobody had taken it: written with
    # the row's closing by the step.
    recorded: dict[str, object] = {"data": {**(task.data or {}), **clean}}
    if task.assignee_id is None:
        recorded["assignee_id"] = actor.id
    process.step(instance, act, actor, acted=task.task_guid, recorded=recorded)
    if task.order is not None:
        orders.apply_process_data(task.order, clean, actor)
        visits.task_done(task)
    return task


@unit_of_work()
def claim_task(task_id: int, actor: User) -> HumanTask:
    task = get_task(task_id, hold=True)
    _ensure_open(task)
    ensure_can_act(task, actor)
    if task.assignee_id != actor.id:
        task.assignee = actor
        audit.record(task.order_id, "task", actor, field="assignee", old=None, new=actor.login,
                     entity="task", entity_id=task.id, instance_id=task.instance_id)
        visits.follow_assignee(task, actor)
    return task


@unit_of_work()
def unclaim_task(task_id: int, actor: User) -> HumanTask:
    task = get_task(task_id, hold=True)
    _ensure_open(task)
    policy.ensure(actor, "tasks.unclaim", task.order, task)
    if task.assignee_id is not None:
        audit.record(task.order_id, "task", actor, field="assignee", old=task.assignee.login, new=None,
                     entity="task", entity_id=task.id, instance_id=task.instance_id)
        task.assignee = None
    return task


@unit_of_work()
def assign_task(task_id: int, login: str, actor: User) -> HumanTask:
    task = get_task(task_id, hold=True)
    _ensure_open(task)
    policy.ensure(actor, "tasks.assign", task.order, task)
    user = db.session.execute(select(User).where(User.login == login)).scalar_one_or_none()
    if user is None or not user.active:
        raise ValidationError(f"No active user '{login}'", fields={"user": "unknown user"})
    if task.lane and task.lane not in user.role_codes:
        raise ValidationError(f"{login} does not work the '{task.lane}' lane", fields={"user": "wrong role"})
    named = policy.candidates(task)
    if named and user.id not in named:  # the process named who works it: anyone else could not complete it
        raise ValidationError(f"{login} is not among the people the process named for this task",
                              fields={"user": "not named by the process"})
    old = task.assignee.login if task.assignee else None
    task.assignee = user
    audit.record(task.order_id, "task", actor, field="assignee", old=old, new=user.login,
                 entity="task", entity_id=task.id, instance_id=task.instance_id)
    visits.follow_assignee(task, actor)
    return task


def complete_task_with_files(task_id: int, data: dict, uploads: list, actor: User) -> dict[str, str]:
    """Save a form's files and complete the task with its data, as one unit of work; {} on success.

    A refused form (a message per field is returned) keeps only the files, so the page shows them again; any
    other failure (the task was completed meanwhile, a broken step) leaves nothing behind, files included.
    """
    with unit_of_work():
        task = get_task(task_id)
        errors: dict[str, str] = {}
        for upload in uploads:
            try:
                attachment = save_upload(task.order, upload.file, actor, field=upload.path,
                                         allowed=allowed_for(upload.accept))
            except ValidationError as exc:
                errors.update({k: v for k, v in exc.fields.items() if k not in errors})
                continue
            db.session.flush()
            set_path(data, upload.path, str(attachment.id))
        try:
            with savepoint():
                if errors:  # show the form's own errors alongside the files'
                    schema = process.definition_forms(task.instance.definition).get(task.form_schema or "", {})
                    validate_form(schema, data, order=task.order)
                    raise ValidationError(gettext("Проверьте заполнение формы"), fields=errors)
                complete_task(task.id, data, actor)
        except ValidationError as exc:
            merged = {**exc.fields, **errors}
            if "_task" not in merged and "_form" not in merged and not merged:
                merged["_form"] = exc.message
            return merged
    return {}
