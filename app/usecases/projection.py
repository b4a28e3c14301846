"""What a step of a process leaves for people to see: its task rows (the inbox, the task pages) and its order's
stage and status. Stages only: the step's caller (`app.usecases.process`) owns the unit of work."""
from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from flask_babel import gettext as _
from sqlalchemy import Table, Update, bindparam, insert, inspect, select, update
from sqlalchemy.orm import lazyload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from app import clock
from app.engine import engine
from app.engine.views import INPUT_ERROR_VARIABLE, StepView, TaskView
from app.extensions import db, plain
from app.models import (
    LANE_ROLES,
    Escalation,
    HumanTask,
    NewTask,
    Order,
    OrderStatus,
    ProcessInstance,
    ProcessSettings,
    User,
)
from app.services import audit, daily_stats, lane_owners, prediction, rating_stats, task_text, visits
from app.usecases.uow import written_by_statement


def project_tasks(instance: ProcessInstance, workflow, view: StepView, actor, acted: str | None, recorded: dict | None,
                  forms: dict) -> tuple[list[tuple[str, datetime | None]], bool]:
    """Close the task rows the step finished or cancelled, open one for each task that now waits for a person:
    its role from the lane (`task_role`), its assignee, its candidates (lane owners), its filled documentation.

    The row of the task the step `acted` on also records `recorded` (what its form submitted, who took it).
    Returns (bpmn_id, due_at) of the instance's open tasks after the step, oldest first (the prediction's input),
    and whether any task row closed or opened.
    """
    now = clock.now()
    # The open rows as this unit of work left them, read without an autoflush: a step writes its task rows by
    # statements of its own (the rows it opens are stored at once), and whatever else of the unit of work is staged
    # waits for the commit's flush, in one go.
    with db.session.no_autoflush:
        stored = _held_or_read(plain(_OPEN_ROW_IDS, {"instance_id": instance.id}).scalars().all())
        open_rows = {t.task_guid: t for t in stored if t.state == "open"}
        return _project_tasks(instance, workflow, view, actor, acted, recorded, forms, open_rows, now)


_OPEN_ROW_IDS = (select(HumanTask.id)
                 .where(HumanTask.instance_id == bindparam("instance_id"), HumanTask.state == "open")
                 .order_by(HumanTask.id))


def _held_or_read(ids: list[int]) -> list[HumanTask]:
    """The task rows of these ids: those the unit of work holds as it holds them (a completion holds the one it
    acts on: no query), the others read in one."""
    held = {task_id: db.session.identity_map.get(identity_key(HumanTask, task_id)) for task_id in ids}
    missing = [task_id for task_id, row in held.items() if row is None]
    if missing:
        held.update((row.id, row) for row in db.session.execute(
            select(HumanTask).where(HumanTask.id.in_(missing)).options(lazyload(HumanTask.assignee))).scalars())
    return [row for row in held.values() if row is not None]


def _project_tasks(instance: ProcessInstance, workflow, view: StepView, actor, acted: str | None,
                   recorded: dict | None, forms: dict, open_rows: dict[str, HumanTask], now: datetime
                   ) -> tuple[list[tuple[str, datetime | None]], bool]:
    ready = {t.guid: t for t in view.ready}
    waiting = [(row.bpmn_id, row.due_at) for guid, row in open_rows.items() if guid in ready]
    closed: list[int] = []
    completed: list[HumanTask] = []
    for guid, row in open_rows.items():
        if guid in ready:
            continue
        spiff_task = engine().user_task(workflow, guid)
        done = spiff_task is not None and engine().state_of(spiff_task) == "COMPLETED"
        closing: dict[str, Any] = {"state": "completed" if done else "cancelled", "completed_at": now}
        if guid == acted:
            closing.update(recorded or {})
            if isinstance(actor, User):
                closing["completed_by_id"] = actor.id
        _write_task(row, closing)
        closed.append(row.id)
        if done and row.completed_by_id is not None:
            completed.append(row)
        audit.record(instance.order_id, "task", actor, field="state", old="open", new=row.state,
                     entity="task", entity_id=row.id, details={"bpmn_id": row.bpmn_id, "name": row.name},
                     instance_id=instance.id)
    daily_stats.count_completed(row for row in open_rows.values() if row.id in closed)  # the analytics' rows
    if closed:  # a task that is done no longer needs anyone chasing it
        plain(_CLEAR_ESCALATIONS, {"closed": closed, "now": now})
    lanes = None
    opened: list[NewTask] = []  # the last one added gets the highest id
    for guid, view_task in ready.items():
        if guid in open_rows:
            continue
        if lanes is None and view_task.lane:  # a task in no lane has no role to look up
            lanes = lane_roles(instance.definition.process_id)
        role = task_role(view_task.lane, lanes or {})
        assignee = _user_id(view_task.assignee)
        owners = lane_owners.named_logins(view_task.data, view_task.lane)
        known = lane_owners.known_users(owners)
        if assignee is None and len(known) == 1:  # one lane owner: theirs outright
            assignee = next(iter(known.values()))
        if not role and assignee is None and not known:  # nobody's role: the starter's (admins may act too)
            assignee = instance.started_by_id
        values: dict[str, Any] = {
            "task_guid": guid, "instance_id": instance.id, "order_id": instance.order_id, "state": "open",
            "bpmn_id": view_task.bpmn_id, "name": view_task.name, "stage": view_task.stage, "lane": role,
            "lane_name": view_task.lane or None, "kind": view_task.kind,
            "documentation": task_text.documentation(view_task.documentation, view_task.data),
            "form_schema": view_task.form, "form_ui_schema": view_task.ui_form, "assignee_id": assignee,
            "due_at": view_task.due_at, "data": _form_data(view_task, forms), "created_at": now,
            "completed_at": None, "completed_by_id": None, "sla_level": None}
        new = NewTask(plain(_OPEN_TASK, values).inserted_primary_key[0], instance.id, instance.order_id,
                      view_task.bpmn_id, view_task.stage, role, view_task.lane or None, now, view_task.due_at)
        opened.append(new)
        waiting.append((new.bpmn_id, new.due_at))
        if owners:
            lane_owners.name_candidates(new, owners, known, actor)
    if opened and instance.order_id is not None:  # with the order's own write: where it stopped
        order = db.session.get(Order, instance.order_id)
        if order is not None and order.last_task_stage != opened[-1].stage:
            order.last_task_stage = opened[-1].stage
    # Written by statements of their own, the rows are counted here as the flush's listeners count the flush's.
    rating_stats.count(db.session(), completed, [row for row in opened if row.order_id is not None])
    daily_stats.count_opened(db.session(), [row for row in opened if row.order_id is not None])
    return waiting, len(waiting) != len(open_rows) or bool(closed)


# A step's task rows are written by statements of their own, built once: through the unit of work each was one more
# object for the commit's flush to sort and diff (the flush of a plain completion's two rows was a fifth of its
# time). The flush's listeners that count task rows (the rating's, the flow's) are fed by the step instead.
_TASKS = cast(Table, HumanTask.__table__)
_OPEN_TASK = insert(_TASKS)
_CLOSE_TASK: dict[tuple[str, ...], tuple[Update, list[str]]] = {}


def _write_task(row: HumanTask, values: dict) -> None:
    """Write what a step changed of a stored task row by one UPDATE now, its object then holding the values as the
    database does (anything else the unit of work changed of it is left to the flush)."""
    names = tuple(sorted(values))
    if names not in _CLOSE_TASK:
        _CLOSE_TASK[names] = (
            update(_TASKS).where(_TASKS.c.id == bindparam("b_id")).values(
                {name: bindparam(f"b_{name}", type_=_TASKS.c[name].type) for name in names}),
            [link.key for link in inspect(HumanTask).relationships  # the people the ids changed name
             if any(column.key in values for column in link.local_columns)])
    statement, links = _CLOSE_TASK[names]
    plain(statement, {"b_id": row.id, **{f"b_{name}": value for name, value in values.items()}})
    for name, value in values.items():
        set_committed_value(row, name, value)
    if links:
        db.session.expire(row, links)
    written_by_statement(row)


# The escalations of the tasks a step closed, cleared as a plain statement: through the ORM (a bulk update
# synchronising the session) it cost 5 % of a plain completion's Python calls. Nothing reads an escalation back as an
# object in a step; a unit of work that does gets it afresh after its commit.
_CLEAR_ESCALATIONS = (update(Escalation)
                      .where(Escalation.human_task_id.in_(bindparam("closed", expanding=True)),
                             Escalation.cleared_at.is_(None))
                      .values(cleared_at=bindparam("now")))
_LANE_ROLES = select(ProcessSettings.lane_roles).where(ProcessSettings.process_id == bindparam("process_id"))


def lane_roles(process_id: str) -> dict[str, str]:
    """The process's lane → role mapping (`ProcessSettings`); lanes named by a role code need none."""
    return dict(plain(_LANE_ROLES, {"process_id": process_id}).scalar_one_or_none() or {})


def task_role(lane: str, mapping: dict[str, str]) -> str:
    """The role that works a task in `lane`: a role code as itself, a mapped lane its role, else "" (the
    starter's: no lane, spiff-arena's «Process Initiator», or a lane nobody mapped)."""
    if not lane:
        return ""
    if lane in mapping:
        return mapping[lane]
    if lane in LANE_ROLES:
        return lane
    return ""


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


def project_order(order: Order, view: StepView, actor, workflow=None, *,
                  waiting: list[tuple[str, datetime | None]] | None = None, moved: bool = True) -> None:
    """The order's stage and status from the step: milestones passed, the first task open, the end.

    `workflow` (the step's, in hand) gives the norms when no task waits: the prediction then need not load
    the instance's state again. `waiting` (`project_tasks`'s answer) spares the prediction reading the open
    tasks back, and so flushing the step's writes in the middle of it. A step that `moved` no task (a timer's
    warning, a message a task waits on) and left the stage and status as they were changes nothing the prediction
    reads but the clock, which the scheduler's periodic refresh follows: it is not predicted again."""
    stage, status = order.stage, order.status
    for milestone in view.milestones:
        stage = milestone.get("stage") or stage
        status = milestone.get("status") or status
    if view.ready:
        stage = view.ready[0].stage
    if view.finished and status == OrderStatus.ACTIVE:  # a process that ends without saying how: it is done
        status = OrderStatus.COMPLETED
        stage = stage or _("Завершён")
    still = not moved and not view.milestones and stage == order.stage and status == order.status
    if stage != order.stage:
        audit.record(order.id, "stage", actor, field="stage", old=order.stage or None, new=stage)
        order.stage = stage
    if status != order.status:
        audit.record(order.id, "status", actor, field="status", old=order.status, new=status)
        order.status = status
        if status == OrderStatus.COMPLETED:
            order.completed_at = clock.now()
        elif status == OrderStatus.CANCELLED:
            visits.cancel_all(order, actor)
    if still:
        return
    # The norms travel in every task's data: no need to load the workflow again for the «SLA sum».
    sla = next((t.data["sla"] for t in view.ready if isinstance(t.data.get("sla"), dict)), None)
    if sla is None and workflow is not None and order.status == OrderStatus.ACTIVE:
        found = engine().workflow_data(workflow).get("sla")
        sla = found if isinstance(found, dict) else {}
    prediction.refresh_order(order, sla=sla, waiting=waiting)
