"""The orders list as a workbook: the rows the page's filters keep (all of them, not one page), in the columns
the user chose for the page, as typed cells."""
from __future__ import annotations

from typing import Any

from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload, selectinload

from app.extensions import db
from app.i18n import N_
from app.models import ORDER_KINDS, HumanTask, Order
from app.services.orders import STATUS_LABELS
from app.services.workbooks import DATE, DATETIME, MONEY, Column, capped, list_workbook

COLUMNS = {
    "number": N_("№"), "created": N_("Создан"), "kind": N_("Вид"), "customer": N_("Заказчик"), "phone": N_("Телефон"),
    "address": N_("Адрес"), "partner": N_("Партнёр"), "stage": N_("Этап"), "status": N_("Статус"),
    "assignee": N_("Исполнитель"),
    "price": N_("Стоимость"), "promised": N_("Готовность"), "predicted": N_("Ориентировочно"), "sla": N_("Срок этапа"),
}
# Width and number format of each column in the workbook.
CELLS = {"number": (14, None), "created": (17, DATETIME), "kind": (18, None), "customer": (28, None),
         "phone": (16, None), "address": (40, None), "partner": (22, None), "stage": (26, None), "status": (14, None),
         "assignee": (24, None), "price": (14, MONEY), "promised": (12, DATE), "predicted": (12, DATE),
         "sla": (17, DATETIME)}
CHUNK = 500  # order ids per query for their open tasks (SQLite counts bound parameters)


def open_tasks(order_ids: list[int]) -> dict[int, HumanTask]:
    """order id → its first open task (who holds the order now, and the stage's deadline)."""
    first: dict[int, HumanTask] = {}
    for start in range(0, len(order_ids), CHUNK):
        rows = db.session.execute(select(HumanTask).options(joinedload(HumanTask.assignee))
                                  .where(HumanTask.order_id.in_(order_ids[start:start + CHUNK]),
                                         HumanTask.state == "open").order_by(HumanTask.id)).scalars()
        for task in rows:
            if task.order_id is not None:
                first.setdefault(task.order_id, task)
    return first


def kind_name(kind: str) -> str:
    """An order kind's name in the user's language (the list's select shows the same)."""
    names = ORDER_KINDS.get(kind, (kind, kind))
    return names[0] if str(get_locale()) == "ru" else names[1]


def _value(key: str, order: Order, task: HumanTask | None) -> Any:
    if key == "assignee":
        return (task.assignee.name if task.assignee else _("очередь")) if task else None
    return {
        "number": lambda: order.number, "created": lambda: order.created_at, "kind": lambda: kind_name(order.kind),
        "customer": lambda: order.customer.name, "phone": lambda: order.customer.phone,
        "address": lambda: order.address, "partner": lambda: order.partner.name if order.partner else None,
        "stage": lambda: order.stage, "status": lambda: _(STATUS_LABELS.get(order.status, order.status)),
        "price": lambda: order.price, "promised": lambda: order.promised_date,
        "predicted": lambda: order.predicted_on, "sla": lambda: task.due_at if task else None,
    }[key]()


def orders_workbook(query: Select, keys: list[str]) -> bytes:
    """The query's orders (the list's, filtered and sorted) in the chosen columns."""
    keys = [key for key in keys if key in COLUMNS] or list(COLUMNS)
    orders, cut = capped(query.options(joinedload(Order.customer), selectinload(Order.partner)))
    tasks = open_tasks([order.id for order in orders])
    columns = [Column(_(COLUMNS[key]), *CELLS[key]) for key in keys]
    rows = ([_value(key, order, tasks.get(order.id)) for key in keys] for order in orders)
    return list_workbook(_("Заказы"), columns, rows, cut=cut)
