"""Settlements with partners: computed from the order's price and payments, never typed in.

For each order a partner brought: the price, what the customer paid to the company and to the point of
sale, the partner's commission (the per-kind percentage if one is set, else the partner's own), and
what is owed either way — `partner_owes` > 0 means the partner holds money that belongs to the company,
< 0 that the company owes the partner its commission. A cancelled order earns no commission, but money
already taken still has to be settled.
"""
from __future__ import annotations

import functools
import hashlib
import os
import threading
import time as time_module
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from decimal import Decimal
from pathlib import Path

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import ORDER_KINDS, Order, OrderStatus, Partner
from app.services.money import ZERO, to_money


def money(value) -> Decimal:
    """An amount to the kopeck (half up); none is zero here: an order without a price owes nothing yet."""
    return to_money(value) or ZERO


def kind_overrides(partner: Partner) -> list:
    """The partner's own percentages per order kind, in the catalogue's order of kinds (as the partners page and
    the act list them: the same text each time, so the act's kept PDF is found again)."""
    position = {kind: i for i, kind in enumerate(ORDER_KINDS)}
    return sorted(partner.commissions, key=lambda override: (position.get(override.kind, len(position)),
                                                             override.kind))


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


def statement_html(st: Statement, company: dict) -> str:
    """The reconciliation act (акт сверки) as the HTML the PDF is drawn from, on the order documents' layout."""
    from app.models import ORDER_KINDS
    from app.services.documents import env

    kinds = {code: labels[0] for code, labels in ORDER_KINDS.items()}
    return env.get_template("partner_statement.html").render(
        kind="partner_statement", title="Акт сверки", company=company, partner=st.partner, rows=st.rows,
        date_from=st.date_from, date_to=st.date_to, kinds=kinds, totals={name: st.total(name) for name in TOTALS},
        overrides=[{"label": kinds.get(o.kind, o.kind), "pct": o.pct} for o in kind_overrides(st.partner)],
        document={"number": f"{st.partner.code}-{st.date_from:%Y%m%d}-{st.date_to:%Y%m%d}", "version": 1})


def statement_pdf(st: Statement, company: dict) -> bytes:
    """The period's reconciliation act as PDF. WeasyPrint lays out every cell (seconds for a few hundred
    orders), so a drawn act is kept under the digest of everything it prints (`pdf_cache`): the same
    statement is drawn once — ahead of the download by `statements.prerender` when the partner opens
    the page — and any change to an order, a payment, a percentage or the layout is a new digest."""
    return pdf_cache(statement_html(st, company))


def pdf_cache(html: str) -> bytes:
    """The PDF of a document's HTML, drawn once per content: the bytes kept under UPLOADS_DIR/pdf-cache for
    a week after their last use, written whole (rename) so a reader never sees half a file."""
    from weasyprint import HTML

    from app.services.documents import TEMPLATES_DIR

    digest = hashlib.sha256(b"\0".join((html.encode(), _layout()))).hexdigest()
    folder = Path(current_app.config["UPLOADS_DIR"]) / "pdf-cache"
    path = folder / f"{digest}.pdf"
    try:
        content = path.read_bytes()
        os.utime(path)
        return content
    except FileNotFoundError:
        pass
    content = HTML(string=html, base_url=str(TEMPLATES_DIR)).write_pdf()
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f"{digest}.{os.getpid()}.{threading.get_ident()}.part"
    partial.write_bytes(content)
    os.replace(partial, path)
    _forget_old(folder)
    return content


@functools.cache
def _layout() -> bytes:
    """What besides the HTML decides the drawing: the print stylesheet and WeasyPrint's version (read once)."""
    from weasyprint import __version__ as weasyprint_version

    from app.services.documents import TEMPLATES_DIR

    return (TEMPLATES_DIR / "print.css").read_bytes() + b"\0" + weasyprint_version.encode()


def _forget_old(folder: Path, days: int = 7) -> None:
    """Drop the drawn acts nobody asked for in a week (each use touches its file)."""
    limit = time_module.time() - days * 86400
    for old in folder.glob("*.pdf"):
        try:
            if old.stat().st_mtime < limit:
                old.unlink()
        except FileNotFoundError:
            pass  # another worker dropped it first


def statement_xlsx(st: Statement) -> bytes:
    """The same statement as an Excel workbook: one row per order, numbers as numbers, a totals row."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    from app.services.workbooks import DATETIME, MONEY, Column, local_time, to_bytes, write_table

    book = Workbook()
    sheet = book.active
    sheet.title = "Сверка"
    sheet.append([f"Сверка с партнёром {st.partner.name} за {st.date_from:%d.%m.%Y}–{st.date_to:%d.%m.%Y}"])
    columns = [Column("Заказ", 14), Column("Вид", 12), Column("Статус", 12), Column("Создан", 17, DATETIME),
               *(Column(header, 16, MONEY) for header in ("Стоимость", "Оплачено компании", "Оплачено партнёру")),
               Column("Комиссия, %", 12), *(Column(header, 16, MONEY) for header in ("Комиссия", "Долг заказчика")),
               Column("Партнёр должен (+) / получает (−)", 22, MONEY)]
    rows = [[row.number, row.kind, row.status, local_time(row.created_at), row.price, row.paid_company,
             row.paid_partner, row.commission_pct, row.commission, row.customer_owes, row.partner_owes]
            for row in st.rows]
    rows.append(["Итого", None, None, None, *[st.total(name) for name in TOTALS[:3]], None,
                 *[st.total(name) for name in TOTALS[3:]]])
    last = write_table(sheet, columns, rows, first_row=2, autofilter=False)  # the totals row stays last
    for cell in sheet[last]:
        cell.font = Font(bold=True)
    return to_bytes(book)
