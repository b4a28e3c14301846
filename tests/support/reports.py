"""A payments history for the report builder's tests: four orders of two kinds, paid in April and May 2027."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from tests.support.history import make_order, msk

# Payments by order kind: kitchens 100 000 + 50 000 (two orders), a wardrobe 30 000; one kitchen payment in May.
PAYMENTS = [("kitchen", date(2027, 4, 5), "100000.00"), ("kitchen", date(2027, 4, 12), "50000.00"),
            ("wardrobe", date(2027, 4, 20), "30000.00"), ("kitchen", date(2027, 5, 3), "7000.00")]


def history(app) -> None:
    from app.extensions import db
    from app.models import Payment
    from app.usecases.uow import unit_of_work

    with app.app_context(), unit_of_work():
        for index, (kind, paid_on, amount) in enumerate(PAYMENTS):
            order = make_order(kind, [("new_order", msk(1, 10 + index))])
            db.session.add(Payment(order_id=order.id, number=f"P-{index}", paid_on=paid_on, amount=Decimal(amount),
                                   method="cash"))


def payments_recorded(app, moments: list[tuple[datetime, str]]) -> None:
    """One kitchen order with a payment recorded at each (moment, amount); paid on the moment's company day."""
    from app.extensions import db
    from app.models import Payment
    from app.services.calendar import company_tz
    from app.usecases.uow import unit_of_work

    with app.app_context(), unit_of_work():
        order = make_order("kitchen", [("new_order", msk(1, 10))])
        for index, (moment, amount) in enumerate(moments):
            db.session.add(Payment(order_id=order.id, number=f"R-{index}", amount=Decimal(amount), method="card",
                                   paid_on=moment.astimezone(company_tz()).date(), created_at=moment))
