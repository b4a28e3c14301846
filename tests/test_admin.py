"""Admins: incidents of background work (UI and API) and notification templates."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import Notification, NotificationTemplate, OutboxJob
from tests.support.api import HAPPY_CASH, Api
from tests.support.fake_onec import FakeOneC
from tests.support.fake_sms import FakeSmsGateway
from tests.support.web import csrf_of, sign_in


def _admin(app):
    client = app.test_client()
    sign_in(client, "admin")
    return client


def test_an_sms_refused_for_good_is_an_incident_and_a_retry_succeeds_once_the_key_is_fixed(make_app):
    with FakeSmsGateway() as gateway:
        app = make_app(**gateway.config("smsru", SMSRU_API_ID="not-the-key"))
        api = Api(app, app.test_client())
        number = api.create_order()
        listed = api.get("/incidents", as_="admin").get_json()
        assert listed["count"] == 1
        [incident] = listed["items"]
        assert (incident["operator"], incident["order_number"], incident["status"]) == ("sms.send", number, "incident")
        assert "SMS.ru" in incident["error"]
        assert api.get("/incidents", as_="sales").status_code == 403
        assert api.post(f"/incidents/{incident['id']}/retry", as_="director").status_code == 403

        page = _admin(app).get("/admin/incidents").data.decode()
        assert number in page and "sms.send" in page and "SMS.ru" in page
        assert "Инциденты <span" in page  # the menu counts them

        app.config["SMSRU_API_ID"] = gateway.SMSRU_API_ID  # the admin puts the right key in place
        response = api.post(f"/incidents/{incident['id']}/retry", as_="admin")
        assert response.status_code == 200 and response.get_json()["status"] == "done"
        with app.app_context():
            note = db.session.execute(select(Notification).where(Notification.channel == "sms")).scalar_one()
            assert note.status == "sent" and note.error is None
        assert len(gateway.accepted) == 1 and gateway.accepted[0].phone == "79161234567"
        assert api.get("/incidents", as_="admin").get_json()["count"] == 0
        again = api.post(f"/incidents/{incident['id']}/retry", as_="admin")
        assert again.status_code == 409 and "не в статусе инцидента" in again.get_json()["message"]


def test_skipping_a_1c_incident_with_a_result_moves_the_order_on(make_app):
    onec = FakeOneC("Обмен", "секрет")
    try:
        app = make_app(ONEC_URL=onec.odata_url, ONEC_USER="Обмен", ONEC_PASSWORD="не тот")
        api = Api(app, app.test_client())
        number = api.create_order()
        api.walk(number, HAPPY_CASH[:5])  # the payment is in: the 1C exchange runs next, and is refused
        assert api.open_task(number) is None  # the order waits for the exchange
        with app.app_context():
            job = db.session.execute(select(OutboxJob).where(OutboxJob.operator == "onec.sync")).scalar_one()
            assert job.status == "incident"
        client = _admin(app)
        page = client.get("/admin/incidents")
        assert "неверный логин или пароль" in page.data.decode()
        token = csrf_of(page.data)

        refused = client.post(f"/admin/incidents/{job.id}/skip", data={"csrf_token": token, "reason": "Вручную",
                                                                       "result": "{not json"})
        text = refused.data.decode()
        # The bad result is named beside its field and what was typed is still there.
        assert refused.status_code == 422 and "Результат — не JSON" in text
        assert "{not json" in text and 'value="Вручную"' in text
        no_reason = client.post(f"/admin/incidents/{job.id}/skip", data={"csrf_token": token, "reason": " ",
                                                                         "result": ""})
        assert no_reason.status_code == 422 and "Укажите, почему задание пропускается" in no_reason.data.decode()
        done = client.post(f"/admin/incidents/{job.id}/skip", data={
            "csrf_token": token, "reason": "Провели в 1С вручную", "result": '{"status": "synced_by_hand"}'},
            follow_redirects=True)
        assert done.status_code == 200 and "пропущено" in done.data.decode()
        assert api.open_task(number)["bpmn_id"] == "procurement"
        with app.app_context():
            job = db.session.get(OutboxJob, job.id)
            assert job.status == "skipped" and job.result["status"] == "synced_by_hand"
            assert job.result["reason"] == "Провели в 1С вручную"
    finally:
        onec.stop()


def test_admin_pages_are_for_admins(api, client):
    sign_in(client, "sales")
    for path in ("/admin/incidents", "/admin/notifications", "/admin/notifications/order_received/ru"):
        assert client.get(path).status_code == 403
    director = api.app.test_client()
    sign_in(director, "director")
    assert director.get("/admin/incidents").status_code == 200  # directors may look
    assert director.get("/admin/notifications").status_code == 403


def test_a_template_is_checked_previewed_saved_used_and_reset(api):
    client = _admin(api.app)
    first = api.create_order()
    page = client.get("/admin/notifications/order_received/ru")
    assert page.status_code == 200 and "Ваш заказ" in page.data.decode()
    token = csrf_of(page.data)
    broken = {"csrf_token": token, "subject": "Заказ {{ order.number }", "text": "Свой текст {{ order.number }}",
              "html": ""}
    refused = client.post("/admin/notifications/order_received/ru", data=broken)
    assert refused.status_code == 422
    assert "Заказ {{ order.number }" in refused.data.decode()  # what was typed is kept

    good = {**broken, "subject": "Приняли заказ {{ order.number }}",
            "text": "{{ order.customer.name }}, заказ {{ order.number }} у нас. {{ status_url }}"}
    shown = client.post("/admin/notifications/order_received/ru/preview", data=good).data.decode()
    assert f"Приняли заказ {first}" in shown and "Иванова Мария Петровна, заказ" in shown
    assert client.post("/admin/notifications/order_received/ru", data=good).status_code == 302

    second = api.create_order()
    with api.app.app_context():
        sms = db.session.execute(select(Notification).where(Notification.channel == "sms")
                                 .order_by(Notification.id.desc())).scalars().first()
    assert sms.subject == f"Приняли заказ {second}" and sms.body.startswith(f"Иванова Мария Петровна, заказ {second}")

    assert client.post("/admin/notifications/order_received/ru/reset", data={"csrf_token": token}).status_code == 302
    third = api.create_order()
    with api.app.app_context():
        latest = db.session.execute(select(Notification).where(Notification.channel == "sms")
                                    .order_by(Notification.id.desc())).scalars().first()
    assert latest.subject == f"Заказ {third} принят"


def test_incident_api_refuses_what_it_must_and_a_skip_closes_the_message(make_app):
    app = make_app(SMS_PROVIDER="nonexistent")  # a typo in the gateway's name: sms.send is an incident at once
    api = Api(app, app.test_client())
    api.create_order()
    [incident] = api.get("/incidents", as_="director").get_json()["items"]  # directors may look
    assert incident["operator"] == "sms.send" and "Неизвестный SMS-шлюз" in incident["error"]
    assert incident["updated_at"] and incident["attempts"] == 1
    job_id = incident["id"]
    for login in ("sales", "director"):
        assert api.post(f"/incidents/{job_id}/retry", as_=login).status_code == 403
        assert api.post(f"/incidents/{job_id}/skip", {"reason": "x"}, as_=login).status_code == 403
    no_reason = api.post(f"/incidents/{job_id}/skip", {"result": {"sent": "by hand"}})
    assert no_reason.status_code == 422 and "reason" in no_reason.get_json()["fields"]
    assert api.post(f"/incidents/{job_id}/skip", [1, 2]).status_code == 422  # not an object: refused, no crash
    assert api.post(f"/incidents/{job_id}/skip", {"reason": "x", "result": "sent"}).status_code == 422
    with app.app_context():
        email_job = db.session.execute(select(OutboxJob.id).where(OutboxJob.operator == "email.send")).scalar_one()
    for path in (f"/incidents/{email_job}/retry", f"/incidents/{email_job}/skip"):
        refused = api.post(path, {"reason": "x"})
        assert refused.status_code == 409 and refused.get_json()["status"] == "done"
    assert api.post("/incidents/999999/retry").status_code == 404

    skipped = api.post(f"/incidents/{job_id}/skip", {"reason": "Позвонили заказчику"})
    assert skipped.status_code == 200 and skipped.get_json()["status"] == "skipped"
    with app.app_context():
        sms = db.session.execute(select(Notification).where(Notification.channel == "sms")).scalar_one()
        assert sms.status == "failed" and sms.error == "Пропущено: Позвонили заказчику"
    assert api.get("/incidents").get_json()["count"] == 0


def test_the_incidents_page_for_a_director_and_a_skip_that_came_too_late(make_app):
    app = make_app(SMS_PROVIDER="nonexistent")
    api = Api(app, app.test_client())
    number = api.create_order()
    [incident] = api.get("/incidents").get_json()["items"]
    director = app.test_client()
    sign_in(director, "director")
    page = director.get("/admin/incidents").data.decode()
    assert number in page and "Неизвестный SMS-шлюз" in page
    assert f"/admin/incidents/{incident['id']}/retry" not in page and "/skip" not in page  # read-only: no forms
    assert director.post(f"/admin/incidents/{incident['id']}/skip", data={
        "csrf_token": csrf_of(director.get("/admin/incidents").data), "reason": "x"}).status_code == 403

    admin = _admin(app)
    token = csrf_of(admin.get("/admin/incidents").data)
    assert api.post(f"/incidents/{incident['id']}/skip", {"reason": "Другой админ успел"}).status_code == 200
    late = admin.post(f"/admin/incidents/{incident['id']}/skip", data={"csrf_token": token, "reason": "Я тоже"},
                      follow_redirects=True)
    # Someone else resolved it meanwhile: the page says so instead of an error page.
    assert late.status_code == 200 and "не в статусе инцидента" in late.data.decode()
    assert "Инцидентов нет" in late.data.decode()


def test_a_template_that_breaks_only_when_rendered_is_refused_too(api):
    client = _admin(api.app)
    api.create_order()
    page = client.get("/admin/notifications/order_received/ru")
    token = csrf_of(page.data)
    # A 422 is swapped into the preview box too, or the admin would keep seeing the last good preview.
    assert "hx-on::before-swap" in page.data.decode()
    draft = {"csrf_token": token, "subject": "Заказ {{ order.number + 1 }}", "text": "Текст", "html": ""}
    refused = client.post("/admin/notifications/order_received/ru", data=draft)
    text = refused.data.decode()
    assert refused.status_code == 422 and "не выводится на заказе" in text and "TypeError" in text
    assert "Заказ {{ order.number + 1 }}" in text
    shown = client.post("/admin/notifications/order_received/ru/preview", data={**draft, "subject": "{{ 1/0 }}"})
    assert shown.status_code == 422 and "ZeroDivisionError" in shown.data.decode()
    unparsable = client.post("/admin/notifications/order_received/ru/preview", data={**draft, "subject": "{% if %}"})
    assert unparsable.status_code == 422 and "Ошибка в шаблоне" in unparsable.data.decode()
    with api.app.app_context():
        assert db.session.execute(select(NotificationTemplate)).first() is None  # nothing was saved
