"""Crews take delivery and installation jobs from the queue themselves.

A delivery the dispatcher put «В общую очередь монтажников» is booked for nobody (`Visit.user_id` None) and its
installation task waits unassigned: that is a free job. A crew takes it in one unit of work — the visit, the
order's crew and the task's assignee become theirs. Two crews pressing «Взять» at once: the claim is a
conditional UPDATE (… WHERE user_id IS NULL), so exactly one row changes for exactly one of them; the other is
told who was first and nothing of theirs is written.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import exists, select, update

from app import clock
from app.engine.bindings import PLANS, VISIT
from app.errors import Conflict, NotFound
from app.extensions import db
from app.models import HumanTask, Order, OrderStatus, User, Visit
from app.services import audit, visits
from app.services.bindings import bound_tasks, order_tasks
from app.services.calendar import company_tz
from app.usecases.uow import unit_of_work

JOB_KIND = "delivery"  # the kind of visit a crew takes from the queue


@dataclass(frozen=True)
class Job:
    """A free job as a crew sees it: the visit, its order and what the dispatcher wrote for the crew."""

    visit: Visit
    comment: str

    @property
    def order(self) -> Order:
        return self.visit.order


def free_jobs() -> list[Job]:
    """Deliveries in the crews' queue on active orders whose installation task waits for a crew, soonest first."""
    waiting = exists(select(HumanTask.id).where(
        bound_tasks(VISIT, JOB_KIND), HumanTask.order_id == Visit.order_id, HumanTask.state == "open",
        HumanTask.assignee_id.is_(None)))
    rows = list(db.session.execute(
        select(Visit).join(Order, Visit.order_id == Order.id)
        .where(Visit.kind == JOB_KIND, Visit.status == "booked", Visit.user_id.is_(None),
               Order.status == OrderStatus.ACTIVE, waiting)
        .order_by(Visit.starts_at, Visit.id)).scalars())
    comments = _dispatcher_comments([visit.order_id for visit in rows])
    return [Job(visit, comments.get(visit.order_id, "")) for visit in rows]


def _dispatcher_comments(order_ids: list[int]) -> dict[int, str]:
    """What the delivery dispatcher wrote when planning each order's delivery (the latest planning wins)."""
    if not order_ids:
        return {}
    planned = db.session.execute(
        select(HumanTask.order_id, HumanTask.data)
        .where(bound_tasks(PLANS, JOB_KIND), HumanTask.order_id.in_(order_ids), HumanTask.state == "completed")
        .order_by(HumanTask.completed_at, HumanTask.id))
    comments: dict[int, str] = {}
    for order_id, data in planned:
        comments[order_id] = str((data or {}).get("delivery_comment") or "").strip()
    return comments


def components_summary(order: Order) -> str:
    """The order's specification in one line: «ЛДСП … — 6 шт; Фурнитура … — 1 компл.»."""
    return "; ".join(f"{c.name} — {c.quantity.normalize():f} {c.unit}" for c in order.components)


@unit_of_work()
def take(visit_id: int, actor: User) -> Visit:
    """The crew takes a free job: the visit, the order's crew and the installation task become theirs."""
    visit = db.session.get(Visit, visit_id)
    if visit is None or visit.kind != JOB_KIND:
        raise NotFound(_("Работа не найдена"))
    order = visit.order
    if visit.status != "booked" or order.status != OrderStatus.ACTIVE:
        raise Conflict(_("Эта работа уже не нужна: заказ отменён или выезд уже состоялся"), visit_id=visit.id)
    if visit.user_id is not None:
        raise _taken(visit.user)
    task = db.session.execute(select(HumanTask).where(order_tasks(order, VISIT, JOB_KIND), HumanTask.state == "open")
                              .order_by(HumanTask.id)).scalars().first()
    if task is None:
        raise Conflict(_("Эта работа уже не ждёт бригаду: заказ не на этапе доставки и монтажа"), visit_id=visit.id)
    if task.assignee_id is not None and task.assignee_id != actor.id:
        raise _taken(task.assignee)
    own = visits.clashes(actor.id, visit.starts_at, visit.ends_at, order_id=order.id)
    if own:
        other = own[0]
        raise Conflict(_("У вас в это время уже есть работа: заказ %(number)s, %(starts)s–%(ends)s",
                         number=other.order.number, starts=_local(other.starts_at),
                         ends=_local(other.ends_at, time_only=True)), visit_id=visit.id, clashes_with=other.id)
    now = clock.now()
    claimed = db.session.execute(
        update(Visit).where(Visit.id == visit.id, Visit.user_id.is_(None), Visit.status == "booked")
        .values(user_id=actor.id, taken_at=now, updated_at=now).returning(Visit.id)
        .execution_options(synchronize_session=False)).scalar_one_or_none()
    if claimed is None:  # another crew's unit of work changed the row first
        db.session.expire(visit)
        raise _taken(visit.user)
    db.session.refresh(visit)
    audit.record(order.id, "visit", actor, field=JOB_KIND, old="—", new=f"{actor.login} (взята из очереди)",
                 entity="visit", entity_id=visit.id, details={"taken": True})
    audit.set_field(order, "crew", actor, actor, order.id)
    if task.assignee_id != actor.id:
        task.assignee = actor
        audit.record(order.id, "task", actor, field="assignee", old=None, new=actor.login, entity="task",
                     entity_id=task.id, instance_id=task.instance_id)
    return visit


def _taken(by: User | None) -> Conflict:
    if by is None:
        return Conflict(_("Эту работу уже взяла другая бригада"), taken_by=None)
    if by.name.lower().startswith(("бригада", "crew")):  # «Бригада №1 (…)» says itself what it is
        return Conflict(_("Эту работу уже взяла %(name)s", name=by.name), taken_by=by.login)
    return Conflict(_("Эту работу уже взяла бригада %(name)s", name=by.name), taken_by=by.login)


def _local(moment, *, time_only: bool = False) -> str:
    local = moment.astimezone(company_tz())
    return local.strftime("%H:%M") if time_only else local.strftime("%d.%m %H:%M")
