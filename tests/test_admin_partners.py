"""Admins: partners, their commissions per order kind and their accounts."""
from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, Partner, User
from app.services.settlements import commission_pct
from tests.support.api import Api
from tests.support.web import csrf_of, sign_in, signed_in

MEGA_NAME = "ТЦ «МЕГА Тёплый Стан», салон «Шкафы-купе»"
PCT = "\u00a0%"  # '12,5 %': the number and its sign never part across lines


@pytest.fixture
def web(make_app):
    """A seeded app with CSRF on, as in production."""
    return make_app()


def partner_id(app, code: str = "mega") -> int:
    with app.app_context():
        return db.session.execute(select(Partner.id).where(Partner.code == code)).scalar_one()


def mega_form(token: str, **fields) -> dict:
    """Mega's edit form as the page shows it, with some fields changed."""
    return {"csrf_token": token, "name": MEGA_NAME, "code": "mega", "kind": "point_of_sale", "contact": "",
            "commission_pct": "10", **fields}


def partner_row(page: str, pid: int) -> str:
    return re.search(rf'<tr id="partner-{pid}">(.*?)</tr>', page, re.S).group(1)


def test_a_kitchen_override_and_the_general_percentage_are_what_settlements_use(web):
    client, mega = signed_in(web, "admin"), partner_id(web)
    token = csrf_of(client.get(f"/admin/partners/{mega}").data)

    saved = client.post(f"/admin/partners/{mega}", data=mega_form(token, commission_pct="9", pct_kitchen="12,5"),
                        follow_redirects=True)
    assert saved.status_code == 200 and "Партнёр сохранён" in saved.data.decode()
    assert 'value="12,5"' in saved.data.decode()  # the edit page shows the override as typed
    with web.app_context():
        partner = db.session.get(Partner, mega)
        assert commission_pct(partner, "kitchen") == Decimal("12.5")
        assert commission_pct(partner, "wardrobe") == Decimal("9")
    Api(web, web.test_client()).create_order(kind="kitchen", channel="partner", partner="mega")
    row = partner_row(client.get("/admin/partners").data.decode(), mega)
    assert f"9{PCT}" in row and f"Кухонный гарнитур — 12,5{PCT}" in row
    assert re.findall(r"<td[^>]*>(\d+)</td>", row) == ["1", "1"]  # one order, one account

    cleared = client.post(f"/admin/partners/{mega}", data=mega_form(token, commission_pct="9", pct_kitchen=""))
    assert cleared.status_code == 302
    with web.app_context():
        partner = db.session.get(Partner, mega)
        assert partner.commissions == []
        assert commission_pct(partner, "kitchen") == Decimal("9")
    row = partner_row(client.get("/admin/partners").data.decode(), mega)
    assert "Кухонный гарнитур" not in row and f"9{PCT}" in row


def test_a_commission_change_is_in_the_audit_log_with_old_and_new_values(web):
    client, mega = signed_in(web, "admin"), partner_id(web)
    token = csrf_of(client.get(f"/admin/partners/{mega}").data)
    client.post(f"/admin/partners/{mega}", data=mega_form(token, commission_pct="9,5", pct_kitchen="12.5"))
    client.post(f"/admin/partners/{mega}", data=mega_form(token, commission_pct="9,5"))
    with web.app_context():
        events = db.session.execute(select(AuditEvent).where(AuditEvent.entity == "partner")
                                    .order_by(AuditEvent.id)).scalars().all()
        logged = [(e.entity_id, e.field, e.old_value, e.new_value, e.actor_label) for e in events]
    assert logged == [(str(mega), "commission_pct", "10.00", "9.50", "admin"),
                      (str(mega), "commission_pct.kitchen", None, "12.50", "admin"),
                      (str(mega), "commission_pct.kitchen", "12.50", None, "admin")]


def test_bad_input_is_shown_again_with_a_message_per_field_and_nothing_is_saved(web):
    client, mega = signed_in(web, "admin"), partner_id(web)
    token = csrf_of(client.get(f"/admin/partners/{mega}").data)

    refused = client.post(f"/admin/partners/{mega}", data=mega_form(
        token, name="МЕГА", code="mega store", commission_pct="150", pct_kitchen="abc", pct_windows="5"))
    page = refused.data.decode()
    assert refused.status_code == 422 and "Партнёр не сохранён" in page
    assert "Процент не может быть больше 100" in page
    assert "Введите число от 0 до 100" in page  # beside the kitchen row
    assert "латинские буквы, цифры" in page
    for typed in ('value="МЕГА"', 'value="mega store"', 'value="150"', 'value="abc"', 'value="5"'):
        assert typed in page

    taken = client.post(f"/admin/partners/{mega}", data=mega_form(token, name="МЕГА", code="AGENT_IVANOV"))
    assert taken.status_code == 422 and "Код AGENT_IVANOV уже занят" in taken.data.decode()
    assert 'value="AGENT_IVANOV"' in taken.data.decode()

    new = client.post("/admin/partners/new", data={"csrf_token": token, "name": "Салон на Ленинском",
                                                   "code": "mega", "kind": "point_of_sale", "commission_pct": "8"})
    assert new.status_code == 422 and "Код mega уже занят" in new.data.decode()
    assert 'value="Салон на Ленинском"' in new.data.decode()

    with web.app_context():
        partners = db.session.execute(select(Partner).order_by(Partner.id)).scalars().all()
        assert [(p.code, p.name, p.commission_pct, p.commissions) for p in partners] == [
            ("mega", MEGA_NAME, Decimal("10"), []), ("agent_ivanov", "Агент Иванов П. С.", Decimal("7.5"), [])]
        assert db.session.execute(select(AuditEvent).where(AuditEvent.entity == "partner")).first() is None


def test_a_new_partner_is_listed_with_its_commission(web):
    client = signed_in(web, "admin")
    token = csrf_of(client.get("/admin/partners/new").data)
    created = client.post("/admin/partners/new", data={
        "csrf_token": token, "name": "Агент Сидорова", "code": "agent-sidorova", "kind": "agent",
        "contact": "+7 916 000-11-22", "commission_pct": "6.25", "pct_windows": "4"})
    assert created.status_code == 302
    sidorova = partner_id(web, "agent-sidorova")
    assert created.location.endswith(f"/admin/partners/{sidorova}")
    row = partner_row(client.get("/admin/partners").data.decode(), sidorova)
    assert "Агент Сидорова" in row and "Агент</td>" in row and f"6,25{PCT}" in row
    assert f"Пластиковые окна — 4{PCT}" in row


def test_a_partner_account_signs_in_to_its_partner_and_can_be_switched_off(web):
    client, mega = signed_in(web, "admin"), partner_id(web)
    token = csrf_of(client.get(f"/admin/partners/{mega}").data)
    account = {"csrf_token": token, "login": "mega_cashier", "name": "Кассир МЕГА", "email": "kassa@mega.example",
               "password": "kassa-2026"}

    short = client.post(f"/admin/partners/{mega}/accounts", data={**account, "password": "kassa"})
    assert short.status_code == 422 and "Пароль — не короче 8 знаков" in short.data.decode()
    assert 'value="mega_cashier"' in short.data.decode() and 'value="kassa"' not in short.data.decode()

    created = client.post(f"/admin/partners/{mega}/accounts", data=account, follow_redirects=True)
    assert created.status_code == 200 and "mega_cashier" in created.data.decode()
    with web.app_context():
        user = db.session.execute(select(User).where(User.login == "mega_cashier")).scalar_one()
        assert user.partner_id == mega and user.role_codes == {"partner"} and user.active
        user_id = user.id
    cashier = web.test_client()
    signed = sign_in(cashier, "mega_cashier", "kassa-2026")
    assert signed.status_code == 302 and signed.location.endswith("/partner")
    assert "Мои заказы" in cashier.get("/partner").data.decode()
    row = partner_row(client.get("/admin/partners").data.decode(), mega)
    assert re.findall(r"<td[^>]*>(\d+)</td>", row)[-1] == "2"  # partner_mega and the cashier

    duplicate = client.post(f"/admin/partners/{mega}/accounts", data={**account, "login": "Partner_Agent"})
    assert duplicate.status_code == 422 and "Логин Partner_Agent уже занят" in duplicate.data.decode()

    off = client.post(f"/admin/partners/{mega}/accounts/{user_id}/active", data={"csrf_token": token, "active": "0"},
                      follow_redirects=True)
    assert off.status_code == 200 and "отключена" in off.data.decode()
    assert "/login" in cashier.get("/partner").location  # the session already open ends too
    assert sign_in(web.test_client(), "mega_cashier", "kassa-2026").status_code == 401
    client.post(f"/admin/partners/{mega}/accounts/{user_id}/active", data={"csrf_token": token, "active": "1"})
    assert sign_in(web.test_client(), "mega_cashier", "kassa-2026").status_code == 302
    with web.app_context():
        switched = db.session.execute(select(AuditEvent.field, AuditEvent.old_value, AuditEvent.new_value).where(
            AuditEvent.entity == "user", AuditEvent.entity_id == str(user_id)).order_by(AuditEvent.id)).all()
    assert switched == [("active", "True", "False"), ("active", "False", "True")]


def test_an_account_of_another_partner_cannot_be_switched_through_this_one(web):
    client, mega, agent = signed_in(web, "admin"), partner_id(web), partner_id(web, "agent_ivanov")
    token = csrf_of(client.get(f"/admin/partners/{mega}").data)
    with web.app_context():
        agent_user = db.session.execute(select(User.id).where(User.partner_id == agent)).scalar_one()
    response = client.post(f"/admin/partners/{mega}/accounts/{agent_user}/active",
                           data={"csrf_token": token, "active": "0"})
    assert response.status_code == 404
    assert sign_in(web.test_client(), "partner_agent").status_code == 302


def test_a_director_may_look_but_not_change(web):
    director, mega = signed_in(web, "director"), partner_id(web)
    assert "Кухонный гарнитур" in director.get(f"/admin/partners/{mega}").data.decode()
    listing = director.get("/admin/partners").data.decode()
    assert MEGA_NAME in listing and "Новый партнёр" not in listing
    page = director.get(f"/admin/partners/{mega}").data.decode()
    assert "Сохранить" not in page and "Добавить учётную запись" not in page
    token = csrf_of(page.encode())
    assert director.get("/admin/partners/new").status_code == 403
    assert director.post(f"/admin/partners/{mega}", data=mega_form(token, commission_pct="50")).status_code == 403
    with web.app_context():
        assert db.session.get(Partner, mega).commission_pct == Decimal("10")


@pytest.mark.parametrize("login", ["sales", "partner_mega"])
def test_everyone_but_admins_and_directors_is_refused_on_every_partner_route(web, login):
    client, mega = signed_in(web, login), partner_id(web)
    with web.app_context():
        account = db.session.execute(select(User.id).where(User.login == "partner_mega")).scalar_one()
    start = client.get("/partner" if login.startswith("partner") else "/inbox")
    token = csrf_of(start.data)
    values = {"partner_id": mega, "user_id": account}
    checked = 0
    for rule in web.url_map.iter_rules():
        if not rule.rule.startswith("/admin/partners"):
            continue
        url = re.sub(r"<(?:[^:>]+:)?(\w+)>", lambda m: str(values[m.group(1)]), rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            data = {"csrf_token": token, "commission_pct": "50", "active": "0", "login": "intruder",
                    "name": "x", "password": "long-enough"} if method == "POST" else None
            assert client.open(url, method=method, data=data).status_code == 403, (rule.rule, method)
            checked += 1
    assert checked == 7
    with web.app_context():
        assert db.session.get(Partner, mega).commission_pct == Decimal("10")
        assert db.session.get(User, account).active
        assert db.session.execute(select(User).where(User.login == "intruder")).first() is None
