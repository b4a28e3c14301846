"""Visits on the calendar: what a planning task booked, kept in step with the order, and who is free when.

A planning task decides a visit through the process variables the order already records (`measurer` and
`visit_at`, `crew` and `delivery_at`) and a length (`visit_duration_hours`, `delivery_duration_hours`);
`record_bookings` turns them into the order's `Visit` of that kind — moved and reassigned in place while it is
booked, so one order has at most one booked visit of each kind. A person cannot be in two places: `busy` is the
form rule planning forms use (`person_busy(...)`), and `clashes` what the dispatcher's calendar checks.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext
from sqlalchemy import select

from app import clock
from app.engine.bindings import VISIT
from app.errors import Conflict
from app.extensions import db
from app.models import HumanTask, Order, OrderStatus, User, Visit
from app.services import audit
from app.services.dates import to_datetime


@dataclass(frozen=True)
class VisitKind:
    """How a planning form names the visit's person, time and length, and whose calendar it is on."""

    person: str  # the process variable holding the person's login (an Order relationship of the same name)
    at: str  # the variable holding the time (an Order column of the same name)
    hours: str  # the variable holding the length in hours
    default_hours: float  # the length when the form has none
    role: str  # the role whose people are booked
    queue: tuple[str, str] | None = None  # (variable, value): the visit goes to the role's queue, nobody's yet


KINDS = {
    "measurement": VisitKind("measurer", "visit_at", "visit_duration_hours", 2.0, "measurer"),
    "delivery": VisitKind("crew", "delivery_at", "delivery_duration_hours", 4.0, "installer",
                          queue=("delivery_mode", "queue")),
}


def hours_of(kind: str, value) -> float:
    """A visit's length from a form's value: the kind's default when missing or not a positive number."""
    try:
        hours = float(value)
    except (TypeError, ValueError):
        return KINDS[kind].default_hours
    return hours if 0 < hours <= 24 else KINDS[kind].default_hours


def booked(order: Order, kind: str) -> Visit | None:
    """The order's booked visit of this kind, if any."""
    return db.session.execute(select(Visit).where(Visit.order_id == order.id, Visit.kind == kind,
                                                  Visit.status == "booked")).scalars().first()


def clashes(user_id: int, starts_at: datetime, ends_at: datetime, *, order_id: int | None = None) -> list[Visit]:
    """The person's other booked visits overlapping [starts_at, ends_at) — not those of `order_id` — on orders
    still active."""
    query = (select(Visit).join(Order, Visit.order_id == Order.id)
             .where(Visit.user_id == user_id, Visit.status == "booked", Order.status == OrderStatus.ACTIVE,
                    Visit.starts_at < ends_at, Visit.ends_at > starts_at).order_by(Visit.starts_at))
    if order_id is not None:
        query = query.where(Visit.order_id != order_id)
    return list(db.session.execute(query).scalars())


def busy(order: Order | None, login, at, hours) -> bool:
    """The form rule `person_busy(person, at, hours)`: the person has another visit then. False while the form
    names no person or time yet (the fields' own checks speak then)."""
    moment = at if isinstance(at, datetime) else to_datetime(at) if isinstance(at, str) else None
    if not login or moment is None:
        return False
    user_id = db.session.execute(select(User.id).where(User.login == str(login))).scalar_one_or_none()
    if user_id is None:
        return False
    try:
        length = timedelta(hours=float(hours)) if hours is not None else timedelta(hours=2)
    except (TypeError, ValueError):
        return False
    return bool(clashes(user_id, moment, moment + length, order_id=order.id if order is not None else None))


def record_bookings(order: Order, data: dict, actor) -> list[Visit]:
    """The visits a step's data decided (see the module's docstring); those it did not touch stay as they are."""
    changed = []
    for kind, spec in KINDS.items():
        if spec.at not in data:
            continue
        moment = to_datetime(data.get(spec.at))
        if moment is None:
            continue
        person = getattr(order, spec.person)  # apply_process_data set it from the same data
        if spec.queue is not None and data.get(spec.queue[0]) == spec.queue[1]:
            person = None  # to the crews' queue: a crew takes it
        changed.append(book(order, kind, person, moment, hours_of(kind, data.get(spec.hours)), actor))
    return changed


def book(order: Order, kind: str, person: User | None, starts_at: datetime, hours: float, actor) -> Visit:
    """Book (or move and reassign) the order's visit of this kind; the history records what changed."""
    visit = booked(order, kind)
    ends_at = starts_at + timedelta(hours=hours)
    if visit is None:
        visit = Visit(order_id=order.id, kind=kind, user=person, starts_at=starts_at, ends_at=ends_at)
        db.session.add(visit)
        db.session.flush()
        audit.record(order.id, "visit", actor, field=kind, new=_describe(visit), entity="visit", entity_id=visit.id)
        return visit
    before = _describe(visit)
    visit.user, visit.starts_at, visit.ends_at = person, starts_at, ends_at
    if _describe(visit) != before:
        audit.record(order.id, "visit", actor, field=kind, old=before, new=_describe(visit), entity="visit",
                     entity_id=visit.id)
    return visit


def _describe(visit: Visit) -> str:
    who = visit.user.login if visit.user is not None else "—"
    return f"{visit.starts_at.isoformat()} ({visit.hours:g} h) {who}"


def _worked_by(task: HumanTask) -> Visit | None:
    """The booked visit a task works (its element carries `bespoke:visit`), if any."""
    from app.services.bindings import order_bindings

    if task.order is None:
        return None
    kind = order_bindings(task.order).value(task.bpmn_id, VISIT)
    return booked(task.order, kind) if kind in KINDS else None


def task_done(task: HumanTask) -> None:
    """A visit's task was completed: its booked visit is done."""
    visit = _worked_by(task)
    if visit is not None:
        visit.status = "done"


def follow_assignee(task: HumanTask, actor) -> None:
    """A visit's task changed hands in the inbox (claimed, assigned by a head): the booked visit and the order's
    person follow, so the calendar shows who goes — refused (Conflict) when that person is booked elsewhere then.
    A crew claiming a queued delivery's task has taken the job from the queue."""
    visit = _worked_by(task) if task.assignee is not None else None
    if visit is None or task.order is None or task.assignee is None or visit.user_id == task.assignee_id:
        return
    clash = clashes(task.assignee.id, visit.starts_at, visit.ends_at, order_id=task.order.id)
    if clash:
        raise Conflict(gettext("У %(name)s в это время уже есть выезд: заказ %(number)s", name=task.assignee.name,
                               number=clash[0].order.number), clashes_with=clash[0].id)
    before = _describe(visit)
    if visit.user_id is None:
        visit.taken_at = clock.now()
    visit.user = task.assignee
    audit.record(task.order.id, "visit", actor, field=visit.kind, old=before, new=_describe(visit), entity="visit",
                 entity_id=visit.id)
    audit.set_field(task.order, KINDS[visit.kind].person, task.assignee, actor, task.order.id)


def cancel_all(order: Order, actor) -> None:
    """The order was cancelled: its booked visits come off the calendars."""
    for visit in db.session.execute(select(Visit).where(Visit.order_id == order.id,
                                                        Visit.status == "booked")).scalars():
        visit.status = "cancelled"
        audit.record(order.id, "visit", actor, field=visit.kind, old=_describe(visit), new=None, entity="visit",
                     entity_id=visit.id)


def upcoming(user: User, days: int = 14) -> list[Visit]:
    """The person's booked visits from now on (their own calendar)."""
    now = clock.now()
    return list(db.session.execute(select(Visit).where(
        Visit.user_id == user.id, Visit.status == "booked", Visit.ends_at > now,
        Visit.starts_at < now + timedelta(days=days)).order_by(Visit.starts_at)).scalars())
