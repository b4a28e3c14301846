"""Partner settlements against hand-computed figures: partial payments, both receivers, kind overrides."""
from __future__ import annotations

import subprocess
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import select

from app.clock import now, today
from app.extensions import db
from app.models import Order, Partner, PartnerCommission, Payment
from app.services.calendar import company_tz
from app.services.settlements import commission_pct, settle, statement, statement_html
from app.usecases.uow import unit_of_work


def _statement(partner: Partner, days: int = 0):
    """The statement from `days` before today to today in the company's days, as the portal asks for it (the
    machine's date and UTC days differ from Moscow's between 00:00 and 03:00 there)."""
    return statement(partner, today() - timedelta(days=days), today(), tz=company_tz())


def _order(api, kind: str, price: str, payments: list[tuple[str, str]], *, status: str = "active") -> str:
    """An order brought by the point of sale, priced, with payments (amount, who received it)."""
    number = api.create_order(kind, partner="mega")
    with api.app.app_context():
        with unit_of_work():
            order = db.session.execute(select(Order).where(Order.number == number)).scalar_one()
            order.price, order.status = Decimal(price), status
            for i, (amount, receiver) in enumerate(payments, 1):
                db.session.add(Payment(order_id=order.id, number=f"П-{i}", paid_on=date(2026, 11, 20),
                                       amount=Decimal(amount), received_by=receiver))
    return number


def _partner(app) -> Partner:
    return db.session.execute(select(Partner).where(Partner.code == "mega")).scalar_one()


def test_settlement_figures_match_the_hand_computed_ones(api):
    app = api.app
    with app.app_context():
        with unit_of_work():
            db.session.add(PartnerCommission(partner_id=_partner(app).id, kind="kitchen", pct=Decimal("12.5")))
    # Wardrobe at the partner's 10 %: 100 000 ₽, 30 000 taken at the point of sale, 20 000 paid to us.
    wardrobe = _order(api, "wardrobe", "100000", [("30000", "partner"), ("20000", "company")])
    # Kitchen with the 12.5 % override: 250 000 ₽, paid in full to the company in two parts.
    kitchen = _order(api, "kitchen", "250000", [("100000", "company"), ("150000", "company")])
    # An odd price: 10 % of 99 999,99 is 9 999,999 → 10 000,00 (half up); nothing paid yet.
    odd = _order(api, "windows", "99999.99", [])
    # Cancelled after a 5 000 ₽ deposit at the point of sale: no commission, the deposit is owed back.
    cancelled = _order(api, "wardrobe", "80000", [("5000", "partner")], status="cancelled")
    with app.app_context():
        partner = _partner(app)
        assert commission_pct(partner, "kitchen") == Decimal("12.5")
        assert commission_pct(partner, "wardrobe") == Decimal("10")
        rows = {row.number: row for row in _statement(partner, days=1).rows}
        w, k, o, c = rows[wardrobe], rows[kitchen], rows[odd], rows[cancelled]
        assert (w.commission, w.paid_partner, w.paid_company, w.customer_owes, w.partner_owes) == (
            Decimal("10000.00"), Decimal("30000.00"), Decimal("20000.00"), Decimal("50000.00"), Decimal("20000.00"))
        assert (k.commission, k.customer_owes, k.partner_owes) == (
            Decimal("31250.00"), Decimal("0.00"), Decimal("-31250.00"))  # we owe the partner its commission
        assert (o.commission, o.customer_owes, o.partner_owes) == (
            Decimal("10000.00"), Decimal("99999.99"), Decimal("-10000.00"))
        assert (c.commission, c.partner_owes) == (Decimal("0.00"), Decimal("5000.00"))
        totals = _statement(partner)
        assert totals.total("commission") == Decimal("51250.00")
        assert totals.total("partner_owes") == Decimal("-16250.00")  # 20 000 − 31 250 − 10 000 + 5 000
        assert totals.total("price") == Decimal("529999.99")


def test_a_statement_holds_only_that_partners_orders_of_the_period(api):
    ours = _order(api, "wardrobe", "50000", [])
    foreign = api.create_order("kitchen", partner="agent_ivanov")
    direct = api.create_order("kitchen")
    with api.app.app_context():
        with unit_of_work():
            old = db.session.execute(select(Order).where(Order.number == ours)).scalar_one()
            old.created_at = now() - timedelta(days=40)
        partner = _partner(api.app)
        assert [r.number for r in _statement(partner, days=60).rows] == [ours]
        assert _statement(partner, days=7).rows == []
        assert settle(db.session.execute(select(Order).where(Order.number == direct)).scalar_one()).commission == 0
    assert foreign != ours


def test_just_after_midnight_in_moscow_todays_statement_holds_the_order_placed_a_minute_ago(api, clock):
    clock.set(datetime(2026, 11, 20, 21, 30, tzinfo=timezone.utc))  # 00:30 on 21 November in Moscow
    number = _order(api, "wardrobe", "50000", [])
    with api.app.app_context():
        assert today() == date(2026, 11, 21)
        assert [row.number for row in _statement(_partner(api.app)).rows] == [number]


def test_the_statement_as_excel_and_pdf_carries_the_same_figures(api, tmp_path):
    from io import BytesIO

    from openpyxl import load_workbook

    from app.services.settlements import statement_pdf, statement_xlsx

    wardrobe = _order(api, "wardrobe", "100000", [("30000", "partner"), ("20000", "company")])
    kitchen = _order(api, "kitchen", "250000", [("250000", "company")])
    with api.app.app_context():
        st = _statement(_partner(api.app))
        book = load_workbook(BytesIO(statement_xlsx(st)))
        pdf = statement_pdf(st, api.app.config["COMPANY"])
    rows = [[c.value for c in row] for row in book.active.iter_rows(min_row=3)]
    assert [r[0] for r in rows] == [wardrobe, kitchen, "Итого"]
    assert [float(v) for v in rows[0][4:]] == [100000, 20000, 30000, 10, 10000, 50000, 20000]
    assert [float(v) for v in (rows[2][4], rows[2][8], rows[2][10])] == [350000, 35000, -5000]  # 20 000 − 25 000
    source = tmp_path / "statement.pdf"
    source.write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-layout", str(source), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "Акт сверки взаиморасчётов" in text and wardrobe in text and kitchen in text
    assert "компания выплачивает партнёру комиссию 5 000,00" in text and "Пять тысяч рублей" in text


def test_the_act_names_the_kinds_own_percentages_in_the_catalogues_order_whatever_was_changed(api):
    """The act (and the PDF kept under its text's digest) reads the same each time it is drawn, in the order the
    partners page shows: the catalogue's order of kinds, not the order the database returns (PostgreSQL returns a
    row written anew after the others)."""
    _order(api, "kitchen", "100000", [])
    with api.app.app_context():
        with unit_of_work():
            partner_id = _partner(api.app).id
            for kind, pct in (("windows", "6"), ("kitchen", "12.5"), ("wardrobe", "8")):
                db.session.add(PartnerCommission(partner_id=partner_id, kind=kind, pct=Decimal(pct)))
        with unit_of_work():
            windows = db.session.execute(select(PartnerCommission).where(PartnerCommission.kind == "windows")
                                         ).scalar_one()
            windows.kind, windows.pct = "furniture", Decimal("6.5")  # PostgreSQL writes the row anew elsewhere
        db.session.expunge_all()
        html = statement_html(_statement(_partner(api.app)), api.app.config["COMPANY"])
    named = html[html.index("по видам заказов"):]
    assert named.index("Встроенный шкаф — 8") < named.index("Корпусная мебель на заказ — 6,5") < named.index(
        "Кухонный гарнитур — 12,5"), named
