"""Mass processing of orders: each order is its own unit of work, under the same rules as one order at a time
(`policy.refusal`, asked inside each step); refusals are reported per order with the reason."""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select

from app.engine.bindings import ENTRY
from app.errors import BespokeError
from app.extensions import db
from app.i18n import N_
from app.models import HumanTask, Order, User
from app.policy import visible_orders
from app.services.bindings import order_tasks
from app.usecases import messages
from app.usecases import tasks as task_cases
from app.usecases.uow import unit_of_work

BULK_ACTIONS = {"confirm": N_("Подтвердить"), "assign": N_("Назначить"), "cancel": N_("Отменить с причиной")}


@dataclass
class BulkResult:
    number: str
    ok: bool
    message: str


def _open_task(order: Order, binding: str | None = None) -> HumanTask | None:
    query = select(HumanTask).where(HumanTask.order_id == order.id, HumanTask.state == "open")
    if binding:
        query = query.where(order_tasks(order, binding))
    return db.session.execute(query.order_by(HumanTask.id).limit(1)).scalar_one_or_none()


def _one(action: str, order: Order, user: User, reason: str, assignee: str) -> str:
    if action == "confirm":
        task = _open_task(order, ENTRY)
        if task is None:
            raise BespokeError(_("нет открытой задачи «Новый заказ» (этап «%(stage)s»)", stage=order.stage))
        task_cases.complete_task(task.id, {"decision": "confirm"}, user)
        return _("подтверждён")
    if action == "assign":
        task = _open_task(order)
        if task is None:
            raise BespokeError(_("нет открытых задач"))
        task_cases.assign_task(task.id, assignee, user)
        return _("задача «%(name)s» назначена: %(who)s", name=task.name, who=assignee)
    messages.cancel_order(order, reason, user)
    return _("отменён")


def run_bulk(action: str, numbers: list[str], user: User, *, reason: str = "", assignee: str = "") -> list[BulkResult]:
    results = []
    for number in dict.fromkeys(numbers):
        try:
            with unit_of_work():
                order = db.session.execute(visible_orders(user).where(Order.number == number)).scalar_one_or_none()
                if order is None:
                    raise BespokeError(_("заказ не найден"))
                message = _one(action, order, user, reason, assignee)
            results.append(BulkResult(number, True, message))
        except BespokeError as exc:
            results.append(BulkResult(number, False, exc.message))
    return results
