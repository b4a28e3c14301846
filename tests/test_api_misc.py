"""The API's edges: tokens, intake validation, lists and filters, the OpenAPI document, the customer link."""
from __future__ import annotations

import re

from app.api.openapi import document
from tests.support.api import HAPPY_CASH


def test_token_from_login_and_password(api):
    response = api.client.post("/api/v1/auth/token", json={"login": "sales", "password": "demo"})
    assert response.status_code == 200
    token = response.get_json()["token"]
    assert response.get_json()["user"]["roles"] == ["sales"]
    ok = api.client.get("/api/v1/tasks?scope=queue", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    bad = api.client.post("/api/v1/auth/token", json={"login": "sales", "password": "nope"})
    assert bad.status_code == 401 and bad.get_json()["error"] == "unauthorized"
    assert api.client.get("/api/v1/orders").status_code == 401
    forged = api.client.get("/api/v1/orders", headers={"Authorization": f"Bearer {token[:-3]}xyz"})
    assert forged.status_code == 401


def test_intake_validation_names_each_bad_field(api):
    response = api.post("/orders", {"kind": "spaceship", "channel": "pigeon",
                                    "customer": {"name": "", "phone": "12", "email": "nope"}}, as_="sales")
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"] == "validation_failed"
    assert set(body["fields"]) == {"kind", "channel", "customer.name", "customer.phone", "customer.email", "address"}


def test_intake_reuses_the_customer_by_phone_and_answers_with_the_status_link(api):
    first = api.create_order()
    response = api.post("/orders", {"kind": "kitchen", "channel": "web",
                                    "customer": {"name": "М. П. Иванова", "phone": "8 (916) 123-45-67"},
                                    "address": "Москва"}, as_="sales")
    assert response.status_code == 201
    body = response.get_json()
    assert re.fullmatch(r"\d{4}-\d{5}", body["number"]) and body["number"] != first
    assert body["stage"] == "Новый заказ" and body["status"] == "active"
    assert api.order(body["number"])["customer"]["name"] == "Иванова Мария Петровна"
    status = api.client.get("/api/v1/status/" + body["status_url"].rsplit("/", 1)[1])
    assert status.status_code == 200 and status.get_json()["number"] == body["number"]
    assert api.client.get("/api/v1/status/forged-token").status_code == 404


def test_partner_creates_orders_for_itself_and_sees_only_its_own(api):
    mine = api.create_order(as_="partner_mega")
    other = api.create_order(as_="partner_agent")
    staff = api.create_order()
    order = api.get(f"/orders/{mine}", as_="partner_mega").get_json()
    assert order["partner"] == "mega" and order["channel"] == "partner"
    listed = [o["number"] for o in api.get("/orders", as_="partner_mega").get_json()["items"]]
    assert listed == [mine]
    assert api.get(f"/orders/{other}", as_="partner_mega").status_code == 404
    assert api.get(f"/orders/{staff}", as_="partner_mega").status_code == 404


def test_order_list_filters_and_pages(api):
    numbers = [api.create_order(kind) for kind in ("kitchen", "wardrobe", "kitchen")]
    api.walk(numbers[0], ["new_order"])
    listing = api.get("/orders?kind=kitchen").get_json()
    assert sorted(o["number"] for o in listing["items"]) == sorted([numbers[0], numbers[2]])
    assert [o["number"] for o in api.get("/orders?stage=Планирование выезда на замер").get_json()["items"]] == \
        [numbers[0]]
    page = api.get("/orders?per_page=2&page=2").get_json()
    assert page["total"] == 3 and page["pages"] == 2 and len(page["items"]) == 1
    assert api.get("/orders?q=Иванова").get_json()["total"] == 3
    assert api.get("/orders?q=1234567").get_json()["total"] == 3
    assert api.get("/orders?q=нет-такого").get_json()["total"] == 0
    api.walk(numbers[0], ["plan_measurement"])
    assert [o["number"] for o in api.get("/orders?assignee=measurer").get_json()["items"]] == [numbers[0]]
    assert api.get("/orders?page=x").status_code == 422


def test_openapi_matches_the_real_routes(app, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec == document() and spec["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    real = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
            real |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented == real


def test_errors_are_json_everywhere(api):
    response = api.get("/no/such/route")
    assert response.status_code == 404 and response.get_json()["error"] == "not_found"
    response = api.client.post("/api/v1/orders", data="not json", headers={
        "Authorization": f"Bearer {api.token('sales')}", "Content-Type": "application/json"})
    assert response.status_code == 422 and "fields" in response.get_json()


def test_history_records_every_field_and_stage_change_with_who(api):
    number = api.create_order()
    api.walk(number, HAPPY_CASH[:4], {"price": 123456.0, "prepayment": 20000.0})
    items = api.get(f"/orders/{number}/history").get_json()["items"]
    price = next(e for e in items if e["field"] == "price")
    assert (price["old"], price["new"], price["actor"]) == (None, "123456.00", "sales")
    measurer = next(e for e in items if e["field"] == "measurer")
    assert measurer["new"] == "measurer" and measurer["actor"] == "dispatch"
    stages = [(e["old"], e["new"]) for e in items if e["kind"] == "stage"]
    assert stages[1] == ("Новый заказ", "Планирование выезда на замер")
    assert all(e["at"] for e in items)
