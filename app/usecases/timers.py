"""Timers: waking the instances whose timers are due, and the SLA escalations their boundary timers ask for.

`wake_timers` is what the scheduler (and `flask wake-timers`) does each round: one unit of work per due
instance, a broken one parked with its error instead of stopping the others.

`escalate` is the `sla.escalate` operator: an SLA timer fired on an open task — record the level reached
and tell the right people. The level comes from the boundary timer that fired (its `sla_level`
property): `warning` at 75 % goes to whoever holds the task (or its lane), `head` at 100 % to the lane's
department head, `director` at 200 % to the directors. Each level is recorded once per task; a task
completed in the meantime needs no one chasing it.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Callable

from sqlalchemy import func, select

from app import clock
from app.errors import BespokeError
from app.extensions import db
from app.models import Escalation, HumanTask, ProcessInstance
from app.operators.registry import JobContext
from app.services import audit
from app.services.notifications import queue_notifications, recipients
from app.usecases.process import due_instances, record_error, wake_instance
from app.usecases.uow import discard, unit_of_work

log = logging.getLogger(__name__)


def wake_timers(now: datetime | None = None, limit: int = 200,
                on_wake: Callable[[int, datetime, datetime], None] | None = None) -> int:
    """Wake exactly the instances whose earliest timer is due; one unit of work each.

    `on_wake(instance_id, due_at, woken_at)` is told about each (the benchmark measures lateness with it).
    """
    now = now or clock.now()
    woken = 0
    due = due_instances(now, limit)
    discard()
    for instance_id, due_at in due:
        try:
            with unit_of_work():
                if wake_instance(instance_id, now):
                    woken += 1
                    if on_wake is not None:
                        on_wake(instance_id, due_at, clock.now())
        except BespokeError as exc:
            _mark_error(instance_id, exc.message)
        except Exception as exc:  # noqa: BLE001 - one broken instance must not stop the others
            log.exception("waking instance %s failed", instance_id)
            _mark_error(instance_id, f"{type(exc).__name__}: {exc}")
    return woken


def _mark_error(instance_id: int, message: str) -> None:
    with unit_of_work(fresh=True):  # the failed wake-up rolled back; parked until someone retries it, not in a loop
        record_error(instance_id, message, "timer")


def next_timer() -> datetime | None:
    """The earliest due moment of any instance's timer (an indexed MIN); the read ends here."""
    found = db.session.execute(select(func.min(ProcessInstance.next_timer_at))).scalar()
    discard()
    return found


LEVELS = ("warning", "head", "director")
EVENTS = {"warning": "sla_warning", "head": "sla_breach", "director": "sla_director"}


def audience(level: str, task: HumanTask) -> str:
    if level == "warning":
        return f"user:{task.assignee_id}" if task.assignee_id else task.lane
    return f"head:{task.lane}" if level == "head" else "director"


def escalate(ctx: JobContext) -> dict:
    trigger = ctx.params.get("trigger") or {}
    level = trigger.get("sla_level") or ctx.params.get("level") or "head"
    guid = trigger.get("task_guid")
    with ctx.write():
        done = db.session.execute(select(Escalation).where(Escalation.task_guid == guid,
                                                           Escalation.level == level)).scalar_one_or_none()
        if done is not None:
            return {"level": level, "escalation": done.id, "notified": len(done.notified or [])}
        task = db.session.execute(select(HumanTask).where(HumanTask.task_guid == guid)).scalar_one_or_none()
        if task is None or task.state != "open":
            return {"level": level, "cleared": True}
        order, to = task.order, audience(level, task)
        people = recipients(to, order)
        params = {"stage_name": task.stage, "due_at": task.due_at.isoformat() if task.due_at else None,
                  "level": level}
        queue_notifications(EVENTS[level], to, order, params, job_id=ctx.job_id, people=people)
        row = Escalation(order_id=order.id, human_task_id=task.id, task_guid=guid, stage=task.stage, level=level,
                         due_at=task.due_at, notified=[{"name": p.name, "address": p.address, "user_id": p.user_id}
                                                       for p in people])
        db.session.add(row)
        if task.sla_level is None or LEVELS.index(level) > LEVELS.index(task.sla_level):
            task.sla_level = level
        audit.record(order.id, "sla", "scheduler", field="sla_level", new=level, entity="task", entity_id=task.id,
                     details={"stage": task.stage, "notified": [p.name for p in people]})
        db.session.flush()
        return {"level": level, "escalation": row.id, "notified": len(people)}
