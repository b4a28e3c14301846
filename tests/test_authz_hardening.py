"""Authorization and sessions as an outside tester probed them: bulk actions under the single actions' rules,
the API on bearer tokens only, cookies that stay home, one sign-in throttle for the form and the token endpoint,
partners reading only what they typed — and two pages that broke or offered too much."""
from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, Customer, Order
from tests.support.api import HAPPY_CASH, Api
from tests.support.web import csrf_of, sign_in, signed_in


@pytest.fixture
def web(make_app):
    """CSRF on, as in production."""
    app = make_app()
    return app, Api(app, app.test_client())


def text_of(response) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", response.get_data(as_text=True), flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def stage_of(app, number: str) -> str:
    with app.app_context():
        return db.session.execute(select(Order.stage).where(Order.number == number)).scalar_one()


# -- 5. bulk actions under the same policy as single ones -----------------------------------------------------

ROLES = ["sales", "dispatch", "measurer", "designer", "accountant", "procurement", "production",
         "delivery_dispatch", "installer", "quality", "director", "analyst", "admin", "head_sales", "partner_mega"]
# What the single actions allow: cancel (sales — their head too —, dispatch, management), confirm = the
# «Новый заказ» task of the sales lane, assign = the head of the lane's department or an admin.
# A partner: none, even on its own order.
ALLOWED = {
    "cancel": {"sales", "head_sales", "dispatch", "director", "admin"},
    "confirm": {"sales", "head_sales"},
    "assign": {"head_sales", "admin"},
}


def _single(api: Api, login: str, action: str, number: str) -> int:
    """The one-order action through the API, as that user: its status code."""
    if action == "cancel":
        return api.post(f"/orders/{number}/cancel", {"reason": "Заказчик передумал"}, as_=login).status_code
    task = api.open_task(number)
    if action == "confirm":
        return api.post(f"/tasks/{task['id']}/complete", {"data": {"decision": "confirm"}}, as_=login).status_code
    return api.post(f"/tasks/{task['id']}/assign", {"user": "sales"}, as_=login).status_code


def _untouched(api: Api, number: str) -> bool:
    order = api.order(number)
    return order["status"] == "active" and order["stage"] == "Новый заказ" and order["tasks"][0]["assignee"] is None


def test_bulk_actions_are_allowed_exactly_where_the_single_action_is(make_app):
    app = make_app(WTF_CSRF_ENABLED=False)
    api = Api(app, app.test_client())
    outcomes = {}
    for login in ROLES:
        browser = signed_in(app, login)
        for action, allowed in ALLOWED.items():
            number = api.create_order(as_="partner_mega")  # the partner's own order: it sees it
            page = browser.post("/orders/bulk", data={"bulk_action": action, "orders": [number],
                                                      "reason": "Дубль заявки", "assignee": "sales"})
            bulk_ok = "Выполнено: 1 из 1" in text_of(page)
            if not bulk_ok:
                assert _untouched(api, number), (login, action)
                assert "Отказано" in text_of(page) and "Выполнено: 0 из 1" in text_of(page)
                single = _single(api, login, action, number)  # the same untouched order
            else:
                single = _single(api, login, action, api.create_order(as_="partner_mega"))
            outcomes[(login, action)] = (bulk_ok, single == 200)
            assert (bulk_ok, single == 200) == (login in allowed, login in allowed), (login, action, single)
    assert len(outcomes) == len(ROLES) * len(ALLOWED)


def test_a_refused_bulk_cancel_says_why_per_order(make_app):
    app = make_app(WTF_CSRF_ENABLED=False)
    api = Api(app, app.test_client())
    numbers = [api.create_order() for _ in range(2)]
    installer = signed_in(app, "installer")
    page = text_of(installer.post("/orders/bulk", data={"bulk_action": "cancel", "orders": numbers,
                                                        "reason": "Не нравится"}))
    assert "Выполнено: 0 из 2" in page
    assert page.count("Отменять заказы могут продажи, диспетчеры и руководство") == 2
    assert {stage_of(app, n) for n in numbers} == {"Новый заказ"}


# -- 6. the API takes bearer tokens only; cookies SameSite=Lax, HttpOnly, Secure over HTTPS ----------------------

def test_a_cross_site_form_post_with_only_the_session_cookie_is_refused_by_the_api(web):
    app, api = web
    number = api.create_order()
    task = api.open_task(number)
    link = api.order(number)["status_url"].rsplit("/", 1)[1]
    victim = app.test_client()
    assert sign_in(victim, "sales").status_code == 302
    forged = {"Origin": "https://evil.example", "Content-Type": "application/x-www-form-urlencoded"}
    claim = victim.post(f"/api/v1/tasks/{task['id']}/claim", data="x=1", headers=forged)
    reissue = victim.post(f"/api/v1/orders/{number}/status-link", data="x=1", headers=forged)
    assert claim.status_code == 401 and reissue.status_code == 401
    assert "Bearer" in claim.get_json()["message"]
    assert victim.get("/api/v1/orders").status_code == 401
    assert api.open_task(number)["assignee"] is None  # not claimed
    assert app.test_client().get(f"/s/{link}").status_code == 200  # the customer's link lives on
    # The browser's own pages do not need the API: the card's documents come from the card.
    assert victim.get(f"/orders/{number}").status_code == 200


def _cookies(response) -> dict[str, str]:
    return {header.split("=", 1)[0]: header for header in response.headers.getlist("Set-Cookie")}


def test_session_and_remember_cookies_are_samesite_lax_httponly(web):
    app, _ = web
    cookies = _cookies(sign_in(app.test_client(), "sales", remember="1"))
    assert {"session", "remember_token"} <= set(cookies)
    for name in ("session", "remember_token"):
        assert "SameSite=Lax" in cookies[name] and "HttpOnly" in cookies[name], cookies[name]
        assert "Secure" not in cookies[name]  # plain HTTP here: a Secure cookie would never come back


def test_cookies_are_secure_when_served_over_https(make_app):
    app = make_app(PREFERRED_URL_SCHEME="https")
    client = app.test_client()
    page = client.get("/login", base_url="https://localhost")
    response = client.post("/login", base_url="https://localhost", headers={"Referer": "https://localhost/login"},
                           data={"login": "sales", "password": "demo", "remember": "1",
                                 "csrf_token": csrf_of(page.data)})
    assert response.status_code == 302
    cookies = _cookies(response)
    for name in ("session", "remember_token"):
        assert "Secure" in cookies[name] and "SameSite=Lax" in cookies[name], cookies[name]


# -- 7. a partner reads only the customer data it typed -----------------------------------------------------------

def test_a_partner_ordering_for_a_known_phone_sees_what_it_typed_not_our_customer(web):
    app, api = web
    ours = api.create_order()  # Иванова Мария Петровна, +7 916 123-45-67, maria@example.com
    typed = {"name": "Петров Пётр", "phone": "8 (916) 123-45-67"}
    response = api.post("/orders", {"kind": "kitchen", "customer": typed, "address": "Москва, Ленинский 1"},
                        as_="partner_mega")
    assert response.status_code == 201
    number = response.get_json()["number"]
    shown = api.get(f"/orders/{number}", as_="partner_mega").get_json()["customer"]
    assert shown == {"name": "Петров Пётр", "phone": "+79161234567", "email": None}
    portal = app.test_client()
    sign_in(portal, "partner_mega")
    card = text_of(portal.get(f"/partner/orders/{number}"))
    status_page = text_of(app.test_client().get("/s/" + response.get_json()["status_url"].rsplit("/", 1)[1]))
    for page in (card, status_page):
        assert "Иванова" not in page and "maria@example.com" not in page
    assert "Петров Пётр" in card
    # The portal's own form keeps the name typed as well.
    form = portal.get("/partner/orders/new")
    posted = portal.post("/partner/orders/new", data={
        "kind": "wardrobe", "customer.name": "Сидорова Анна", "customer.phone": "+7 916 123-45-67",
        "address": "Москва, Тверская 2", "csrf_token": csrf_of(form.data)})
    assert posted.status_code == 302
    second = text_of(portal.get(posted.location))
    assert "Сидорова Анна" in second and "Иванова" not in second and "maria@example.com" not in second
    # Our own customer is untouched, and our own intake still finds them by phone.
    assert api.order(ours)["customer"]["name"] == "Иванова Мария Петровна"
    again = api.create_order()
    assert api.order(again)["customer"] == api.order(ours)["customer"]
    with app.app_context():
        assert db.session.execute(select(Customer.name).where(Customer.phone == "+79161234567")
                                  .order_by(Customer.id)).scalars().all() == [
            "Иванова Мария Петровна", "Петров Пётр", "Сидорова Анна"]


# -- 8. one sign-in throttle for the web form and the token endpoint; /processes for staff ------------------------

def test_thirty_wrong_passwords_then_the_right_one_get_429_on_both_surfaces(web):
    app, api = web
    for _ in range(30):
        api.client.post("/api/v1/auth/token", json={"login": "sales", "password": "wrong"})
    token = api.client.post("/api/v1/auth/token", json={"login": "sales", "password": "demo"})
    assert token.status_code == 429 and "token" not in token.get_json()
    assert token.get_json()["error"] == "too_many_requests"
    assert 0 < int(token.headers["Retry-After"]) <= 15 * 60
    browser = app.test_client()
    for _ in range(30):
        sign_in(browser, "dispatch", "wrong")
    form = sign_in(browser, "dispatch")
    assert form.status_code == 429 and 0 < int(form.headers["Retry-After"]) <= 15 * 60
    assert "Слишком много неудачных попыток" in text_of(form)
    # The same lock, whichever door was knocked on.
    assert sign_in(app.test_client(), "sales").status_code == 429
    assert api.client.post("/api/v1/auth/token", json={"login": "dispatch", "password": "demo"}).status_code == 429
    # Others are not locked out.
    assert api.client.post("/api/v1/auth/token", json={"login": "measurer", "password": "demo"}).status_code == 200


def test_a_login_locked_out_on_the_web_form_gets_no_api_token(web):
    app, api = web
    browser = app.test_client()
    for _ in range(5):
        assert sign_in(browser, "accountant", "wrong").status_code == 401
    refused = api.client.post("/api/v1/auth/token", json={"login": "accountant", "password": "demo"})
    assert refused.status_code == 429 and "Retry-After" in refused.headers


def test_process_versions_are_for_those_who_model_and_run_them(web):
    _app, api = web
    for login in ("partner_mega", "partner_agent", "director", "sales"):  # the director reads reports, not diagrams
        assert api.get("/processes", as_=login).status_code == 403, login
    for login in ("analyst", "admin"):
        response = api.get("/processes", as_=login)
        assert response.status_code == 200 and response.get_json()["items"], login


# -- 3. the admin's «Шаблоны» page -------------------------------------------------------------------------------

def test_the_templates_page_renders_in_russian_and_english(web):
    app, _ = web
    admin = app.test_client()
    sign_in(admin, "admin")
    russian = admin.get("/admin/notifications")
    assert russian.status_code == 200 and "Срок этапа подходит (75 %)" in text_of(russian)
    admin.post("/language", data={"locale": "en", "csrf_token": csrf_of(russian.data)})
    english = admin.get("/admin/notifications")
    assert english.status_code == 200 and "Stage deadline approaching (75 %)" in text_of(english)


# -- 4. contract approval only while it matters ------------------------------------------------------------------

def test_contract_approval_is_offered_until_payment_and_at_delivery_neither_offered_nor_taken(web):
    app, api = web
    number = api.create_order()
    api.walk(number, HAPPY_CASH[:4])  # the contract is ready; the customer pays next: approval still matters
    token = api.order(number)["status_url"].rsplit("/", 1)[1]
    customer = app.test_client()
    assert "Согласовать договор" in text_of(customer.get(f"/s/{token}"))
    api.walk(number, HAPPY_CASH[4:7])  # paid, made: planning the delivery
    page = customer.get(f"/s/{token}")
    assert "Доставка и монтаж" in text_of(page) and "Договор" in text_of(page)
    assert "Согласовать договор" not in text_of(page)
    refused = customer.post(f"/s/{token}/contract", data={"version": "1", "agree": "1",
                                                          "csrf_token": csrf_of(page.data)})
    assert refused.status_code == 409
    assert "Договор уже не нужно согласовывать: заказ на этапе «Доставка и монтаж»" in text_of(refused)
    with app.app_context():
        assert db.session.execute(select(AuditEvent).where(AuditEvent.field == "contract_approved")).first() is None
