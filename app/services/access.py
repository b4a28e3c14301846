"""Who may see and do what: one place for the queries every area filters by and the rules every path asks."""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import false, or_, select

from app.errors import Forbidden
from app.extensions import db
from app.models import Department, HumanTask, Order, User

STAFF_ROLES = frozenset({"sales", "dispatch", "measurer", "designer", "accountant", "procurement", "production",
                         "delivery_dispatch", "installer", "quality", "director", "analyst", "admin"})
SEE_ALL_TASKS = frozenset({"director", "admin"})
CANCELLERS = frozenset({"sales", "dispatch", "director", "admin"})
# Process versions and their running counts: for the people who model and run the process, not for partners.
PROCESS_READERS = frozenset({"analyst", "admin", "director"})
ACTIONS = ("cancel", "complete", "assign")


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


def heads_lane(user: User, lane: str) -> bool:
    return db.session.execute(select(Department.id).where(Department.head_id == user.id,
                                                          Department.role_code == lane)).first() is not None


def refusal(user: User, action: str, order: Order, task: HumanTask | None = None) -> str | None:
    """Why `user` may not `action` the order (cancel) or its open task (complete — e.g. confirm —, assign);
    None when allowed. Single and bulk, browser and API all ask this one function."""
    if action == "cancel":
        if not user.role_codes & CANCELLERS:
            return _("Отменять заказы могут продажи, диспетчеры и руководство")
        return None
    if task is None or action not in ACTIONS:
        raise ValueError(f"unknown action {action!r} or no task")
    if action == "complete":
        if task.lane not in user.role_codes:
            return _("Задача «%(name)s» — для роли «%(lane)s», которой у вас нет", name=task.name, lane=task.lane)
        if task.assignee_id and task.assignee_id != user.id:
            return _("Задача «%(name)s» назначена: %(who)s", name=task.name, who=task.assignee.login)
        return None
    if not (heads_lane(user, task.lane) or user.has_role("admin")):
        return _("Назначать задачи роли «%(lane)s» может руководитель её отдела или администратор", lane=task.lane)
    return None


def ensure(user: User, action: str, order: Order, task: HumanTask | None = None) -> None:
    """Raise Forbidden with the reason when `refusal` refuses."""
    reason = refusal(user, action, order, task)
    if reason:
        raise Forbidden(reason)
