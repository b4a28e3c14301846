"""At-risk escalation: an order predicted to finish after its promised date is flagged before any SLA breaks.

`sweep` runs after the scheduler refreshed the predictions. An active order with a promised date whose
predicted date (`predicted_on`, the median) falls at least one working day after it becomes `at_risk`: an
`Escalation` of level "at_risk" on the task it waits at (the oldest, when several), a notification to the head of
that task's department and an audit record. That is once: later sweeps see the open escalation and stay
quiet. When the order moves on while still late, the task the escalation sat on is closed (which clears it) and
the next sweep hands the risk to the new stage's head — once per stage. When the prediction is back within the
promised date the flag and the escalation clear (audited); falling behind again fires again.
"""
from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from sqlalchemy import and_, or_, select

from app import clock
from app.extensions import db
from app.models import Escalation, HumanTask, Order, OrderStatus
from app.services import audit
from app.services.calendar import BusinessCalendar, business_calendar
from app.services.notifications import queue_notifications, recipients
from app.usecases.uow import discard, unit_of_work

log = logging.getLogger(__name__)
LEVEL = "at_risk"
EVENT = "order_at_risk"
ACTOR = "scheduler"


def late(order: Order, calendar: BusinessCalendar) -> bool:
    """The prediction falls on or after the first working day past the promised date."""
    if order.status != OrderStatus.ACTIVE or order.promised_date is None or order.predicted_on is None:
        return False
    day = order.promised_date + timedelta(days=1)
    while day <= order.predicted_on:
        if calendar.is_working_day(day):
            return True
        day += timedelta(days=1)
    return False


def sweep(now: datetime | None = None, chunk: int = 500) -> dict:
    """Flag the orders that fell behind, clear those that caught up; one unit of work per order."""
    now = now or clock.now()
    candidates = or_(and_(Order.status == OrderStatus.ACTIVE, Order.promised_date.is_not(None),
                          Order.predicted_on > Order.promised_date),
                     Order.at_risk.is_(True))
    fired = cleared = 0
    after = 0
    while True:
        ids = db.session.execute(select(Order.id).where(candidates, Order.id > after)
                                 .order_by(Order.id).limit(chunk)).scalars().all()
        discard()
        for order_id in ids:
            try:
                with unit_of_work():
                    outcome = check(order_id, now)
            except Exception:  # noqa: BLE001 - one order's trouble must not keep the others' heads uninformed
                log.exception("at-risk check of order %s failed", order_id)
                continue
            fired += outcome == "fired"
            cleared += outcome == "cleared"
        if len(ids) < chunk:
            return {"fired": fired, "cleared": cleared}
        after = ids[-1]


def _open_escalation(order: Order) -> Escalation | None:
    return db.session.execute(select(Escalation).where(
        Escalation.order_id == order.id, Escalation.level == LEVEL, Escalation.cleared_at.is_(None))
        .order_by(Escalation.id.desc()).limit(1)).scalar_one_or_none()


def check(order_id: int, now: datetime) -> str | None:
    """Fire, clear or leave one order's at-risk escalation: "fired", "cleared" or None."""
    order = db.session.get(Order, order_id)
    if order is None:
        return None
    escalation = _open_escalation(order)
    if late(order, business_calendar()):
        if escalation is not None:
            return None  # told already, and its task is still open
        task = db.session.execute(select(HumanTask).where(HumanTask.order_id == order.id, HumanTask.state == "open")
                                  .order_by(HumanTask.created_at, HumanTask.id).limit(1)).scalar_one_or_none()
        if task is None:
            return None  # between tasks (a timer, a worker): the next sweep finds the task it waits at
        fire(order, task, now)
        return "fired"
    if order.at_risk or escalation is not None:
        clear(order, now)
        return "cleared"
    return None


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def fire(order: Order, task: HumanTask, now: datetime) -> Escalation:
    """Flag the order, record the escalation on `task` and tell the head of its department."""
    to = f"head:{task.lane}" if task.lane else "director"
    people = recipients(to, order)
    params = {"stage_name": task.stage, "promised_on": _day(order.promised_date),
              "predicted_on": _day(order.predicted_on), "p80_on": _day(order.predicted_p80_on)}
    queue_notifications(EVENT, to, order, params, people=people)
    notified = [{"name": p.name, "address": p.address, "user_id": p.user_id} for p in people]
    # The table keeps one row per (task, level): a task that fell behind, caught up and fell behind again
    # reopens its row.
    row = db.session.execute(select(Escalation).where(Escalation.task_guid == task.task_guid,
                                                      Escalation.level == LEVEL)).scalar_one_or_none()
    if row is None:
        row = Escalation(order_id=order.id, human_task_id=task.id, task_guid=task.task_guid, level=LEVEL)
        db.session.add(row)
    row.stage, row.due_at, row.fired_at, row.cleared_at, row.notified = task.stage, task.due_at, now, None, notified
    was = order.at_risk
    order.at_risk = True
    audit.record(order.id, "risk", ACTOR, field="at_risk", old=was, new=True, entity="task", entity_id=task.id,
                 details={**params, "notified": [p.name for p in people]})
    db.session.flush()
    return row


def clear(order: Order, now: datetime) -> None:
    """The order caught up (or is no longer active): unflag it and close its at-risk escalations."""
    for row in db.session.execute(select(Escalation).where(
            Escalation.order_id == order.id, Escalation.level == LEVEL, Escalation.cleared_at.is_(None))).scalars():
        row.cleared_at = now
    order.at_risk = False
    audit.record(order.id, "risk", ACTOR, field="at_risk", old=True, new=False,
                 details={"promised_on": _day(order.promised_date), "predicted_on": _day(order.predicted_on),
                          "status": order.status})
