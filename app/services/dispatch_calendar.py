"""What the dispatcher's calendar shows: booked visits in a period, the people they are booked on, and the orders
waiting to be planned."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app import policy
from app.engine.bindings import PLANS
from app.extensions import db
from app.models import HumanTask, Order, OrderStatus, Role, User, Visit
from app.services.bindings import bound_tasks
from app.services.visits import KINDS


@dataclass(frozen=True)
class Waiting:
    """An order waiting at a planning task: one card of the unplanned queue."""

    kind: str
    task: HumanTask
    order: Order


def kinds_of(value: str | None) -> list[str]:
    """The kinds a `kind` parameter names: one of KINDS, or every kind ("both", empty)."""
    return [value] if value in KINDS else list(KINDS)


def people(kinds: list[str]) -> list[User]:
    """The active people visits of these kinds are booked on (measurers, crews), by name."""
    roles = {KINDS[kind].role for kind in kinds}
    return list(db.session.execute(select(User).join(User.roles).where(Role.code.in_(roles), User.active.is_(True))
                                   .order_by(User.name).distinct()).scalars())


def visits_between(starts: datetime, ends: datetime, kinds: list[str], user: User | None = None) -> list[Visit]:
    """Booked visits of active orders overlapping [starts, ends), of these kinds (and this person's)."""
    query = (select(Visit).join(Order, Visit.order_id == Order.id)
             .options(selectinload(Visit.order).selectinload(Order.customer), selectinload(Visit.user))
             .where(Visit.status == "booked", Order.status == OrderStatus.ACTIVE, Visit.kind.in_(kinds),
                    Visit.starts_at < ends, Visit.ends_at > starts).order_by(Visit.starts_at, Visit.id))
    if user is not None:
        query = query.where(Visit.user_id == user.id)
    return list(db.session.execute(query).scalars())


def waiting(user: User, kinds: list[str], limit: int = 200) -> list[Waiting]:
    """Active orders open at a planning task of these kinds that the user may complete: the most urgent first
    (the task's deadline), then the longest waiting."""
    found: list[Waiting] = []
    for kind in kinds:
        tasks = db.session.execute(
            select(HumanTask).join(Order, HumanTask.order_id == Order.id)
            .options(selectinload(HumanTask.order).selectinload(Order.customer))
            .where(bound_tasks(PLANS, kind), HumanTask.state == "open", Order.status == OrderStatus.ACTIVE)
            .order_by(HumanTask.created_at).limit(limit)).scalars()
        found.extend(Waiting(kind, task, task.order) for task in tasks
                     if policy.can(user, "tasks.complete", task))
    found.sort(key=lambda w: (w.task.due_at is None, w.task.due_at or w.task.created_at, w.task.created_at))
    return found[:limit]
