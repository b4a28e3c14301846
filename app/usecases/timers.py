"""Timers: waking the instances whose timers are due, and the SLA escalations their boundary timers ask for.

`wake_timers` is what the scheduler (and `flask wake-timers`) does each round with TIMER_WAKE=inline: one unit
of work per due instance, a broken one parked with its error instead of stopping the others.

With TIMER_WAKE=workers the scheduler only hands the work out (`hand_out`): one statement leases every due instance
— its `next_timer_at` moves to the end of the lease, TIMER_LEASE_SECONDS on — and each gets an rq job
(`workers.wakeups.wake`) that a worker runs (`wake_leased`). The lease is the instance's own column, so a wake-up is
idempotent (it runs only while `next_timer_at` is still its lease: a second run finds the step done and does
nothing), and recoverable (a worker that died mid-wake committed nothing, so its lease simply runs out, the instance
is due again and is handed out again); a lost Redis job is the same case.

`escalate` is the `sla.escalate` operator: an SLA timer fired on an open task — record the level reached
and tell the right people. The level comes from the boundary timer that fired (its `sla_level`
property): `warning` at 75 % goes to whoever holds the task (or its lane), `head` at 100 % to the lane's
department head, `director` at 200 % to the directors. Each level is recorded once per task; a task
completed in the meantime needs no one chasing it.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Callable

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy import func, select, update
from sqlalchemy.orm.exc import StaleDataError

from app import clock
from app.errors import BespokeError
from app.extensions import db
from app.models import Escalation, HumanTask, ProcessInstance
from app.operators.registry import JobContext
from app.queue import timer_queue
from app.services import audit
from app.services.notifications import queue_notifications, recipients
from app.usecases.process import due_instances, instance_to_step, record_error, step, wake_instance
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


def hand_out(now: datetime | None = None, limit: int = 200) -> list[tuple[int, datetime]]:
    """Lease the due instances (one UPDATE) and queue a wake-up job for each: (instance id, due time) of those
    handed out. Without Redis the jobs are lost but the leases run out, and the instances are handed out again."""
    now = now or clock.now()
    until = now + timedelta(seconds=float(current_app.config["TIMER_LEASE_SECONDS"]))
    with unit_of_work():
        due = dict(due_instances(now, limit))
        leased = db.session.execute(update(ProcessInstance).where(
            ProcessInstance.id.in_(list(due)), ProcessInstance.next_timer_at <= now)
            .values(next_timer_at=until).returning(ProcessInstance.id)
            .execution_options(synchronize_session=False)).scalars().all() if due else []
    if not leased:
        return []
    queue = timer_queue()
    try:
        with queue.connection.pipeline() as pipe:
            # Their own queue, which workers take first: oldest due first, after those handed out before.
            queue.enqueue_many([queue.prepare_data("workers.wakeups.wake", (instance_id, until.isoformat()),
                                                   result_ttl=0, failure_ttl=24 * 3600)
                                for instance_id in sorted(leased, key=due.__getitem__)], pipeline=pipe)
            pipe.execute()
    except RedisError as exc:
        log.warning("%d due timer(s) wait for Redis; handed out again when their lease ends: %s", len(leased), exc)
        return []
    return [(instance_id, due[instance_id]) for instance_id in leased]


def wake_leased(instance_id: int, until: datetime) -> bool:
    """A worker's wake-up of an instance leased until `until`: False when its lease is not the instance's any more
    (woken already, by another run of the same job, or handed out again after the lease ran out)."""
    try:
        with unit_of_work(fresh=True):
            instance = instance_to_step(instance_id)
            if instance is None or instance.next_timer_at != until:
                return False
            step(instance, lambda wf: None, "timer", refresh_timers=True)
            return True
    except StaleDataError:
        return False  # another run of the wake-up saved the instance first
    except BespokeError as exc:
        _mark_error(instance_id, exc.message)
    except Exception as exc:  # noqa: BLE001 - parked with its error, as an inline wake-up is
        log.exception("waking instance %s failed", instance_id)
        _mark_error(instance_id, f"{type(exc).__name__}: {exc}")
    return False


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
