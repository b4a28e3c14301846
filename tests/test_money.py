"""Money with kopecks: accepted exactly as typed or sent, stored, printed and sent to 1C exactly; nonsense refused."""
from __future__ import annotations

import itertools
import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.errors import ValidationError
from app.extensions import db
from app.models import Order, Payment, User
from app.services import orders as order_service
from app.services.documents import amount_in_words
from app.services.forms import validate_form
from app.usecases.uow import unit_of_work
from tests.support.api import Api
from tests.support.fake_onec import FakeOneC
from tests.test_documents import download, money_text, needs_pdftotext, pdf_text
from tests.test_onec import (
    BANK,
    ORDERS,
    PASSWORD,
    USER,
    onec_app,
    payments,
    pull,
    rerun_after_crash,
    sync_jobs,
    to_payment,
)
from tests.test_ui_tasks import TO_CONTRACT, Ui, field_block

# Every amount from one kopeck to a billion roubles, to the kopeck.
AMOUNTS = st.integers(min_value=1, max_value=10**11).map(lambda kopecks: Decimal(kopecks).scaleb(-2))
# A tenth of a kopeck somewhere: 0.001 … 1 000 000.009, never a whole number of kopecks.
THREE_PLACES = st.integers(min_value=1, max_value=10**9).filter(lambda n: n % 10).map(lambda n: Decimal(n).scaleb(-3))
CONTRACT = {"payment_type": "cash", "promised_date": (date.today() + timedelta(days=30)).isoformat(),
            "customer_approved": True, "components_available": True, "contract_outcome": "to_payment"}


def form(app, name: str) -> dict:
    return json.loads((Path(app.config["FORMS_DIR"]) / f"{name}.schema.json").read_text(encoding="utf-8"))


def order_row(number: str) -> Order:
    db.session.expire_all()  # read back what the database holds, not what this session remembers
    return db.session.execute(select(Order).where(Order.number == number)).scalar_one()


def test_every_amount_with_kopecks_passes_the_payment_form_and_is_stored_exactly(api: Api):
    number = api.create_order()
    schema, documents = form(api.app, "payment"), itertools.count(1)

    @settings(max_examples=300, deadline=None, database=None)
    @given(amount=AMOUNTS)
    @example(amount=Decimal("1234.56")).via("the issue")
    @example(amount=Decimal("0.29")).via("the issue")
    @example(amount=Decimal("19.99")).via("the issue")
    @example(amount=Decimal("4500.35")).via("the issue")
    @example(amount=Decimal("100000.10")).via("the issue")
    def stored_exactly(amount: Decimal) -> None:
        sent = json.loads(json.dumps({"amount": float(amount)}))["amount"]  # a JSON number, as the API gets it
        document = f"ПП-{next(documents)}"
        with api.app.app_context():
            with unit_of_work():
                order, accountant = order_row(number), db.session.execute(
                    select(User).where(User.login == "accountant")).scalar_one()
                clean = validate_form(schema, {"payment": {"number": document, "date": date.today().isoformat(),
                                                           "amount": sent}}, order=order)
                order_service.apply_process_data(order, clean, accountant)
            db.session.expire_all()
            stored = db.session.execute(select(Payment.amount).where(Payment.number == document)).scalar_one()
        assert stored == amount and str(stored) == f"{amount:.2f}"

    stored_exactly()


def test_a_tenth_of_a_kopeck_is_refused_by_the_field(app):
    schema = form(app, "payment")

    @settings(max_examples=200, deadline=None, database=None)
    @given(amount=THREE_PLACES)
    def refused(amount: Decimal) -> None:
        with app.app_context(), pytest.raises(ValidationError) as refusal:
            validate_form(schema, {"payment": {"number": "1", "date": date.today().isoformat(),
                                               "amount": float(amount)}})
        assert refusal.value.fields == {"payment.amount": "Не больше двух знаков после запятой (копейки)"}

    refused()


@pytest.mark.parametrize("price, message", [
    (float("nan"), "Сумма должна быть конечным числом"),
    (float("inf"), "Сумма должна быть конечным числом"),
    (float("-inf"), "Сумма должна быть конечным числом"),
    ("NaN", "Введите сумму числом, например 1234,56"),
    ("Infinity", "Введите сумму числом, например 1234,56"),
    (1e20, "Слишком большая сумма: не больше 999 999 999 999,99 ₽"),
    (1e308, "Слишком большая сумма: не больше 999 999 999 999,99 ₽"),
])
def test_amounts_nobody_means_are_refused_naming_the_field(app, price, message):
    with app.app_context(), pytest.raises(ValidationError) as refusal:
        validate_form(form(app, "prepare_contract"), {**CONTRACT, "price": price, "prepayment": 0})
    assert refusal.value.fields == {"price": message}


@pytest.mark.parametrize("hours", [float("nan"), float("inf")])
def test_any_number_field_refuses_nan_and_infinity(api: Api, hours):
    visit = {"measurer": "measurer", "visit_at": "2030-05-14T07:00:00+00:00", "visit_duration_hours": hours}
    with api.app.app_context(), pytest.raises(ValidationError) as refusal:
        validate_form(form(api.app, "plan_measurement"), visit)
    assert refusal.value.fields == {"visit_duration_hours": "Введите число"}


def test_the_largest_amount_the_column_holds_is_accepted_a_kopeck_more_is_not(app):
    with app.app_context():
        clean = validate_form(form(app, "prepare_contract"), {**CONTRACT, "price": 999999999999.99, "prepayment": 0})
        assert Decimal(repr(clean["price"])) == Decimal("999999999999.99")
        with pytest.raises(ValidationError) as refusal:
            validate_form(form(app, "prepare_contract"), {**CONTRACT, "price": 1e12, "prepayment": 0})
    assert refusal.value.fields == {"price": "Слишком большая сумма: не больше 999 999 999 999,99 ₽"}


def test_through_the_api_kopecks_reach_the_order_and_absurd_prices_get_422(api: Api):
    number = api.create_order()
    api.walk(number, TO_CONTRACT)
    task = api.open_task(number)
    for price, message in ((1e20, "Слишком большая сумма"), (1e308, "Слишком большая сумма"),
                           ("NaN", "Введите сумму числом"), (1234.567, "Не больше двух знаков")):
        response = api.complete(task, {**CONTRACT, "price": price, "prepayment": 0})
        assert response.status_code == 422, response.get_json()
        assert message in response.get_json()["fields"]["price"]
    assert api.open_task(number)["id"] == task["id"]  # nothing moved, nothing lost

    api.step(number, "prepare_contract", None, price=1234.56, prepayment=0.29)
    api.step(number, "payment", None, payment={"number": "ПП-1", "date": date.today().isoformat(),
                                               "amount": 19.99, "method": "cash"})
    with api.app.app_context():
        order = order_row(number)
        assert (order.price, order.prepayment) == (Decimal("1234.56"), Decimal("0.29"))
        assert [p.amount for p in order.payments] == [Decimal("19.99")]
    assert api.order(number)["price"] == "1234.56"


def test_a_promised_date_far_off_or_long_gone_is_refused(app):
    schema = form(app, "prepare_contract")
    for promised, message in (("0001-01-01", "Дата должна быть между 01.01.2000"),
                              ("9999-12-31", "Дата должна быть между 01.01.2000"),
                              ((date.today() - timedelta(days=2)).isoformat(), "Обещанная дата уже прошла"),
                              ((date.today() + timedelta(days=4 * 365)).isoformat(), "не дальше трёх лет")):
        with app.app_context(), pytest.raises(ValidationError) as refusal:
            validate_form(schema, {**CONTRACT, "price": 100, "prepayment": 0, "promised_date": promised})
        assert list(refusal.value.fields) == ["promised_date"] and message in refusal.value.fields["promised_date"]


@pytest.fixture
def ui(make_app):
    return Ui(make_app(WTF_CSRF_ENABLED=False))


def test_amounts_typed_the_russian_way_in_the_browser_are_stored_exactly(ui):
    number, task = ui.order_at("prepare_contract", TO_CONTRACT)
    typed = {"price": "4 500,35", "prepayment": "4500,355", "payment_type": "cash",
             "promised_date": CONTRACT["promised_date"], "customer_approved": ["false", "true"],
             "contract_outcome": "to_payment"}
    response = ui.submit(task, typed)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Не больше двух знаков после запятой" in field_block(html, "prepayment")
    assert 'value="4500,355"' in field_block(html, "prepayment")  # what was typed, to correct

    response = ui.submit(task, {**typed, "prepayment": "1 234,56"})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    with ui.app.app_context():
        order = order_row(number)
        assert (order.price, order.prepayment) == (Decimal("4500.35"), Decimal("1234.56"))


@pytest.mark.slow
@needs_pdftotext
def test_the_contract_and_the_invoice_print_kopecks_exactly(api: Api, tmp_path: Path):
    number = api.create_order("kitchen")
    api.walk(number, TO_CONTRACT)
    api.step(number, "prepare_contract", {"payment_type": "cashless", "price": 1234.56, "prepayment": 234.56})
    contract = pdf_text(download(api, number, "contract"), tmp_path)
    assert f"{money_text(Decimal('1234.56'))} ₽" in contract and money_text(Decimal("1234.56")) == "1 234,56"
    assert amount_in_words(Decimal("1234.56")) in contract
    assert "Одна тысяча двести тридцать четыре рубля 56 копеек" in contract  # written by hand
    invoice = pdf_text(download(api, number, "invoice"), tmp_path)
    assert "234,56" in invoice and "Двести тридцать четыре рубля 56 копеек" in invoice


@pytest.mark.slow
@settings(max_examples=5, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(amount=AMOUNTS)
@example(amount=Decimal("4500.35"))
def test_every_amount_walks_the_api_from_contract_to_payment_exactly(api: Api, amount: Decimal):
    number = api.create_order()
    api.walk(number, TO_CONTRACT)
    api.step(number, "prepare_contract", None, price=float(amount), prepayment=float(amount))
    api.step(number, "payment", None, payment={"number": "ПП-1", "date": date.today().isoformat(),
                                               "amount": float(amount), "method": "cash"})
    with api.app.app_context():
        order = order_row(number)
        assert order.price == order.prepayment == amount
        assert [p.amount for p in order.payments] == [amount]


@pytest.fixture
def onec():
    server = FakeOneC(USER, PASSWORD)
    yield server
    server.stop()


def test_kopecks_go_to_1c_and_come_back_exactly(make_app, onec):
    app, api = onec_app(make_app, onec)
    number = to_payment(api, price=1234.56, prepayment=234.56)
    onec.add(BANK, Number="0000-000120", Date=f"{date.today()}T10:15:00", СуммаДокумента=234.56,
             НазначениеПлатежа=f"Предоплата по заказу {number}", Posted=True)
    assert pull(app)["recorded"] == ["0000-000120"]
    assert [p[:2] for p in payments(app, number)] == [("0000-000120", "234.56")]

    [job] = sync_jobs(app, number)
    [document] = onec.all(ORDERS)
    assert Decimal(repr(document["СуммаДокумента"])) == Decimal("1234.56")
    assert Decimal(repr(document["Товары"][0]["Сумма"])) == Decimal("1234.56")
    writes = len(onec.requests("POST")) + len(onec.requests("PATCH"))
    assert rerun_after_crash(app, job.id) == "done"  # the same sums compare equal: nothing is re-sent
    assert len(onec.requests("POST")) + len(onec.requests("PATCH")) == writes
