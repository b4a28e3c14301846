"""Who may see what: one place for the queries every area (API, inbox, order pages) filters by."""
from __future__ import annotations

from sqlalchemy import false, or_, select

from app.models import HumanTask, Order, User

STAFF_ROLES = frozenset({"sales", "dispatch", "measurer", "designer", "accountant", "procurement", "production",
                         "delivery_dispatch", "installer", "quality", "director", "analyst", "admin"})
SEE_ALL_TASKS = frozenset({"director", "admin"})


def visible_orders(user: User):
    """Orders the user may see: staff see all, a partner only its own, anyone else none."""
    query = select(Order)
    if user.role_codes & STAFF_ROLES:
        return query
    if user.has_role("partner") and user.partner_id:
        return query.where(Order.partner_id == user.partner_id)
    return query.where(false())


def is_partner(user) -> bool:
    """A partner's own account, not an employee who also holds the role: it lives in the partner portal."""
    return bool(user.is_authenticated and user.has_role("partner") and user.partner_id
                and not user.role_codes & STAFF_ROLES)


def visible_tasks(user: User):
    """Tasks in the user's lanes (or assigned to them); directors and admins see every task."""
    query = select(HumanTask).join(HumanTask.order)
    if user.role_codes & SEE_ALL_TASKS:
        return query
    return query.where(or_(HumanTask.lane.in_(user.role_codes), HumanTask.assignee_id == user.id))


def can_see_task(user: User, task: HumanTask) -> bool:
    return bool(user.role_codes & SEE_ALL_TASKS or task.lane in user.role_codes or task.assignee_id == user.id)
