"""An order's history (the card's History tab, the partner portal): a stage timeline with durations and a readable
change log."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import select

from app import clock
from app.extensions import db
from app.i18n import N_, money, when
from app.models import AuditEvent, Order
from app.services.dates import parse_date, parse_datetime
from app.services.money import exact_decimal

KIND_LABELS = {"field": N_("Изменение поля"), "stage": N_("Этап"), "status": N_("Статус"), "task": N_("Задача"),
               "message": N_("Сообщение"), "job": N_("Фоновая операция"), "deploy": N_("Версия процесса"),
               "process": N_("Процесс"), "log": N_("Вывод скрипта"), "visit": N_("Выезд")}
FIELD_LABELS = {
    "price": N_("Стоимость"), "prepayment": N_("Предоплата"), "payment_type": N_("Форма оплаты"),
    "promised_date": N_("Обещанная дата"), "measurer": N_("Замерщик"), "visit_at": N_("Дата замера"),
    "crew": N_("Бригада"),
    "delivery_at": N_("Дата доставки"), "cancel_reason": N_("Причина отмены"), "address": N_("Адрес"),
    "description": N_("Описание"), "payment": N_("Платёж"), "note": N_("Примечание"), "state": N_("Состояние"),
    "assignee": N_("Исполнитель"), "stage": N_("Этап"), "status": N_("Статус"), "partner": N_("Партнёр"),
    "status_link": N_("Ссылка заказчика"), "contract_approved": N_("Договор согласован заказчиком"),
}
VALUE_LABELS = {"open": N_("открыта"), "completed": N_("выполнена"), "cancelled": N_("отменена"),
                "active": N_("в работе"), "cash": N_("наличные"), "cashless": N_("безналичный расчёт"),
                "credit": N_("кредит"), "suspended": N_("приостановлен"), "running": N_("выполняется"),
                "incident": N_("инцидент"), "retry": N_("повтор"), "skipped": N_("пропущено")}


@dataclass
class StageSpan:
    name: str
    started: datetime
    ended: datetime | None
    actor: str
    duration: str


def duration_text(delta: timedelta) -> str:
    """'2 д 3 ч', '5 ч 10 мин', '4 мин' — coarse enough to read at a glance."""
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return _("%(d)d д %(h)d ч", d=days, h=hours)
    if hours:
        return _("%(h)d ч %(m)d мин", h=hours, m=mins)
    return _("%(m)d мин", m=max(mins, 0)) if minutes else _("< 1 мин")


def what(event: AuditEvent) -> str:
    label = _(KIND_LABELS.get(event.kind, event.kind))
    if event.kind == "field" and event.field:
        return _(FIELD_LABELS.get(event.field, event.field))
    if event.kind == "task" and event.details and event.details.get("name"):
        return f"{label} «{event.details['name']}»"
    if event.kind in ("job", "message", "log") and event.field:
        return f"{label}: {event.field}"
    return label


MONEY_FIELDS = {"price", "prepayment"}
TIME_FIELDS = {"visit_at", "delivery_at", "promised_date"}


def value(raw: str | None, field: str | None = None) -> str:
    """An audit value as people read it: money as money, times in local format, codes as words."""
    if raw is None or raw == "":
        return "—"
    try:
        if field in MONEY_FIELDS:
            return money(exact_decimal(raw))
        if field in TIME_FIELDS:
            return when(parse_datetime(raw) if "T" in raw else parse_date(raw))
    except (ValueError, ArithmeticError):
        pass
    return _(VALUE_LABELS[raw]) if raw in VALUE_LABELS else raw


def order_history(order: Order) -> tuple[list[StageSpan], list[AuditEvent]]:
    events = db.session.execute(select(AuditEvent).where(AuditEvent.order_id == order.id)
                                .order_by(AuditEvent.id)).scalars().all()
    stages = [e for e in events if e.kind == "stage"]
    now = clock.now()
    spans = []
    for i, event in enumerate(stages):
        ended = stages[i + 1].at if i + 1 < len(stages) else None
        closed = ended or (now if order.status == "active" else event.at)
        spans.append(StageSpan(event.new_value or "—", event.at, ended, event.actor_label,
                               duration_text(closed - event.at)))
    return spans, list(events)
