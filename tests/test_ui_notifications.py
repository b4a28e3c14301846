"""What was sent about an order and who was chased, as employees see it; their own notification settings."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Escalation, Notification, Order, User
from tests.support.timers import sla_order, wake_at
from tests.support.web import csrf_of, signed_in


def rows_of(page: str, marker: str) -> list[str]:
    """The table rows carrying `marker` (data-notification / data-escalation), as HTML strings."""
    return re.findall(rf'<tr {marker}="\d+".*?</tr>', page, re.S)


def notifications_of(app, number: str) -> list[Notification]:
    with app.app_context():
        order_id = db.session.execute(select(Order.id).where(Order.number == number)).scalar_one()
        rows = db.session.execute(select(Notification).where(Notification.order_id == order_id)).scalars().all()
        db.session.expunge_all()
        return rows


# -- the Notifications tab ---------------------------------------------------------------------------

def test_notifications_tab_lists_what_was_sent_to_the_customer(app, api):
    number = api.create_order()
    sent = [n for n in notifications_of(app, number) if n.event == "order_received"]
    assert {n.channel for n in sent} >= {"email", "sms"} and {n.status for n in sent} == {"sent"}
    client = signed_in(app, "sales")
    card = client.get(f"/orders/{number}")
    assert "Уведомления" in card.data.decode() and "tab=notifications" in card.data.decode()

    page = client.get(f"/orders/{number}?tab=notifications").data.decode()
    rows = rows_of(page, "data-notification")
    assert len(rows) == len(notifications_of(app, number))
    email = next(r for r in rows if "maria@example.com" in r)
    assert "Заказ принят" in email and "E-mail" in email and "Отправлено" in email and 'badge ok' in email
    sms = next(r for r in rows if "+79161234567" in r)
    assert "Заказ принят" in sms and "SMS" in sms and "Отправлено" in sms
    for note in sent:  # the provider and its message id are what support quotes to the gateway
        assert note.provider and note.provider_ref and f"<code>{note.provider_ref}</code>" in page
    assert page.index(f'data-notification="{max(n.id for n in sent)}"') < page.index(
        f'data-notification="{min(n.id for n in sent)}"')  # newest first


def test_a_failed_notification_shows_the_error_and_its_reason(app, api):
    number = api.create_order()
    email = next(n for n in notifications_of(app, number) if n.channel == "email")
    with app.app_context():
        row = db.session.get(Notification, email.id)
        row.status, row.error = "failed", "550 5.1.1 mailbox unavailable"
        db.session.commit()
    client = signed_in(app, "sales")
    page = client.get(f"/orders/{number}?tab=notifications").data.decode()
    failed = next(r for r in rows_of(page, "data-notification") if f'"{email.id}"' in r)
    assert "Ошибка" in failed and "550 5.1.1 mailbox unavailable" in failed and "badge overdue" in failed
    assert "Отправлено" not in failed


def test_partners_do_not_see_the_notifications_tab(app, api):
    number = api.create_order(as_="partner_mega")
    client = signed_in(app, "partner_mega")
    # A partner's order card is the portal's: no tabs, no notifications, no escalations.
    card = client.get(f"/orders/{number}", follow_redirects=True).data.decode()
    assert "tab=notifications" not in card
    fallback = client.get(f"/orders/{number}?tab=notifications", follow_redirects=True).data.decode()
    assert "data-notification" not in fallback and "maria@example.com" in fallback
    tasks = client.get(f"/orders/{number}?tab=tasks", follow_redirects=True).data.decode()
    assert "Эскалации по срокам" not in tasks


def test_notifications_tab_in_english(app, api):
    number = api.create_order()
    client = signed_in(app, "sales")
    page = client.get("/inbox")
    client.post("/language", data={"locale": "en", "csrf_token": csrf_of(page.data)})
    html = client.get(f"/orders/{number}?tab=notifications").data.decode()
    assert "Notifications" in html and "Order received" in html and "Sent" in html and "Отправлено" not in html


# -- SLA escalations on the card and in the inbox ------------------------------------------------------

def test_escalation_is_listed_on_the_card_badged_in_the_inbox_and_cleared(make_app):
    # One SLA hour lasts 0.5 s: the 4-hour new-order SLA warns at 1.5 s.
    app, api, number, task, created = sla_order(make_app)
    assert wake_at(app, created, hours=3, minutes=1) == 1
    with app.app_context():
        escalation = db.session.execute(select(Escalation)).scalar_one()
        told = [p["name"] for p in escalation.notified]
    assert escalation.level == "warning" and told

    client = signed_in(app, "sales")
    page = client.get(f"/orders/{number}?tab=tasks").data.decode()
    assert "Эскалации по срокам" in page
    (row,) = rows_of(page, "data-escalation")
    assert "Предупреждение (75 %)" in row and "действует" in row and "снята" not in row
    assert all(name in row for name in told)

    inbox = client.get("/inbox?tab=queue").data.decode()
    line = next(r for r in re.findall(r'<tr data-task="\d+">.*?</tr>', inbox, re.S) if number in r)
    assert "⚠ 75 %" in line and "sla-level" in line

    api.step(number, "new_order")
    (row,) = rows_of(client.get(f"/orders/{number}?tab=tasks").data.decode(), "data-escalation")
    assert "снята" in row and "действует" not in row


def test_no_escalations_says_so(app, api):
    number = api.create_order()
    page = signed_in(app, "sales").get(f"/orders/{number}?tab=tasks").data.decode()
    assert "Эскалации по срокам" in page and "эскалаций не было" in page


# -- the user's own notification settings --------------------------------------------------------------

@pytest.fixture
def web(make_app):
    app = make_app()
    return app, signed_in(app, "sales")


def settings_of(app, login: str) -> tuple[list | None, str | None]:
    with app.app_context():
        user = db.session.execute(select(User).where(User.login == login)).scalar_one()
        return user.notify_channels, user.phone


def test_settings_page_shows_the_notifications_fieldset(web):
    app, client = web
    page = client.get("/password").data.decode()
    assert "<legend>Уведомления</legend>" in page
    assert re.search(r'name="channels" value="email"\s+checked', page)  # None means e-mail
    assert not re.search(r'name="channels" value="sms"\s+checked', page)


def test_saving_email_and_sms_with_a_phone(web):
    app, client = web
    token = csrf_of(client.get("/password").data)
    response = client.post("/settings/notifications", data={"channels": ["email", "sms"], "phone": "8 (916) 555-12-34",
                                                             "csrf_token": token})
    assert response.status_code == 302
    assert settings_of(app, "sales") == (["email", "sms"], "+79165551234")
    page = client.get(response.location).data.decode()
    assert "Настройки уведомлений сохранены" in page and 'value="+79165551234"' in page
    assert re.search(r'name="channels" value="sms"\s+checked', page)


def test_sms_without_a_phone_comes_back_with_the_error_and_the_ticks_kept(web):
    app, client = web
    before = settings_of(app, "sales")
    token = csrf_of(client.get("/password").data)
    response = client.post("/settings/notifications", data={"channels": ["sms"], "phone": "", "csrf_token": token})
    assert response.status_code == 422
    page = response.data.decode()
    assert "Для SMS-уведомлений укажите номер телефона" in page and 'aria-invalid="true"' in page
    assert re.search(r'name="channels" value="sms"\s+checked', page)
    assert not re.search(r'name="channels" value="email"\s+checked', page)
    assert settings_of(app, "sales") == before
    bad = client.post("/settings/notifications", data={"channels": ["email", "sms"], "phone": "12ab",
                                                      "csrf_token": token})
    assert bad.status_code == 422 and "Неверный номер телефона" in bad.data.decode()
    assert 'value="12ab"' in bad.data.decode() and settings_of(app, "sales") == before


def test_nothing_ticked_means_in_app_only(web):
    app, client = web
    token = csrf_of(client.get("/password").data)
    assert client.post("/settings/notifications", data={"phone": "", "csrf_token": token}).status_code == 302
    assert settings_of(app, "sales") == ([], None)
    page = client.get("/password").data.decode()
    assert not re.search(r'name="channels" value="(email|sms)"\s+checked', page)


def test_settings_need_sign_in_and_a_csrf_token(web):
    app, client = web
    anonymous = app.test_client()
    token = csrf_of(anonymous.get("/login").data)
    for response in (anonymous.get("/password"),
                     anonymous.post("/settings/notifications", data={"channels": ["email"], "csrf_token": token})):
        assert response.status_code == 302 and "/login" in response.location
    assert client.post("/settings/notifications", data={"channels": ["email"]}).status_code == 400
