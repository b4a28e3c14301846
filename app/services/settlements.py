"""Settlements with partners: computed from the order's price and payments, never typed in.

For each order a partner brought: the price, what the customer paid to the company and to the point of
sale, the partner's commission (the per-kind percentage if one is set, else the partner's own), and
what is owed either way — `partner_owes` > 0 means the partner holds money that belongs to the company,
< 0 that the company owes the partner its commission. A cancelled order earns no commission, but money
already taken still has to be settled.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select

from app.extensions import db
from app.models import Order, OrderStatus, Partner

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def money(value) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT, ROUND_HALF_UP)


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
    orders = db.session.execute(select(Order).where(Order.partner_id == partner.id, Order.created_at >= start,
                                                    Order.created_at <= end).order_by(Order.created_at, Order.id)
                                ).scalars().all()
    return Statement(partner, date_from, date_to, [settle(order) for order in orders])
