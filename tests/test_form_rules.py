"""Cross-field rules declared in the form files (`x-rules`), run in the diagram's sandbox by every path."""
from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.errors import ValidationError
from app.extensions import db
from app.models import Document, Order, OutboxJob
from app.services.calendar import BusinessCalendar
from app.services.forms import validate_form
from tests.support.api import Api
from tests.test_deploy import BPMN, FORMS, newest_version, payload
from tests.test_ui_tasks import TO_CONTRACT, Ui, field_block

MOSCOW = ZoneInfo("Europe/Moscow")
CALENDAR = BusinessCalendar(tz=MOSCOW)  # the test app's WORK_HOURS 09:00-18:00, Monday to Friday, RU holidays
CONTRACT = {"payment_type": "cash", "promised_date": (date.today() + timedelta(days=30)).isoformat(),
            "customer_approved": True, "contract_outcome": "to_payment"}


def working_day(after: int = 1) -> date:
    day = datetime.now(MOSCOW).date() + timedelta(days=after)
    while not CALENDAR.is_working_day(day):
        day += timedelta(days=1)
    return day


def next_weekday(weekday: int) -> date:
    day = datetime.now(MOSCOW).date() + timedelta(days=1)
    while day.weekday() != weekday:
        day += timedelta(days=1)
    return day


def at(day: date, hour: int, minute: int = 0) -> str:
    return datetime.combine(day, time(hour, minute), MOSCOW).astimezone(timezone.utc).isoformat()


def test_a_prepayment_above_the_price_is_refused_and_the_task_stays_open(api: Api):
    number = api.create_order()
    api.walk(number, TO_CONTRACT)
    task = api.open_task(number)
    response = api.complete(task, {**CONTRACT, "price": 100000, "prepayment": 100000.01})
    assert response.status_code == 422
    assert response.get_json()["fields"] == {"prepayment": "Предоплата не может превышать стоимость"}
    assert api.open_task(number)["id"] == task["id"]
    with api.app.app_context():  # nothing was rendered, nothing failed: no contract job ran into the wall
        order = db.session.execute(select(Order).where(Order.number == number)).scalar_one()
        assert order.price is None and order.prepayment is None
        assert db.session.execute(select(Document).where(Document.order_id == order.id)).first() is None
        assert db.session.execute(select(OutboxJob).where(OutboxJob.status == "incident")).first() is None

    api.step(number, "prepare_contract", None, price=100000, prepayment=100000)  # equal is fine
    assert api.open_task(number)["bpmn_id"] == "payment"


def test_the_browser_shows_the_rule_beside_the_field_and_keeps_what_was_typed(make_app):
    ui = Ui(make_app(WTF_CSRF_ENABLED=False))
    number, task = ui.order_at("prepare_contract", TO_CONTRACT)
    response = ui.submit(task, {"price": "50 000", "prepayment": "60 000,50", "payment_type": "cash",
                                "promised_date": CONTRACT["promised_date"], "customer_approved": ["false", "true"],
                                "contract_outcome": "to_payment"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    prepayment = field_block(html, "prepayment")
    assert "Предоплата не может превышать стоимость" in prepayment and 'aria-invalid="true"' in prepayment
    assert 'value="60000,50"' in prepayment and 'value="50000"' in field_block(html, "price")
    assert ui.api.open_task(number)["id"] == task["id"]


def test_a_payment_above_the_balance_needs_the_overpayment_ticked(make_app):
    ui = Ui(make_app(WTF_CSRF_ENABLED=False))
    api = ui.api
    number = api.create_order()
    api.walk(number, TO_CONTRACT)
    api.step(number, "prepare_contract", None, price=1000.50, prepayment=300)
    task = api.open_task(number)
    payment = {"number": "ПП-7", "date": date.today().isoformat(), "method": "cash"}
    response = api.complete(task, {"payment": {**payment, "amount": 1000.51}})
    assert response.status_code == 422
    assert list(response.get_json()["fields"]) == ["payment.amount"]
    assert "больше остатка" in response.get_json()["fields"]["payment.amount"]
    assert api.open_task(number)["id"] == task["id"]

    page = ui.page(task).get_data(as_text=True)
    assert "Остаток" in page and "1\u00a0000,50\u00a0₽" in page  # the balance the rule compares with, on the page

    response = api.complete(task, {"payment": {**payment, "amount": 1000.51}, "overpayment_confirmed": True})
    assert response.status_code == 200, response.get_json()
    assert [p["amount"] for p in api.order(number)["payments"]] == ["1000.51"]

    exact = api.create_order()  # the whole balance to the kopeck is no overpayment
    api.walk(exact, TO_CONTRACT)
    api.step(exact, "prepare_contract", None, price=1000.50, prepayment=300)
    api.step(exact, "payment", None, payment={**payment, "amount": 1000.50})
    assert [p["amount"] for p in api.order(exact)["payments"]] == ["1000.50"]


def test_a_payment_dated_tomorrow_is_refused(app):
    schema = FORMS["payment.schema.json"]
    tomorrow = (datetime.now(MOSCOW).date() + timedelta(days=1)).isoformat()
    with app.app_context(), pytest.raises(ValidationError) as refusal:
        validate_form(schema, {"payment": {"number": "1", "date": tomorrow, "amount": 10}})
    assert refusal.value.fields == {"payment.date": "Дата платежа ещё не наступила"}


def refusal_of_visit(api: Api, number: str, visit_at: str, hours: float = 2) -> dict:
    task = api.open_task(number)
    response = api.complete(task, {"measurer": "measurer", "visit_at": visit_at, "visit_duration_hours": hours})
    assert response.status_code == 422, (visit_at, response.get_json())
    assert api.open_task(number)["id"] == task["id"]
    return response.get_json()["fields"]


def test_a_visit_is_booked_in_the_future_within_working_hours(api: Api):
    number = api.create_order()
    api.step(number, "new_order")
    yesterday = working_day(after=-7)
    assert refusal_of_visit(api, number, at(yesterday, 11)) == {
        "visit_at": "Это время уже прошло: выберите время в будущем"}
    out_of_hours = "Выезд должен пройти в рабочее время: в рабочий день, от начала до конца рабочего дня"
    day = working_day()
    assert refusal_of_visit(api, number, at(day, 23)) == {"visit_at": out_of_hours}
    assert refusal_of_visit(api, number, at(day, 7, 30)) == {"visit_at": out_of_hours}
    assert refusal_of_visit(api, number, at(day, 17), hours=2) == {"visit_at": out_of_hours}  # ends at 19:00
    assert refusal_of_visit(api, number, at(next_weekday(5), 11)) == {"visit_at": out_of_hours}  # a Saturday
    new_year = date(datetime.now(MOSCOW).year + 1, 1, 2)
    assert CALENDAR.holiday_name(new_year)
    assert refusal_of_visit(api, number, at(new_year, 11)) == {"visit_at": out_of_hours}
    assert refusal_of_visit(api, number, "0001-01-01T10:00:00+03:00")["visit_at"].startswith("Дата должна быть")

    api.step(number, "plan_measurement", None, measurer="measurer", visit_at=at(day, 16), visit_duration_hours=2)
    with api.app.app_context():
        order = db.session.execute(select(Order).where(Order.number == number)).scalar_one()
        assert order.visit_at == datetime.combine(day, time(13), timezone.utc)  # 16:00 in Moscow


def test_a_delivery_at_night_is_refused(api: Api):
    number = api.create_order()
    path = ["new_order", "plan_measurement", "measurement", "prepare_contract", "payment", "procurement",
            "production"]
    api.walk(number, path)
    task = api.open_task(number)
    assert task["bpmn_id"] == "plan_delivery"
    night = at(working_day(), 23)
    response = api.complete(task, {"delivery_mode": "assign", "crew": "installer", "delivery_at": night})
    assert response.status_code == 422
    assert response.get_json()["fields"] == {
        "delivery_at": "Доставка — в рабочее время: в рабочий день, от начала до конца рабочего дня"}
    api.step(number, "plan_delivery", None, delivery_at=at(working_day(), 10))


RULED = {
    "type": "object",
    "properties": {"price": {"type": "number", "format": "money"}, "prepayment": {"type": "number", "format": "money"},
                   "payment": {"type": "object", "properties": {"amount": {"type": "number", "format": "money"}}},
                   "note": {"type": "string"}},
    "x-rules": [{"if": "prepayment > price", "field": "prepayment", "message": "Больше стоимости"},
                {"if": "payment['amount'] > balance()", "field": "payment.amount", "message": "Больше остатка"},
                {"if": "len(note) < 3", "field": "note", "message": "Коротко"}],
}


def test_a_rule_reading_an_empty_or_refused_field_does_not_apply(app):
    with app.app_context():
        for data in ({}, {"prepayment": 10}, {"price": 5}, {"payment": {}}, {"payment": {"amount": 5}}):
            assert validate_form(RULED, data) == data
        with pytest.raises(ValidationError) as refusal:  # the field's own error, no rule on top of it, no crash
            validate_form(RULED, {"price": "дорого", "prepayment": 10})
        assert refusal.value.fields == {"price": "Введите сумму числом, например 1234,56"}
        with pytest.raises(ValidationError) as refusal:  # everything there: every rule applies
            validate_form(RULED, {"price": 5, "prepayment": 10, "note": "?"})
        assert refusal.value.fields == {"prepayment": "Больше стоимости", "note": "Коротко"}


def test_rules_compare_the_amounts_as_typed_not_as_floats(app):
    with app.app_context():  # 0.1 + 0.2 is 0.30000000000000004 as a float: not an amount anybody typed
        with pytest.raises(ValidationError) as refusal:
            validate_form(RULED, {"price": 0.3, "prepayment": 0.1 + 0.2})
        assert refusal.value.fields == {"prepayment": "Не больше двух знаков после запятой (копейки)"}
        assert validate_form(RULED, {"price": 0.3, "prepayment": 0.30, "note": "ok!"})
        with pytest.raises(ValidationError) as refusal:
            validate_form(RULED, {"price": 1234.56, "prepayment": 1234.57, "note": "!"})
        assert refusal.value.fields == {"prepayment": "Больше стоимости", "note": "Коротко"}


@pytest.mark.parametrize("rule, needle", [
    ({"if": "prepayment >", "field": "prepayment", "message": "m"}, "does not compile"),
    ({"if": "__import__('os').system('id')", "field": "prepayment", "message": "m"}, "does not compile"),
    ({"if": "prepaymnet > price", "field": "prepayment", "message": "m"}, "prepaymnet"),
    ({"if": "prepayment > price", "field": "prepaid", "message": "m"}, "prepaid"),
    ({"if": "prepayment > price", "field": "prepayment"}, "'message'"),
])
def test_deploy_refuses_a_rule_that_cannot_work_naming_the_form_and_the_rule(api: Api, rule, needle):
    contract = {**FORMS["prepare_contract.schema.json"]}
    contract["x-rules"] = [*contract["x-rules"], rule]
    response = api.post("/processes", payload(BPMN, {**FORMS, "prepare_contract.schema.json": contract}), as_="analyst")
    assert response.status_code == 422, response.get_json()
    problems = json.dumps(response.get_json()["problems"], ensure_ascii=False)
    rule_number = len(contract["x-rules"])
    assert "prepare_contract.schema.json" in problems and f"rule {rule_number}" in problems and needle in problems
    assert newest_version(api) == 1


def test_api_clients_read_the_rules_with_the_form(api: Api):
    number = api.create_order()
    api.walk(number, TO_CONTRACT)
    schema = api.get(f"/tasks/{api.open_task(number)['id']}").get_json()["schema"]
    assert {"if": "prepayment > price", "field": "prepayment",
            "message": "Предоплата не может превышать стоимость"} in schema["x-rules"]
