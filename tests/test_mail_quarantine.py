"""Inbound e-mail lands on an order only from its customer or an employee, vouched for by our own mail server.

Messages go through the real SMTP receiver on loopback; the admin decides on held ones in the browser.
"""
from __future__ import annotations

import base64
import smtplib
from email import policy

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, Customer, InboundMessage, Note, Order, QuarantinedMail
from tests.support.api import Api
from tests.support.dns_server import TxtServer
from tests.support.services import free_port
from tests.support.web import signed_in
from tests.test_email import CUSTOMER, mail
from workers.mail_receiver import MailReceiver

OURS = "mx.bespoke.example"
PASS = f"{OURS}; dkim=pass; spf=pass; dmarc=pass"


@pytest.fixture
def app(make_app):
    return make_app(WTF_CSRF_ENABLED=False, INBOUND_AUTHSERV_ID=OURS)


@pytest.fixture
def dkim_keys():
    """One RSA key per domain, published in a loopback DNS server the app is told to ask."""
    keys = {domain: rsa.generate_private_key(public_exponent=65537, key_size=2048)
            for domain in ("example.com", "evil.example")}
    records = {f"sel._domainkey.{domain}": "v=DKIM1; k=rsa; p=" + base64.b64encode(key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
        for domain, key in keys.items()}
    server = TxtServer(records).start()
    yield server, {domain: key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                             serialization.NoEncryption()) for domain, key in keys.items()}
    server.stop()


def signed(message, domain: str, private_key: bytes) -> bytes:
    """The message as its domain's outgoing server sends it: with a DKIM-Signature on top."""
    raw = message.as_bytes(policy=policy.SMTP)
    return dkim.sign(raw, b"sel", domain.encode(), private_key,
                     include_headers=[b"from", b"to", b"subject", b"message-id"]) + raw


@pytest.fixture
def api(app):
    return Api(app, app.test_client())


@pytest.fixture
def receiver(app):
    with MailReceiver(app, "127.0.0.1", free_port()) as running:
        yield running


def deliver(receiver: MailReceiver, message) -> None:
    """Over SMTP; a held message is accepted (250) like any other: a bounce would go to a forged From."""
    with smtplib.SMTP("127.0.0.1", receiver.port, timeout=30) as client:
        assert client.send_message(message) == {}


def outcome(app, message) -> tuple[str, str | None]:
    with app.app_context():
        row = db.session.execute(select(InboundMessage).where(
            InboundMessage.message_id == message["Message-ID"])).scalar_one()
        return row.outcome, row.error


def notes(app, number: str) -> list[Note]:
    with app.app_context():
        order = db.session.execute(select(Order).where(Order.number == number)).scalar_one()
        rows = db.session.execute(select(Note).where(Note.order_id == order.id).order_by(Note.id)).scalars().all()
        for note in rows:
            _ = note.author.login
        db.session.expunge_all()
        return rows


def held(app) -> list[tuple[str, str | None, str]]:
    """(sender, order number, reason) of every message in the quarantine."""
    with app.app_context():
        return [(row.inbound.sender, row.order.number if row.order else None, row.reason)
                for row in db.session.execute(select(QuarantinedMail).order_by(QuarantinedMail.id)).scalars()]


def held_id(app, message) -> int:
    with app.app_context():
        return db.session.execute(select(QuarantinedMail.id).join(QuarantinedMail.inbound).where(
            InboundMessage.message_id == message["Message-ID"])).scalar_one()


def test_someone_who_knows_the_order_number_cannot_add_a_note(api, app, receiver):
    number = api.create_order()
    spoofed = mail("Доброжелатель <anyone@evil.example>", f"Заказ {number}: отмена",
                   "Заказчик просит отменить заказ и вернуть предоплату на карту 4276 …",
                   Authentication_Results=f"{OURS}; dkim=pass header.d=evil.example; spf=pass; dmarc=pass")
    deliver(receiver, spoofed)

    assert notes(app, number) == []
    assert outcome(app, spoofed) == ("quarantined", "Отправитель не заказчик этого заказа и не сотрудник")
    assert held(app) == [("Доброжелатель <anyone@evil.example>", number,
                          "Отправитель не заказчик этого заказа и не сотрудник")]


def test_the_customers_address_counts_only_when_our_server_vouches_for_it(api, app, receiver):
    number = api.create_order()
    genuine = mail(f"Мария <{CUSTOMER}>", f"Re: заказ {number}", "Замер лучше в субботу.", Authentication_Results=PASS)
    forged = mail(f"Мария <{CUSTOMER}>", f"Re: заказ {number}", "Перенесите доставку на другой адрес.",
                  Authentication_Results=f"{OURS}; dkim=fail; spf=pass; dmarc=pass")
    deliver(receiver, genuine)
    deliver(receiver, forged)

    [note] = notes(app, number)
    assert "Замер лучше в субботу." in note.text and note.internal is False and note.author.login == "customer"
    assert outcome(app, genuine) == ("note_added", None)
    assert outcome(app, forged)[0] == "quarantined"
    assert held(app) == [(f"Мария <{CUSTOMER}>", number, "Письмо не прошло проверку подлинности (DKIM/DMARC)")]


def test_results_written_by_anyone_but_our_server_are_ignored(api, app, receiver):
    number = api.create_order()
    foreign = mail(f"Мария <{CUSTOMER}>", f"Re: заказ {number}", "Другой адрес доставки",
                   Authentication_Results="mx.evil.example; dkim=pass; spf=pass; dmarc=pass")
    # A sender may also write our id itself, below the header our server added on top: the topmost counts.
    planted = mail(f"Мария <{CUSTOMER}>", f"Re: заказ {number}", "Ещё один адрес доставки")
    raw = (f"Authentication-Results: {OURS}; dkim=none; spf=softfail; dmarc=fail\r\n"
           f"Authentication-Results: {PASS}\r\n").encode() + planted.as_bytes()
    deliver(receiver, foreign)
    with smtplib.SMTP("127.0.0.1", receiver.port, timeout=30) as client:
        client.sendmail(CUSTOMER, ["orders@bespoke.example"], raw)

    assert notes(app, number) == []
    assert outcome(app, foreign)[0] == "quarantined" and outcome(app, planted)[0] == "quarantined"
    with app.app_context():
        reasons = db.session.execute(select(QuarantinedMail.authentication).order_by(QuarantinedMail.id)).scalars()
        assert list(reasons) == [f"нет заголовка Authentication-Results от нашего сервера {OURS}; "
                                 "dkimpy: нет подписи DKIM",
                                 f"{OURS}: dkim=none, spf=softfail, dmarc=fail"]


def test_an_employee_address_needs_the_same_proof(api, app, receiver):
    number = api.create_order()
    unproved = mail("Менеджер <sales@bespoke.example>", f"Заказ {number}", "Скидка 50 % согласована")
    proved = mail("Менеджер <sales@bespoke.example>", f"Заказ {number}", "Заказчик подтвердил размеры",
                  Authentication_Results=f"{OURS}; dkim=pass header.d=bespoke.example; dmarc=pass")
    deliver(receiver, unproved)
    deliver(receiver, proved)

    [note] = notes(app, number)
    assert "Заказчик подтвердил размеры" in note.text and note.internal and note.author.login == "sales"
    assert [sender for sender, _n, _r in held(app)] == ["Менеджер <sales@bespoke.example>"]


def test_new_requests_unverified_a_new_address_is_marked_a_known_customers_is_held(api, app, receiver):
    number = api.create_order()  # makes maria@example.com a known customer
    stranger = mail("Пётр <petr@mail.example>", "Хочу кухню", "Нужна кухня 3 м.\nАдрес: Москва, Тверская, 8")
    known = mail(f"Мария <{CUSTOMER}>", "Ещё шкаф", "Нужен второй шкаф, в детскую.")
    deliver(receiver, stranger)
    deliver(receiver, known)

    assert outcome(app, stranger)[0] == "order_created"
    with app.app_context():
        order = db.session.execute(select(Order).where(Order.number != number)).scalar_one()
        new_number = order.number
    [mark] = notes(app, new_number)
    assert mark.internal and "Отправитель письма petr@mail.example не подтверждён" in mark.text
    assert outcome(app, known)[0] == "quarantined"
    assert held(app) == [(f"Мария <{CUSTOMER}>", None, "Заявка с адреса известного заказчика не прошла проверку "
                                                      "подлинности (DKIM/DMARC)")]


def test_the_admin_accepts_a_held_note_and_it_is_audited(api, app, receiver):
    number = api.create_order()
    message = mail(f"Мария <{CUSTOMER}>", f"Re: заказ {number}", "Пишу с телефона, подпись не прошла.")
    deliver(receiver, message)
    admin = signed_in(app, "admin")

    page = admin.get("/admin/mail-quarantine").get_data(as_text=True)
    assert f"Мария &lt;{CUSTOMER}&gt;" in page and f"Re: заказ {number}" in page and number in page
    assert "Письмо не прошло проверку подлинности (DKIM/DMARC)" in page and "Пишу с телефона" in page
    assert 'href="/admin/mail-quarantine"' in page and "Карантин почты" in page

    response = admin.post(f"/admin/mail-quarantine/{held_id(app, message)}/accept")
    assert response.status_code == 302
    [note] = notes(app, number)
    assert "Пишу с телефона, подпись не прошла." in note.text and note.internal is False
    assert held(app) == [] and outcome(app, message) == ("note_added", None)
    with app.app_context():
        [event] = db.session.execute(select(AuditEvent).where(AuditEvent.field == "quarantine",
                                                              AuditEvent.new_value == "accepted")).scalars().all()
        assert event.actor_label == "admin" and event.details["sender"] == f"Мария <{CUSTOMER}>"
        assert event.order_id == db.session.execute(select(Order.id).where(Order.number == number)).scalar()
    history = admin.get(f"/orders/{number}?tab=history")
    assert history.status_code == 200 and "accepted" in history.get_data(as_text=True)
    assert "Карантин пуст" in admin.get("/admin/mail-quarantine").get_data(as_text=True)
    admin.post("/language", data={"locale": "en", "next": "/admin/mail-quarantine"})
    assert "The quarantine is empty" in admin.get("/admin/mail-quarantine").get_data(as_text=True)


def test_accepting_a_held_request_creates_the_order_for_that_customer(api, app, receiver):
    api.create_order()
    message = mail(f"Мария <{CUSTOMER}>", "Ещё кондиционер", "Нужен кондиционер в спальню.")
    deliver(receiver, message)

    assert signed_in(app, "admin").post(f"/admin/mail-quarantine/{held_id(app, message)}/accept").status_code == 302
    assert outcome(app, message)[0] == "order_created"
    with app.app_context():
        customer = db.session.execute(select(Customer).where(Customer.email == CUSTOMER)).scalar_one()
        kinds = sorted(db.session.execute(select(Order.kind).where(Order.customer_id == customer.id)).scalars())
        assert kinds == ["air_conditioner", "wardrobe"]


def test_the_admin_drops_a_held_message_and_it_is_gone(api, app, receiver):
    number = api.create_order()
    message = mail("Доброжелатель <anyone@evil.example>", f"Заказ {number}", "Переведите предоплату …")
    deliver(receiver, message)

    admin, dropped = signed_in(app, "admin"), held_id(app, message)
    assert admin.post(f"/admin/mail-quarantine/{dropped}/drop").status_code == 302
    assert held(app) == [] and notes(app, number) == [] and outcome(app, message)[0] == "dropped"
    late = admin.post(f"/admin/mail-quarantine/{dropped}/accept", follow_redirects=True)  # a second admin, too late
    assert "Письма нет в карантине: его уже приняли или удалили" in late.get_data(as_text=True)
    assert notes(app, number) == [] and outcome(app, message)[0] == "dropped"
    with app.app_context():
        [event] = db.session.execute(select(AuditEvent).where(AuditEvent.field == "quarantine",
                                                              AuditEvent.new_value == "dropped")).scalars().all()
        assert event.actor_label == "admin" and event.details["subject"] == f"Заказ {number}"
    deliver(receiver, message)  # the sender's server retries: the Message-ID is known, nothing comes back
    assert held(app) == [] and outcome(app, message)[0] == "dropped"


@pytest.mark.parametrize("login", ["sales", "director", "head_sales", "accountant", "analyst", "partner_mega"])
def test_only_admins_see_and_decide_on_the_quarantine(api, app, receiver, login):
    number = api.create_order()
    message = mail("Доброжелатель <anyone@evil.example>", f"Заказ {number}", "Текст")
    deliver(receiver, message)
    held_mail = held_id(app, message)
    client = signed_in(app, login)

    assert client.get("/admin/mail-quarantine").status_code == 403
    assert client.post(f"/admin/mail-quarantine/{held_mail}/accept").status_code == 403
    assert client.post(f"/admin/mail-quarantine/{held_mail}/drop").status_code == 403
    assert len(held(app)) == 1 and notes(app, number) == []
    assert "/admin/mail-quarantine" not in client.get("/inbox").get_data(as_text=True)


def test_without_our_servers_results_the_receiver_checks_dkim_itself(make_app, dkim_keys):
    dns, private = dkim_keys
    app = make_app(INBOUND_AUTHSERV_ID="", INBOUND_DKIM_VERIFY=True, INBOUND_DNS=dns.address)
    number = Api(app, app.test_client()).create_order()
    genuine = mail(f"Мария <{CUSTOMER}>", f"Re: заказ {number}", "Размеры подтверждаю.")
    altered = mail(f"Мария <{CUSTOMER}>", f"Re: заказ {number}", "Размеры подтверждаю.")
    tampered = signed(altered, "example.com", private["example.com"]).replace(b"\xd0\xa0\xd0\xb0\xd0\xb7",
                                                                              b"\xd0\x9d\xd0\xb5 \xd1\x80")
    foreign = mail(f"Мария <{CUSTOMER}>", f"Re: заказ {number}", "Подписано чужим доменом.")
    with MailReceiver(app, "127.0.0.1", free_port()) as receiver:
        for raw in (signed(genuine, "example.com", private["example.com"]), tampered,
                    signed(foreign, "evil.example", private["evil.example"])):
            with smtplib.SMTP("127.0.0.1", receiver.port, timeout=30) as client:
                assert client.sendmail(CUSTOMER, ["orders@bespoke.example"], raw) == {}

    [note] = notes(app, number)
    assert "Размеры подтверждаю." in note.text and note.internal is False
    assert outcome(app, genuine)[0] == "note_added"
    assert outcome(app, altered)[0] == "quarantined" and outcome(app, foreign)[0] == "quarantined"
    with app.app_context():
        checks = list(db.session.execute(select(QuarantinedMail.authentication).order_by(QuarantinedMail.id)).scalars())
    assert [check.rsplit("; ", 1)[1] for check in checks] == ["dkimpy: dkim=fail (example.com)",
                                                             "dkimpy: dkim=pass (evil.example)"]
    assert "sel._domainkey.example.com" in dns.queries
