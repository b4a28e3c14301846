"""The orders area in the browser's terms: list, saved filters, bulk actions, the card, new orders."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Notification, Order
from tests.support.api import HAPPY_CASH, Api
from tests.support.web import signed_in


@pytest.fixture
def ui(make_app):
    app = make_app(WTF_CSRF_ENABLED=False)
    return app, Api(app, app.test_client())


def stage_of(app, number: str) -> str:
    with app.app_context():
        return db.session.execute(select(Order.stage).where(Order.number == number)).scalar_one()


def test_list_filters_sorts_pages_and_columns(ui):
    app, api = ui
    kitchens = [api.create_order("kitchen") for _ in range(2)]
    wardrobe = api.create_order("wardrobe")
    client = signed_in(app, "sales")
    page = client.get("/orders?kind=kitchen").data.decode()
    assert all(n in page for n in kitchens) and wardrobe not in page
    ordered = client.get("/orders?sort=number").data.decode()
    assert ordered.index(kitchens[0]) < ordered.index(kitchens[1]) < ordered.index(wardrobe)
    reverse = client.get("/orders?sort=-number").data.decode()
    assert reverse.index(wardrobe) < reverse.index(kitchens[0])
    with_phone = client.get("/orders?col=number&col=phone").data.decode()
    assert "+79161234567" in with_phone and "Заказчик</a>" not in with_phone
    remembered = client.get("/orders").data.decode()
    assert "+79161234567" in remembered  # the chosen columns stay for the session
    assert wardrobe in client.get("/orders?q=" + wardrobe).data.decode()
    assert kitchens[0] not in client.get("/orders?q=" + wardrobe).data.decode()


def test_pagination(ui, monkeypatch):
    app, api = ui
    from app.orders import routes

    monkeypatch.setattr(routes, "PER_PAGE", 2)
    numbers = [api.create_order() for _ in range(3)]
    client = signed_in(app, "sales")
    first = client.get("/orders?sort=number").data.decode()
    second = client.get("/orders?sort=number&page=2").data.decode()
    assert numbers[0] in first and numbers[2] not in first
    assert numbers[2] in second and numbers[0] not in second and "всего 3" in second


def test_saved_filter_round_trip(ui):
    app, api = ui
    api.create_order("kitchen")
    client = signed_in(app, "sales")
    response = client.post("/orders/filters", data={"name": "Кухни", "query": "kind=kitchen"})
    assert response.status_code == 302 and "kind=kitchen" in response.location
    page = client.get("/orders").data.decode()
    assert "Кухни" in page and "?kind=kitchen" in page
    assert "Кухни" not in signed_in(app, "dispatch").get("/orders").data.decode()  # filters are personal


def test_partner_sees_only_its_own_orders(ui):
    app, api = ui
    mine = api.create_order(as_="partner_mega")
    other = api.create_order(as_="partner_agent")
    staff = api.create_order()
    client = signed_in(app, "partner_mega")
    # The staff order pages send a partner to its portal, which shows only its own orders.
    assert client.get("/orders").location.endswith("/partner")
    page = client.get("/orders", follow_redirects=True).data.decode()
    assert mine in page and other not in page and staff not in page
    assert client.get(f"/orders/{mine}", follow_redirects=True).status_code == 200
    assert client.get(f"/orders/{other}", follow_redirects=True).status_code == 404
    assert client.get(f"/orders/{staff}?tab=history", follow_redirects=True).status_code == 404
    refused = client.post(f"/orders/{mine}/notes", data={"text": "hi"})  # notes are the employees' (the policy)
    assert refused.status_code == 403 and "Примечания и вложения добавляют сотрудники" in refused.data.decode()
    assert client.get("/orders/new").status_code == 403


def test_bulk_confirm_moves_new_orders_on(ui):
    app, api = ui
    numbers = [api.create_order() for _ in range(3)]
    client = signed_in(app, "sales")
    page = client.post("/orders/bulk", data={"bulk_action": "confirm", "orders": numbers}).data.decode()
    assert page.count("✓") == 3 and "Выполнено: 3 из 3" in page
    assert {stage_of(app, n) for n in numbers} == {"Планирование выезда на замер"}


def test_bulk_cancel_refuses_what_cannot_be_cancelled_and_names_the_stage(ui):
    app, api = ui
    fresh = [api.create_order() for _ in range(2)]
    busy = api.create_order()
    api.walk(busy, HAPPY_CASH[:6])
    assert stage_of(app, busy) == "Производство"
    client = signed_in(app, "sales")
    missing_reason = client.post("/orders/bulk", data={"bulk_action": "cancel", "orders": fresh}).data.decode()
    assert "Укажите причину отмены" in missing_reason and {stage_of(app, n) for n in fresh} == {"Новый заказ"}
    page = client.post("/orders/bulk", data={"bulk_action": "cancel", "reason": "Дубли заявок",
                                             "orders": [*fresh, busy]}).data.decode()
    assert "Выполнено: 2 из 3" in page and "«Производство»" in page
    assert {stage_of(app, n) for n in fresh} == {"Отменён"} and stage_of(app, busy) == "Производство"


def test_bulk_assign_is_for_heads_and_bulk_confirm_for_sales(ui):
    app, api = ui
    number = api.create_order()
    refused = signed_in(app, "sales").post("/orders/bulk", data={
        "bulk_action": "assign", "assignee": "sales", "orders": [number]}).data.decode()
    assert "Выполнено: 0 из 1" in refused
    done = signed_in(app, "head_sales").post("/orders/bulk", data={
        "bulk_action": "assign", "assignee": "sales", "orders": [number]}).data.decode()
    assert "Выполнено: 1 из 1" in done and api.open_task(number)["assignee"] == "sales"
    measurer = signed_in(app, "measurer").post("/orders/bulk", data={
        "bulk_action": "confirm", "orders": [number]}).data.decode()
    assert "Выполнено: 0 из 1" in measurer and stage_of(app, number) == "Новый заказ"


def test_card_tabs_show_the_order(ui):
    app, api = ui
    number = api.create_order()
    api.walk(number, HAPPY_CASH[:5], {"price": 150000.0, "prepayment": 40000.0})
    client = signed_in(app, "sales")
    data = client.get(f"/orders/{number}").data.decode()
    assert "Иванова Мария Петровна" in data and "150" in data and "Комплектация" in data
    payments = client.get(f"/orders/{number}?tab=payments").data.decode()
    assert "40\u00a0000,00\u00a0₽" in payments and "110\u00a0000,00\u00a0₽" in payments  # paid and balance
    documents = client.get(f"/orders/{number}?tab=documents").data.decode()
    assert "Договор" in documents and "Счёт на оплату" in documents
    link = re.search(r'href="(/orders/[^"]+/documents/\d+)"', documents)
    assert link and client.get(link.group(1)).headers["Content-Type"].startswith("application/pdf")
    history = client.get(f"/orders/{number}?tab=history").data.decode()
    assert "Новый заказ</span> → <strong>Планирование выезда на замер</strong>" in history
    price_row = re.search(r"<tr[^>]*>(?:(?!</tr>).)*>Стоимость</td>(?:(?!</tr>).)*</tr>", history, re.S).group(0)
    assert "—</span> → <strong>150\u00a0000,00\u00a0₽</strong>" in price_row and "Анна Продажина" in price_row
    assert re.search(r'class="duration">[^<]*(мин|ч|д)', history)
    tasks = client.get(f"/orders/{number}?tab=tasks").data.decode()
    assert "выполнена" in tasks and "Замер" in tasks


def test_notes_mention_colleagues_and_links_attach(ui):
    app, api = ui
    number = api.create_order()
    client = signed_in(app, "sales")
    client.post(f"/orders/{number}/notes", data={"text": "@measurer уточни этаж, @nobody не существует"})
    page = client.get(f"/orders/{number}?tab=notes").data.decode()
    assert '<mark class="mention">@measurer</mark>' in page
    with app.app_context():
        sent = db.session.execute(select(Notification.recipient, Notification.event)).all()
    assert sent.count(("measurer@bespoke.example", "note_mention")) == 1
    client.post(f"/orders/{number}/attachments", data={"url": "https://example.com/plan.pdf", "title": "План"})
    assert "План" in client.get(f"/orders/{number}?tab=notes").data.decode()
    bad = client.post(f"/orders/{number}/attachments", data={"url": "javascript:alert(1)"}, follow_redirects=True)
    assert "http://" in bad.data.decode()


def test_cancel_from_the_card(ui):
    app, api = ui
    number = api.create_order()
    client = signed_in(app, "sales")
    client.post(f"/orders/{number}/cancel", data={"reason": "Заказчик передумал"})
    assert stage_of(app, number) == "Отменён"
    late = api.create_order()
    api.walk(late, HAPPY_CASH[:5])
    page = client.post(f"/orders/{late}/cancel", data={"reason": "Поздно"}, follow_redirects=True).data.decode()
    assert "отмена невозможна" in page and stage_of(app, late) == "Комплектация"
    refused = signed_in(app, "measurer").post(f"/orders/{late}/cancel", data={"reason": "x y z"})
    assert refused.status_code == 403 and "Отменять заказы могут" in refused.data.decode()
    assert stage_of(app, late) == "Комплектация"


def test_new_order_form_keeps_values_and_finds_customers(ui):
    app, api = ui
    existing = api.create_order()
    client = signed_in(app, "sales")
    bad = client.post("/orders/new", data={"kind": "kitchen", "customer.name": "Петров П.", "customer.phone": "12",
                                           "address": "Москва, Ленинский 99"})
    page = bad.data.decode()
    assert bad.status_code == 422 and "Неверный номер телефона" in page and "Ленинский 99" in page
    lookup = client.get("/orders/customers?phone=8 916 123 45 67").data.decode()
    assert "Иванова Мария Петровна" in lookup
    as_htmx_sends_it = client.get("/orders/customers", query_string={"customer.phone": "8(916)123-45-67"})
    assert "Иванова Мария Петровна" in as_htmx_sends_it.data.decode()
    good = client.post("/orders/new", data={"kind": "kitchen", "channel": "phone", "customer.name": "Петров П.",
                                            "customer.phone": "+7 903 765-43-21", "address": "Москва"})
    assert good.status_code == 302 and "/orders/" in good.location
    assert existing not in good.location
    assert signed_in(app, "measurer").get("/orders/new").status_code == 403
