"""The accountants' list of payments: every payment received in a period, by method and partner — one query for
the page, its total and its workbook."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import Select, func, select
from sqlalchemy.orm import contains_eager

from app.extensions import db
from app.i18n import N_
from app.models import PAYMENT_TYPES, Order, Partner, Payment
from app.services.inputs import int_arg
from app.services.periods import period_from, this_month
from app.services.workbooks import DATE, MONEY, Column, capped, list_workbook

DIRECT = "direct"  # the partner filter's value for orders no partner brought
METHOD_NAMES = {"cash": (N_("Наличные"), "Cash"), "cashless": (N_("Безналичный расчёт"), "Bank transfer"),
                "credit": (N_("Кредит"), "Credit")}
RECEIVERS = {"company": N_("компания"), "partner": N_("точка продаж")}


@dataclass(frozen=True)
class PaymentFilters:
    """Payments made in [date_from, date_to] (either may be open), by method and by the order's partner."""

    date_from: date | None
    date_to: date | None
    method: str = ""
    partner: str = ""  # a partner's code, DIRECT, or "" for every order
    page: int = 1

    def args(self) -> dict[str, str]:
        return {"from": self.date_from.isoformat() if self.date_from else "",
                "to": self.date_to.isoformat() if self.date_to else "", "method": self.method,
                "partner": self.partner}


def method_label(method: str | None) -> str:
    if not method:
        return "—"
    names = METHOD_NAMES.get(method)
    if names is None:
        return PAYMENT_TYPES.get(method, method)
    return names[1] if str(get_locale()) == "en" else _(names[0])


def parse_filters(args: Mapping[str, str]) -> tuple[PaymentFilters, dict[str, str]]:
    """The filters from a query string and a message per field it could not read (that filter is left out;
    an unreadable period is this month)."""
    errors: dict[str, str] = {}
    default = this_month()
    date_from, date_to = period_from(args, default, errors)
    method = args.get("method") or ""
    if method and method not in methods():
        errors["method"], method = _("Способ оплаты «%(value)s» неизвестен", value=method[:40]), ""
    partner = args.get("partner") or ""
    if partner and partner != DIRECT and not db.session.execute(
            select(Partner.id).where(Partner.code == partner[:80])).scalar_one_or_none():
        errors["partner"], partner = _("Партнёр «%(value)s» не найден", value=partner[:80]), ""
    page = int_arg(args, "page", 1, 1, 10**6, strict=False)
    return PaymentFilters(date_from, date_to, method, partner, page), errors


def methods() -> list[str]:
    """The methods to choose from: the known ones and any other a payment was recorded with (1C may say more)."""
    recorded = {method for method in db.session.execute(select(Payment.method).distinct()).scalars() if method}
    return list(METHOD_NAMES) + sorted(recorded - set(METHOD_NAMES))


def _kept(query: Select, filters: PaymentFilters) -> Select:
    query = (query.join(Order, Payment.order_id == Order.id).join(Order.customer)
             .outerjoin(Partner, Order.partner_id == Partner.id))
    if filters.date_from:
        query = query.where(Payment.paid_on >= filters.date_from)
    if filters.date_to:
        query = query.where(Payment.paid_on <= filters.date_to)
    if filters.method:
        query = query.where(Payment.method == filters.method)
    if filters.partner == DIRECT:
        query = query.where(Order.partner_id.is_(None))
    elif filters.partner:
        query = query.where(Partner.code == filters.partner)
    return query


def payments_query(filters: PaymentFilters) -> Select:
    """(payment, its order) kept by the filters, the order's customer and partner loaded, newest first."""
    return (_kept(select(Payment, Order), filters)
            .options(contains_eager(Order.customer), contains_eager(Order.partner))
            .order_by(Payment.paid_on.desc(), Payment.id.desc()))


def totals(filters: PaymentFilters) -> tuple[int, Decimal]:
    """How many payments the filters keep and their sum."""
    count, amount = db.session.execute(_kept(select(func.count(Payment.id), func.coalesce(func.sum(Payment.amount), 0))
                                             .select_from(Payment), filters)).one()
    return count, Decimal(str(amount)).quantize(Decimal("0.01"))


def page_of(query: Select, page: int, per_page: int) -> list[tuple[Payment, Order]]:
    return list(db.session.execute(query.offset((page - 1) * per_page).limit(per_page)).unique().all())


def payments_workbook(query: Select) -> bytes:
    payments, cut = capped(query)
    columns = [Column(_("Дата"), 12, DATE), Column(_("Заказ"), 14), Column(_("Заказчик"), 28),
               Column(_("Партнёр"), 22), Column(_("Сумма"), 14, MONEY), Column(_("Способ"), 20),
               Column(_("Получатель"), 14), Column(_("Документ"), 18), Column(_("Источник"), 10)]
    rows = ([p.paid_on, order.number, order.customer.name, order.partner.name if order.partner else None,
             p.amount, method_label(p.method), _(RECEIVERS.get(p.received_by, p.received_by)), p.number, p.source]
            for p, order in payments)
    return list_workbook(_("Платежи"), columns, rows, cut=cut)
