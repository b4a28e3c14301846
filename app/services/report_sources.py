"""The report builder's whitelist: the sources a report may read and, for each, the fields it may show, filter
and group by — each a label and the SQL expression it stands for.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, select
from sqlalchemy.orm import aliased

from app.models import ORDER_KINDS, VISIT_KINDS, Customer, HumanTask, Order, Payment, User, Visit

TEXT, NUMBER, DATE, DATETIME = "text", "number", "date", "datetime"
COUNT = "count"  # the type of a count column: a whole number
PERIOD = "period"  # the type of a date grouped by a bucket: its label, «март 2027»


@dataclass(frozen=True)
class Field:
    label: Any  # a lazy string: translated when shown
    expression: Callable[[], Any]  # the column's SQL expression, built when a query is
    type: str = TEXT
    labels: dict[str, tuple[str, str]] | None = None  # stored code -> (Russian, English) shown instead

    def shown(self, value: Any) -> Any:
        if self.labels is None or value not in self.labels:
            return value
        return self.labels[value][str(get_locale()) != "ru"]

    def code(self, typed: str) -> str:
        """A typed value as stored: a label (in either language) becomes its code."""
        for code, names in (self.labels or {}).items():
            if typed.lower() in (code.lower(), *(name.lower() for name in names)):
                return code
        return typed


@dataclass(frozen=True)
class Source:
    label: Any
    fields: dict[str, Field]
    query: Callable[[], Select]  # the FROM clause with its joins, selecting nothing yet
    default_columns: tuple[str, ...]
    # a report of plain columns lists its rows in the order they were recorded (a database returns rows in any
    # order without one: PostgreSQL does once rows were updated, and a cut at the row limit kept any of them)
    recorded: Callable[[], Any]


def _orders() -> Select:
    return select().select_from(Order).join(Customer, Order.customer_id == Customer.id)


def _tasks() -> Select:
    return select().select_from(HumanTask).outerjoin(Order, HumanTask.order_id == Order.id).outerjoin(
        _ASSIGNEE, HumanTask.assignee_id == _ASSIGNEE.id)


def _payments() -> Select:
    return select().select_from(Payment).join(Order, Payment.order_id == Order.id)


def _visits() -> Select:
    return select().select_from(Visit).join(Order, Visit.order_id == Order.id).outerjoin(
        _ASSIGNEE, Visit.user_id == _ASSIGNEE.id)


_ASSIGNEE = aliased(User, name="report_person")
_ORDER_NUMBER = Field(_l("Номер заказа"), lambda: Order.number)
_ORDER_KIND = Field(_l("Вид заказа"), lambda: Order.kind, labels=ORDER_KINDS)

SOURCES: dict[str, Source] = {
    "orders": Source(_l("Заказы"), {
        "number": _ORDER_NUMBER,
        "kind": _ORDER_KIND,
        "channel": Field(_l("Канал"), lambda: Order.channel),
        "status": Field(_l("Статус"), lambda: Order.status),
        "stage": Field(_l("Этап"), lambda: Order.stage),
        "customer": Field(_l("Заказчик"), lambda: Customer.name),
        "price": Field(_l("Цена"), lambda: Order.price, NUMBER),
        "prepayment": Field(_l("Предоплата"), lambda: Order.prepayment, NUMBER),
        "promised_date": Field(_l("Обещанная дата"), lambda: Order.promised_date, DATE),
        "created_at": Field(_l("Создан"), lambda: Order.created_at, DATETIME),
        "completed_at": Field(_l("Завершён"), lambda: Order.completed_at, DATETIME),
    }, _orders, ("number", "kind", "status", "customer", "price"), lambda: Order.id),
    "tasks": Source(_l("Задачи"), {
        "order": _ORDER_NUMBER,
        "name": Field(_l("Задача"), lambda: HumanTask.name),
        "stage": Field(_l("Этап"), lambda: HumanTask.stage),
        "lane": Field(_l("Роль"), lambda: HumanTask.lane),
        "state": Field(_l("Состояние"), lambda: HumanTask.state),
        "assignee": Field(_l("Исполнитель"), lambda: _ASSIGNEE.name),
        "created_at": Field(_l("Открыта"), lambda: HumanTask.created_at, DATETIME),
        "due_at": Field(_l("Срок"), lambda: HumanTask.due_at, DATETIME),
        "completed_at": Field(_l("Выполнена"), lambda: HumanTask.completed_at, DATETIME),
    }, _tasks, ("order", "name", "state", "assignee", "created_at"), lambda: HumanTask.id),
    "payments": Source(_l("Платежи"), {
        "order": _ORDER_NUMBER,
        "kind": _ORDER_KIND,
        "number": Field(_l("Номер платежа"), lambda: Payment.number),
        "paid_on": Field(_l("Дата оплаты"), lambda: Payment.paid_on, DATE),
        "amount": Field(_l("Сумма"), lambda: Payment.amount, NUMBER),
        "method": Field(_l("Способ"), lambda: Payment.method),
        "received_by": Field(_l("Получатель"), lambda: Payment.received_by),
        "source": Field(_l("Источник"), lambda: Payment.source),
        "recorded_at": Field(_l("Внесён"), lambda: Payment.created_at, DATETIME),
    }, _payments, ("order", "paid_on", "amount", "method"), lambda: Payment.id),
    "visits": Source(_l("Выезды"), {
        "order": _ORDER_NUMBER,
        "kind": Field(_l("Вид выезда"), lambda: Visit.kind, labels=VISIT_KINDS),
        "status": Field(_l("Состояние"), lambda: Visit.status),
        "person": Field(_l("Сотрудник"), lambda: _ASSIGNEE.name),
        "starts_at": Field(_l("Начало"), lambda: Visit.starts_at, DATETIME),
        "ends_at": Field(_l("Окончание"), lambda: Visit.ends_at, DATETIME),
    }, _visits, ("order", "kind", "status", "person", "starts_at"), lambda: Visit.id),
}
