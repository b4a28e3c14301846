"""Take an imported payment row (1C today, a bank statement or an Excel file later) into an order.

One unit of work per row: the Payment, linked to a hand-typed payment from the same statement instead of
counted twice, and the diagram's payment message when the order is waiting for the money.
"""
from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from app.engine.bindings import RECORDS
from app.errors import Conflict
from app.extensions import db
from app.models import HumanTask, Order, OrderStatus, Payment
from app.services import audit
from app.services.bindings import order_tasks
from app.services.money import json_amount
from app.usecases.messages import deliver_message
from app.usecases.uow import unit_of_work

log = logging.getLogger(__name__)
PAYMENT_MESSAGE = "payment_received"  # the message the boundary event of the task recording payments catches


def take_payment_row(order_id: int, *, ref: str, number: str, paid_on: date, amount: Decimal, method: str | None,
                     source: str, actor: str, label: str) -> str | None:
    """Record one imported payment; its number as stored, or None when it was known already.

    `ref` is the row's id in the source system, `label` how the audit names the source («1С»).
    """
    with unit_of_work(fresh=True):
        order = db.session.get_one(Order, order_id)
        if _known(order, ref, number, paid_on, amount, source, actor, label):
            return None
        if any(p.number == number for p in order.payments):
            number = f"{number}/{ref[:8]}"  # e.g. a bank and a cash document numbered alike
        order.payments.append(Payment(number=number, paid_on=paid_on, amount=amount, method=method,
                                      received_by="company", source=source, external_id=ref))
        audit.record(order.id, "field", actor, field="payment", old=None,
                     new=f"№{number} от {paid_on} на {amount} ₽ ({label})", entity="payment")
        db.session.flush()
        if waits_for_payment(order):
            payload = {"number": number, "date": paid_on.isoformat(), "amount": json_amount(amount),
                       "method": method, "received_by": "company"}
            try:
                deliver_message(order, PAYMENT_MESSAGE, payload, actor, source=source)
            except Conflict as exc:  # moved on meanwhile: the money is still recorded
                log.info("%s payment %s for %s recorded without a message: %s", label, number, order.number, exc)
    return number


def waits_for_payment(order: Order) -> bool:
    """The order is active and open at the task that records payments (`bespoke:records="payment"`)."""
    return order.status == OrderStatus.ACTIVE and db.session.execute(
        select(HumanTask.id).where(order_tasks(order, RECORDS, "payment"), HumanTask.state == "open")
    ).first() is not None


def _known(order: Order, ref: str, number: str, paid_on: date, amount: Decimal, source: str, actor: str,
           label: str) -> bool:
    """Recorded before — or typed in by hand from the same bank statement, which is then linked to the row."""
    if db.session.execute(select(Payment.id).where(Payment.external_id == ref)).first() is not None:
        return True
    for payment in order.payments:
        if payment.external_id is None and payment.source != source and (
                payment.number == number or (payment.paid_on == paid_on and payment.amount == amount)):
            payment.external_id = ref
            audit.record(order.id, "field", actor, field="payment", old=f"№{payment.number}",
                         new=f"№{payment.number} = {label} {number}", entity="payment", entity_id=payment.id)
            return True
    return False
