"""The predicted completion date and the at-risk mark wherever an order is shown: the API, the card, the orders list
and its filter, the inbox, the partner's card, and the customer's status page (the median date only, in their words).

The prediction itself is reckoned elsewhere (app/services/prediction.py); here it is data set on the order.
"""
from __future__ import annotations

import re
from datetime import date
from html import unescape

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import select

from app import clock
from app.api.openapi import document
from app.extensions import db
from app.models import Order, OrderStatus
from tests.support.api import Api
from tests.support.web import csrf_of, signed_in

YEAR = clock.now().year
PROMISED, MEDIAN, P80 = date(YEAR, 12, 10), date(YEAR, 12, 12), date(YEAR, 12, 16)


@pytest.fixture
def ui(make_app):
    app = make_app()
    return app, Api(app, app.test_client())


def predict(app, number: str, *, on=MEDIAN, p80=P80, method="history", at_risk=False, status=None) -> None:
    with app.app_context():
        order = db.session.execute(select(Order).where(Order.number == number)).scalar_one()
        order.predicted_on, order.predicted_p80_on, order.prediction_method = on, p80, method
        order.at_risk, order.promised_date = at_risk, PROMISED
        if status is not None:
            order.status = status
        db.session.commit()


def forget(app, number: str) -> None:
    """No prediction: an order placed before predictions were kept (every step predicts one now)."""
    with app.app_context():
        order = db.session.execute(select(Order).where(Order.number == number)).scalar_one()
        order.predicted_on = order.predicted_p80_on = order.prediction_method = None
        db.session.commit()


def text_of(response) -> str:
    """The page as a person reads it: tags dropped, entities decoded, spaces collapsed."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", response.get_data(as_text=True), flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).replace("\u00a0", " ").strip()


def row_of(html: str, number: str) -> str:
    """The table row (or inbox row) that names the order."""
    rows = [row for row in re.findall(r"<tr\b.*?</tr>", html, flags=re.S) if number in row]
    assert rows, number
    return text_of_html(rows[0])


def text_of_html(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).replace("\u00a0", " ").strip()


def conforms(body: dict, schema_name: str) -> None:
    spec = document()
    errors = list(Draft202012Validator({**spec, "$ref": f"#/components/schemas/{schema_name}"}).iter_errors(body))
    assert not errors, [e.message for e in errors]


# -- the API ---------------------------------------------------------------------------------------------

def test_the_order_json_carries_the_prediction_and_the_at_risk_mark(ui):
    app, api = ui
    predicted, unknown, finished = api.create_order(), api.create_order(), api.create_order()
    predict(app, predicted, at_risk=True)
    predict(app, finished, at_risk=True, status=OrderStatus.COMPLETED)
    forget(app, unknown)

    body = api.order(predicted)
    assert body["predicted_completion"] == {"date": f"{YEAR}-12-12", "p80_date": f"{YEAR}-12-16",
                                            "method": "history"}
    assert body["at_risk"] is True
    conforms(body, "Order")

    nothing = api.order(unknown)
    assert nothing["predicted_completion"] is None and nothing["at_risk"] is False
    conforms(nothing, "Order")

    done = api.order(finished)  # a finished order has no prediction and is at risk of nothing
    assert done["predicted_completion"] is None and done["at_risk"] is False

    listed = {item["number"]: item for item in api.get("/orders").get_json()["items"]}
    assert listed[predicted]["predicted_completion"]["date"] == f"{YEAR}-12-12"
    at_risk = [item["number"] for item in api.get("/orders?at_risk=true").get_json()["items"]]
    assert at_risk == [predicted]
    refused = api.get("/orders?at_risk=maybe")
    assert refused.status_code == 422 and set(refused.get_json()["fields"]) == {"at_risk"}


# -- staff pages -----------------------------------------------------------------------------------------

def test_the_card_shows_the_predicted_date_its_method_and_the_at_risk_badge(ui):
    app, api = ui
    risky, calm, plain = api.create_order(), api.create_order(), api.create_order()
    predict(app, risky, at_risk=True)
    predict(app, calm, on=date(YEAR, 12, 8), p80=date(YEAR, 12, 9), method="sla")
    forget(app, plain)
    client = signed_in(app, "sales")

    response = client.get(f"/orders/{risky}")
    page = text_of(response)
    assert "Ориентировочная дата завершения: 12 декабря (с вероятностью 80 % — до 16 декабря)" in page
    assert "Под угрозой срыва срока обещано к 10 декабря, ориентировочно — 12 декабря" in page
    assert 'title="Рассчитано по истории похожих заказов"' in response.get_data(as_text=True)

    calm_response = client.get(f"/orders/{calm}")
    assert "Ориентировочная дата завершения: 8 декабря (с вероятностью 80 % — до 9 декабря)" in text_of(calm_response)
    assert "Под угрозой" not in text_of(calm_response)
    assert 'title="Рассчитано по нормативам SLA"' in calm_response.get_data(as_text=True)

    assert "Ориентировочная дата" not in text_of(client.get(f"/orders/{plain}"))


def test_the_card_in_english(ui):
    app, api = ui
    number = api.create_order()
    predict(app, number, at_risk=True)
    client = signed_in(app, "sales")
    client.post("/language", data={"locale": "en", "csrf_token": csrf_of(client.get("/orders").data)})
    page = text_of(client.get(f"/orders/{number}"))
    assert "Estimated completion date: 12 December (80 % likely by 16 December)" in page
    assert "Deadline at risk promised by 10 December, estimated 12 December" in page


def test_the_orders_list_shows_dates_and_badges_filters_the_at_risk_and_sorts_by_the_date(ui):
    app, api = ui
    late, later, calm, unknown, finished = (api.create_order() for _ in range(5))
    predict(app, late, at_risk=True)
    predict(app, later, on=date(YEAR, 12, 20), p80=date(YEAR, 12, 24), at_risk=True)
    predict(app, calm, on=date(YEAR, 12, 5), p80=date(YEAR, 12, 7))
    predict(app, finished, at_risk=True, status=OrderStatus.COMPLETED)
    client = signed_in(app, "sales")

    html = client.get("/orders").get_data(as_text=True)
    assert "Под угрозой срыва срока" in row_of(html, late) and "12 декабря" in row_of(html, late)
    assert "5 декабря" in row_of(html, calm) and "Под угрозой" not in row_of(html, calm)
    assert "Под угрозой" not in row_of(html, finished) and "Под угрозой" not in row_of(html, unknown)

    filtered = client.get("/orders?at_risk=1").get_data(as_text=True)
    shown = {number for number in (late, later, calm, unknown, finished) if number in filtered}
    assert shown == {late, later}
    assert 'name="at_risk" value="1" checked' in filtered

    by_date = client.get("/orders?sort=predicted").get_data(as_text=True)
    positions = [by_date.index(number) for number in (calm, late, later, unknown)]
    assert positions == sorted(positions)  # soonest first; orders with nothing predicted last
    newest_first = client.get("/orders?sort=-predicted").get_data(as_text=True)
    assert newest_first.index(later) < newest_first.index(late) < newest_first.index(calm)

    page = client.get("/orders")
    client.post("/orders/filters", data={"name": "Под угрозой", "query": "at_risk=1",
                                         "csrf_token": csrf_of(page.data)})
    saved = re.search(r'href="(/orders\?at_risk=1)"', client.get("/orders").get_data(as_text=True))
    assert saved is not None
    again = client.get(saved.group(1)).get_data(as_text=True)
    assert {number for number in (late, later, calm, unknown, finished) if number in again} == {late, later}


def test_inbox_rows_of_an_at_risk_order_show_the_badge_and_the_date(ui):
    app, api = ui
    risky, calm = api.create_order(), api.create_order()
    predict(app, risky, at_risk=True)
    forget(app, calm)
    client = signed_in(app, "sales")
    html = client.get("/inbox?tab=queue").get_data(as_text=True)
    assert "Под угрозой срыва срока" in row_of(html, risky)
    assert "ориентировочно 12 декабря" in row_of(html, risky)
    assert "Под угрозой" not in row_of(html, calm) and "ориентировочно" not in row_of(html, calm)


def test_the_partner_sees_the_date_the_customer_sees_not_our_at_risk_mark(ui):
    app, api = ui
    number = api.create_order(as_="partner_mega")
    predict(app, number, at_risk=True)
    page = text_of(signed_in(app, "partner_mega").get(f"/partner/orders/{number}"))
    assert "Ориентировочная дата готовности 12 декабря" in page
    assert "16 декабря" not in page and "Под угрозой" not in page


# -- the customer's page ---------------------------------------------------------------------------------

def token_of(api: Api, number: str) -> str:
    return api.order(number)["status_url"].rsplit("/", 1)[1]


def test_the_customer_reads_the_estimated_date_never_the_pessimistic_one_nor_our_words(ui):
    app, api = ui
    number = api.create_order()
    predict(app, number, at_risk=True, method="history-all-kinds")
    token = token_of(api, number)
    visitor = app.test_client()

    response = visitor.get(f"/s/{token}")
    page = text_of(response)
    assert "Ориентировочная дата готовности 12 декабря" in page
    html = response.get_data(as_text=True)
    for random_text in {token, *re.findall(r'name="csrf_token" value="([^"]+)"', html)}:  # may hold "sla" by chance
        html = html.replace(random_text, "")
    html = html.lower().replace("\u00a0", " ")
    for internal in ("16 декабря", "80 %", "80%", "вероятност", "угроз", "срыв", "sla", "истори", "прогноз"):
        assert internal not in html, internal

    english = text_of(visitor.get(f"/s/{token}?lang=en"))
    assert "Estimated ready date 12 December" in english and "16 December" not in english

    body = api.get(f"/status/{token}", as_=None).get_json()
    assert body["estimated_on"] == f"{YEAR}-12-12" and "16" not in str(body.get("estimated_on"))
    conforms(body, "CustomerStatus")


@pytest.mark.parametrize("status", [OrderStatus.COMPLETED, OrderStatus.CANCELLED])
def test_a_finished_order_has_no_estimated_date_for_the_customer(ui, status):
    app, api = ui
    number = api.create_order()
    token = token_of(api, number)
    predict(app, number, status=status)
    page = text_of(app.test_client().get(f"/s/{token}"))
    assert "Ориентировочная дата готовности" not in page and "12 декабря" not in page
