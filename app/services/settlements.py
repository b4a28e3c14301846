"""Settlements with partners: computed from the order's price and payments, never typed in.

For each order a partner brought: the price, what the customer paid to the company and to the point of
sale, the partner's commission (the per-kind percentage if one is set, else the partner's own), and
what is owed either way — `partner_owes` > 0 means the partner holds money that belongs to the company,
< 0 that the company owes the partner its commission. A cancelled order earns no commission, but money
already taken still has to be settled.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import Order, OrderStatus, Partner
from app.services.calendar import company_tz
from app.services.money import ZERO, to_money


def money(value) -> Decimal:
    """An amount to the kopeck (half up); none is zero here: an order without a price owes nothing yet."""
    return to_money(value) or ZERO


def commission_pct(partner: Partner, kind: str) -> Decimal:
    """The per-kind override when the partner has one, else the partner's general percentage."""
    for override in partner.commissions:
        if override.kind == kind:
            return Decimal(override.pct)
    return Decimal(partner.commission_pct or 0)


@dataclass(frozen=True)
class OrderSettlement:
    number: str
    kind: str
    status: str
    created_at: datetime
    price: Decimal
    paid_company: Decimal
    paid_partner: Decimal
    commission_pct: Decimal
    commission: Decimal

    @property
    def customer_owes(self) -> Decimal:
        return self.price - self.paid_company - self.paid_partner

    @property
    def partner_owes(self) -> Decimal:
        return self.paid_partner - self.commission


def settle(order: Order) -> OrderSettlement:
    paid = {"company": ZERO, "partner": ZERO}
    for payment in order.payments:
        paid[payment.received_by if payment.received_by in paid else "company"] += money(payment.amount)
    pct = commission_pct(order.partner, order.kind) if order.partner else Decimal(0)
    earned = order.status != OrderStatus.CANCELLED
    commission = money(money(order.price) * pct / 100) if earned else ZERO
    return OrderSettlement(order.number, order.kind, order.status, order.created_at, money(order.price),
                           paid["company"], paid["partner"], pct, commission)


@dataclass
class Statement:
    partner: Partner
    date_from: date
    date_to: date
    rows: list[OrderSettlement] = field(default_factory=list)

    def total(self, name: str) -> Decimal:
        return sum((getattr(row, name) for row in self.rows), ZERO)


def statement(partner: Partner, date_from: date, date_to: date, tz=timezone.utc) -> Statement:
    """The partner's orders created from `date_from` to `date_to` inclusive, each settled."""
    start = datetime.combine(date_from, time.min, tz)
    end = datetime.combine(date_to, time.max, tz)
    orders = db.session.execute(select(Order).options(selectinload(Order.payments))  # one query, not one per order
                                .where(Order.partner_id == partner.id, Order.created_at >= start,
                                       Order.created_at <= end).order_by(Order.created_at, Order.id)
                                ).scalars().all()
    return Statement(partner, date_from, date_to, [settle(order) for order in orders])


TOTALS = ("price", "paid_company", "paid_partner", "commission", "customer_owes", "partner_owes")


def statement_pdf(st: Statement, company: dict) -> bytes:
    """The period's reconciliation act (акт сверки) as PDF, on the order documents' layout."""
    from weasyprint import HTML

    from app.models import ORDER_KINDS
    from app.services.documents import TEMPLATES_DIR, env

    kinds = {code: labels[0] for code, labels in ORDER_KINDS.items()}
    html = env.get_template("partner_statement.html").render(
        kind="partner_statement", title="Акт сверки", company=company, partner=st.partner, rows=st.rows,
        date_from=st.date_from, date_to=st.date_to, kinds=kinds, totals={name: st.total(name) for name in TOTALS},
        overrides=[{"label": kinds.get(o.kind, o.kind), "pct": o.pct} for o in st.partner.commissions],
        document={"number": f"{st.partner.code}-{st.date_from:%Y%m%d}-{st.date_to:%Y%m%d}", "version": 1})
    return HTML(string=html, base_url=str(TEMPLATES_DIR)).write_pdf()


def statement_xlsx(st: Statement) -> bytes:
    """The same statement as an Excel workbook: one row per order, numbers as numbers, a totals row."""
    import io

    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = "Сверка"
    sheet.append([f"Сверка с партнёром {st.partner.name} за {st.date_from:%d.%m.%Y}–{st.date_to:%d.%m.%Y}"])
    header = ["Заказ", "Вид", "Статус", "Создан", "Стоимость", "Оплачено компании", "Оплачено партнёру",
              "Комиссия, %", "Комиссия", "Долг заказчика", "Партнёр должен (+) / получает (−)"]
    sheet.append(header)
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for row in st.rows:
        sheet.append([row.number, row.kind, row.status, row.created_at.replace(tzinfo=None), row.price,
                      row.paid_company, row.paid_partner, row.commission_pct, row.commission, row.customer_owes,
                      row.partner_owes])
    sheet.append(["Итого", None, None, None, *[st.total(name) for name in TOTALS[:3]], None,
                  *[st.total(name) for name in TOTALS[3:]]])
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    for column in "EFGIJK":
        for cell in sheet[column][2:]:
            cell.number_format = "#,##0.00"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# -- periods -------------------------------------------------------------------------------------------

def local_today() -> date:
    return datetime.now(company_tz()).date()


def this_month() -> tuple[date, date]:
    today = local_today()
    first = today.replace(day=1)
    return first, (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def parse_period(raw_from: str | None, raw_to: str | None, default: tuple[date | None, date | None]
                 ) -> tuple[date | None, date | None]:
    """Dates from the query string (YYYY-MM-DD): absent → the default, empty → open-ended.

    Raises ValueError naming the bad parameter ("from" or "to"), or "period" when it runs backwards.
    """
    bounds = []
    for name, raw, fallback in (("from", raw_from, default[0]), ("to", raw_to, default[1])):
        if raw is None:
            bounds.append(fallback)
        elif not raw.strip():
            bounds.append(None)
        else:
            try:
                bounds.append(date.fromisoformat(raw.strip()))
            except ValueError:
                raise ValueError(name) from None
    if bounds[0] and bounds[1] and bounds[0] > bounds[1]:
        raise ValueError("period")
    return bounds[0], bounds[1]
