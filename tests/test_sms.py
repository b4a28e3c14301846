"""sms.send against local stand-ins for SMS.ru, SMSC.ru and SMS Aero: what the gateway got, what the admin sees.

Every operator test goes through the real path: an order is created through the API, the `notify` job
writes the customer's SMS notification and its `sms.send` job runs inline against tests/support/fake_sms.py.
"""
from __future__ import annotations

import socket
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Notification, OutboxJob
from app.operators.registry import OperatorError
from app.operators.sms_message import count_segments, normalize_number, sms_encoding
from app.usecases.jobs import execute_job
from tests.support.api import Api
from tests.support.fake_sms import FakeSmsGateway

CUSTOMER_DIGITS = "79161234567"  # what the gateway must get for the customer's "+7 916 123-45-67"
LABELS = {"smsru": "SMS.ru", "smsc": "SMSC.ru", "smsaero": "SMS Aero"}


@pytest.fixture
def gateway():
    with FakeSmsGateway() as gw:
        yield gw


def order_app(make_app, config: dict, phone: str | None = None):
    """An app with these settings and one order created through the API (its jobs run inline)."""
    app = make_app(**config)
    extra = {}
    if phone:
        extra["customer"] = {"name": "Иванова Мария Петровна", "phone": phone, "email": "maria@example.com"}
    Api(app, app.test_client()).create_order(**extra)
    return app


def sms(app) -> SimpleNamespace:
    """The customer's SMS notification and its delivery job, as an admin would read them."""
    with app.app_context():
        note = db.session.execute(select(Notification).where(Notification.channel == "sms")).scalar_one()
        job = db.session.get(OutboxJob, note.delivery_job_id)
        return SimpleNamespace(
            id=note.id, body=note.body, status=note.status, error=note.error, provider=note.provider,
            provider_ref=note.provider_ref, segments=note.segments, sent_at=note.sent_at, job_id=job.id,
            job_status=job.status, job_error=job.last_error, job_result=job.result, attempts=job.attempts)


def run_again(app, job_id: int) -> str:
    """What the worker does when the job comes round again (retry, relay, a second delivery of the same id)."""
    with app.app_context():
        return execute_job(job_id)


def set_job(app, job_id: int, **fields) -> None:
    with app.app_context():
        job = db.session.get(OutboxJob, job_id)
        for key, value in fields.items():
            setattr(job, key, value)
        db.session.commit()


# -- delivered ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("provider", ["smsru", "smsc", "smsaero"])
def test_order_sms_reaches_the_gateway_as_normalised_number_and_text(make_app, gateway, provider):
    app = order_app(make_app, gateway.config(provider))
    row = sms(app)

    [sent] = gateway.accepted
    assert (sent.provider, sent.phone, sent.sender) == (provider, CUSTOMER_DIGITS, "Bespoke")
    assert sent.text == row.body and "принят" in sent.text
    assert (row.status, row.error, row.provider, row.provider_ref) == ("sent", None, provider, sent.ref)
    assert row.sent_at is not None
    assert row.segments == sent.parts == count_segments(row.body) > 1  # a Cyrillic text longer than 70
    assert row.job_status == "done" and row.job_result["segments"] == row.segments


def test_smsc_send_carries_our_id_and_records_what_the_gateway_billed(make_app, gateway):
    app = order_app(make_app, gateway.config("smsc"))
    row = sms(app)

    [call] = gateway.calls_to("/sys/send.php")
    assert call["id"] == str(row.id) and call["charset"] == "utf-8" and call["fmt"] == "3"
    assert row.provider_ref == str(row.id)
    assert row.job_result["gateway_parts"] == row.segments
    assert float(row.job_result["cost"]) == row.segments * FakeSmsGateway.PRICE
    assert float(row.job_result["balance"]) == gateway.balance


def test_log_provider_is_the_embedded_default(make_app, gateway):
    app = order_app(make_app, {})
    row = sms(app)
    assert (row.status, row.provider, row.provider_ref) == ("sent", "log", f"log-{row.id}")
    assert gateway.calls == []


# -- refused by the gateway -----------------------------------------------------------------------------------

WRONG_KEY = {"smsru": {"SMSRU_API_ID": "0000-wrong"}, "smsc": {"SMSC_PASSWORD": "wrong"},
             "smsaero": {"SMSAERO_API_KEY": "wrong"}}


def provoke(gateway: FakeSmsGateway, provider: str, cause: str) -> dict:
    """Set the gateway up to refuse for `cause`; returns the app settings that go with it."""
    if cause == "funds":
        gateway.balance = 0.0
    elif cause == "number":
        gateway.unreachable.add(CUSTOMER_DIGITS)
    elif cause == "sender":
        return gateway.config(provider, SMS_SENDER="Шарашка")
    elif cause == "key":
        return gateway.config(provider, **WRONG_KEY[provider])
    return gateway.config(provider)


@pytest.mark.parametrize(("provider", "cause", "wording", "job_status"), [
    ("smsru", "key", "неверный ключ API", "incident"),
    ("smsru", "funds", "нет денег на счёте", "pending"),
    ("smsru", "number", "неверный номер", "incident"),
    ("smsru", "sender", "отправитель «Шарашка» не согласован", "incident"),
    ("smsc", "key", "неверный логин или пароль", "incident"),
    ("smsc", "funds", "нет денег на счёте", "pending"),
    ("smsc", "number", "не может быть доставлено", "incident"),
    ("smsc", "sender", "отправитель «Шарашка» не согласован", "incident"),
    ("smsaero", "key", "неверный ключ API", "incident"),
    ("smsaero", "funds", "нет денег на счёте", "pending"),
    ("smsaero", "number", "неверный номер", "incident"),
    ("smsaero", "sender", "отправитель «Шарашка» не согласован", "incident"),
])
def test_gateway_refusal_is_worded_for_the_admin(make_app, gateway, provider, cause, wording, job_status):
    app = order_app(make_app, provoke(gateway, provider, cause))
    row = sms(app)

    assert gateway.accepted == []
    assert row.status == "failed"
    assert row.error.startswith(f"{LABELS[provider]}: ") and wording in row.error
    assert row.job_status == job_status  # permanent → incident at once; temporary → waits for a retry
    assert row.job_error == row.error and row.attempts == 1


@pytest.mark.parametrize("cause", ["funds", "outage"])
def test_temporary_failure_is_retried_and_sends_once(make_app, gateway, cause):
    if cause == "funds":
        gateway.balance = 0.0
    else:
        gateway.outage = 1
    app = order_app(make_app, gateway.config("smsru"))
    first = sms(app)
    assert (first.status, first.job_status) == ("failed", "pending")
    assert ("HTTP 503" if cause == "outage" else "нет денег на счёте") in first.error

    gateway.balance = 100.0
    assert run_again(app, first.job_id) == "done"
    row = sms(app)
    assert (row.status, row.error, row.attempts) == ("sent", None, 2)
    assert [s.phone for s in gateway.accepted] == [CUSTOMER_DIGITS]


def test_connection_refused_is_retried(make_app):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = order_app(make_app, {"SMS_PROVIDER": "smsaero", "SMSAERO_URL": f"http://127.0.0.1:{port}",
                               "SMSAERO_EMAIL": "a@b.example", "SMSAERO_API_KEY": "k"})
    row = sms(app)
    assert row.status == "failed" and row.job_status == "pending"
    assert row.error.startswith("SMS Aero: шлюз недоступен")


def test_landline_number_is_refused_before_the_gateway(make_app, gateway):
    app = order_app(make_app, gateway.config("smsru"), phone="+7 495 123-45-67")
    row = sms(app)
    assert gateway.calls == []
    assert row.status == "failed" and row.job_status == "incident"
    assert "Номер «+74951234567» не похож на мобильный телефон" in row.error


def test_unknown_provider_is_an_incident_not_a_silent_fallback(make_app, gateway):
    app = order_app(make_app, {"SMS_PROVIDER": "smsmagic"})
    row = sms(app)
    assert row.job_status == "incident" and row.status == "queued"
    assert "Неизвестный SMS-шлюз «smsmagic»" in row.job_error and "smsru" in row.job_error


def test_missing_credentials_are_an_incident(make_app, gateway):
    app = order_app(make_app, {"SMS_PROVIDER": "smsc", "SMSC_URL": gateway.url, "SMSC_LOGIN": "bespoke"})
    row = sms(app)
    assert gateway.calls == []
    assert row.job_status == "incident" and "SMSC_PASSWORD" in row.error


# -- exactly once ----------------------------------------------------------------------------------------------

def test_running_the_same_job_again_sends_nothing_twice(make_app, gateway):
    app = order_app(make_app, gateway.config("smsc"))
    row = sms(app)
    assert run_again(app, row.job_id) == "skipped"  # a second delivery of a finished job

    # The worker died after the gateway took the message but before the job was recorded as done.
    set_job(app, row.job_id, status="pending")
    assert run_again(app, row.job_id) == "done"
    assert len(gateway.accepted) == 1 and len(gateway.calls_to("/sys/send.php")) == 1
    assert sms(app).provider_ref == row.provider_ref


def test_smsc_send_interrupted_after_acceptance_is_recovered_by_lookup(make_app, gateway):
    gateway.delay = 1.0  # the gateway takes the message, its answer comes after the client gave up
    app = order_app(make_app, gateway.config("smsc", SMS_TIMEOUT=0.3))
    interrupted = sms(app)
    assert interrupted.status == "sending" and interrupted.job_status == "pending"
    assert "ReadTimeout" in interrupted.job_error  # not an OperatorError: in doubt, not failed
    assert len(gateway.accepted) == 1

    gateway.delay = 0.0
    assert run_again(app, interrupted.job_id) == "done"
    row = sms(app)
    assert (row.status, row.provider_ref, row.segments) == ("sent", str(row.id), gateway.accepted[0].parts)
    assert row.job_result["recovered"] is True
    assert len(gateway.accepted) == 1 and len(gateway.calls_to("/sys/send.php")) == 1
    assert gateway.calls_to("/sys/status.php") == [
        {"login": "bespoke", "psw": "smsc-secret", "phone": CUSTOMER_DIGITS, "id": str(row.id), "fmt": "3",
         "charset": "utf-8"}]


def test_smsc_send_lost_before_the_gateway_is_sent_on_the_next_run(make_app, gateway):
    gateway.delay, gateway.lose = 1.0, True  # the request hangs and never reaches the gateway proper
    app = order_app(make_app, gateway.config("smsc", SMS_TIMEOUT=0.3))
    assert sms(app).status == "sending" and gateway.accepted == []

    gateway.delay, gateway.lose = 0.0, False
    assert run_again(app, sms(app).job_id) == "done"
    assert sms(app).status == "sent"
    assert [s.phone for s in gateway.accepted] == [CUSTOMER_DIGITS]
    assert len(gateway.calls_to("/sys/status.php")) == 1 and len(gateway.calls_to("/sys/send.php")) == 2


def test_smsc_resend_of_a_message_it_already_has_is_not_sent_twice(make_app, gateway):
    gateway.delay = 1.0
    app = order_app(make_app, gateway.config("smsc", SMS_TIMEOUT=0.3))
    row = sms(app)
    gateway.delay = 0.0
    # An admin's "retry" after an in-doubt incident asks to send again regardless.
    set_job(app, row.job_id, params={"notification_id": row.id, "resend": True})
    assert run_again(app, row.job_id) == "done"
    assert sms(app).status == "sent"
    assert len(gateway.accepted) == 1  # SMSC refused the duplicate (code 9) and we found the original by id


def test_smsru_interrupted_send_cannot_be_checked_and_becomes_an_incident(make_app, gateway):
    gateway.delay = 1.0
    app = order_app(make_app, gateway.config("smsru", SMS_TIMEOUT=0.3))
    assert sms(app).status == "sending"

    gateway.delay = 0.0
    run_again(app, sms(app).job_id)
    row = sms(app)
    assert row.job_status == "incident" and row.status == "sending"
    assert "Не известно, ушло ли сообщение через smsru" in row.job_error
    assert len(gateway.accepted) == 1


def test_unreadable_answer_to_a_send_is_in_doubt_not_failed(make_app, gateway):
    gateway.garble = True  # the gateway took it, but what came back is somebody's HTML page
    app = order_app(make_app, gateway.config("smsaero"))
    row = sms(app)
    assert row.status == "sending" and row.job_status == "pending"
    assert "SMS Aero: ответ шлюза не разобрать" in row.job_error
    assert len(gateway.accepted) == 1

    gateway.garble = False
    run_again(app, row.job_id)
    assert sms(app).job_status == "incident"  # SMS Aero cannot be asked by our id: an admin decides
    assert len(gateway.accepted) == 1


# -- numbers and parts -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", ["+7 916 123-45-67", "8 (916) 123-45-67", "916 123 45 67", "+79161234567",
                                 "  7-916-123-4567 "])
def test_russian_mobile_spellings_become_e164_digits(raw):
    assert normalize_number(raw, "RU") == CUSTOMER_DIGITS


def test_foreign_mobiles_keep_their_country_code():
    assert normalize_number("+49 151 23456789", "RU") == "4915123456789"
    assert normalize_number("0151 23456789", "DE") == "4915123456789"


@pytest.mark.parametrize("raw", ["", "12345", "позвонить Маше", "+7 495 123-45-67", "8 800 555-35-35",
                                 "+7 916 123-45-678"])
def test_numbers_no_sms_can_reach_are_refused_permanently(raw):
    with pytest.raises(OperatorError) as caught:
        normalize_number(raw, "RU")
    assert caught.value.permanent is True
    assert "не похож на мобильный телефон" in caught.value.message


@pytest.mark.parametrize(("length", "parts"), [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)])
def test_latin_text_is_gsm7_160_then_153_per_part(length, parts):
    text = ("Order 2026-00042 is ready. " * 20)[:length]
    assert sms_encoding(text) == "gsm7"
    assert count_segments(text) == parts


@pytest.mark.parametrize(("length", "parts"), [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)])
def test_cyrillic_text_is_ucs2_70_then_67_per_part(length, parts):
    text = ("Заказ 2026-00042 готов. " * 10)[:length]
    assert sms_encoding(text) == "ucs2"
    assert count_segments(text) == parts


def test_one_cyrillic_letter_makes_the_whole_text_ucs2():
    assert count_segments("a" * 69 + "я") == 1
    assert count_segments("a" * 70 + "я") == 2


def test_gsm7_extension_characters_take_two_septets_and_emoji_two_ucs2_units():
    assert sms_encoding("Café {50 €}") == "gsm7"
    assert count_segments("€" * 80) == 1 and count_segments("€" * 81) == 2
    assert count_segments("🙂" * 35) == 1 and count_segments("🙂" * 36) == 2
