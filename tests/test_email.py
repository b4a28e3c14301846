"""E-mail both ways against real SMTP servers on loopback: notifications out over STARTTLS + AUTH, orders in."""
from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Attachment, Customer, Document, InboundMessage, Note, Notification, Order, OutboxJob
from app.services.attachments import file_path
from app.usecases.jobs import execute_job
from tests.support.api import HAPPY_CASH, Api
from tests.support.services import free_port
from tests.support.smtp_server import CapturingSMTP
from tests.support.workers import flask_command
from workers.mail_receiver import MailReceiver

CUSTOMER = "maria@example.com"  # the customer tests.support.api.Api.create_order uses
AUTHSERV_ID = "mx.bespoke.example"  # our MX, as the receiver is told to trust it
VERIFIED = f"{AUTHSERV_ID}; dkim=pass header.d=example.com; spf=pass smtp.mailfrom=example.com; dmarc=pass"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 + b"\xff\xd9"


# -- outbound -----------------------------------------------------------------------------------------------

@pytest.fixture
def smtp_servers(tmp_path):
    """Start capturing SMTP servers on demand; all are stopped at the end."""
    started: list[CapturingSMTP] = []

    def start(**options) -> CapturingSMTP:
        server = CapturingSMTP(tmp_path, **options).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def email_notifications(app, event: str) -> list[Notification]:
    with app.app_context():
        rows = db.session.execute(select(Notification).where(Notification.event == event,
                                                             Notification.channel == "email")).scalars().all()
        db.session.expunge_all()
        return rows


def delivery_job(app, notification: Notification) -> OutboxJob:
    with app.app_context():
        job = db.session.get(OutboxJob, notification.delivery_job_id)
        db.session.expunge(job)
        return job


def test_contract_ready_goes_out_over_starttls_with_the_contract_and_invoice(make_app, smtp_servers):
    server = smtp_servers()
    app = make_app(**server.settings())
    api = Api(app, app.test_client())
    number = api.create_order("kitchen")
    api.walk(number, HAPPY_CASH[:4], {"payment_type": "cash"})

    [note] = email_notifications(app, "contract_ready")
    assert (note.status, note.provider, note.error) == ("sent", "smtp", None)
    [mail] = [m for m in server.to(CUSTOMER) if m["Message-ID"] == note.provider_ref]
    assert note.provider_ref == f"<notification-{note.id}@bespoke.example>"
    assert [a.addr_spec for a in mail["To"].addresses] == [CUSTOMER]
    assert mail["To"].addresses[0].display_name == "Иванова Мария Петровна"
    assert [a.addr_spec for a in mail["From"].addresses] == ["orders@bespoke.example"]
    assert mail["Reply-To"] == f"orders+{number}@bespoke.example" and mail["Auto-Submitted"] == "auto-generated"
    assert mail["Subject"] == f"Договор по заказу {number}"
    text = mail.get_body(("plain",)).get_content()
    assert f"Договор и счёт по заказу {number} готовы" in text
    html = mail.get_body(("html",)).get_content()
    assert "<html" in html.lower() and number in html
    attachments = list(mail.iter_attachments())
    assert [a.get_content_type() for a in attachments] == ["application/pdf", "application/pdf"]
    assert all(a.get_content().startswith(b"%PDF") for a in attachments)
    with app.app_context():
        documents = [db.session.get(Document, i) for i in note.attachments]
        assert sorted(d.kind for d in documents) == ["contract", "invoice"]
        assert [a.get_filename() for a in attachments] == [d.filename for d in documents]
        assert attachments[0].get_content() == documents[0].content
    # Every customer e-mail so far went the same way: TLS first, then AUTH, envelope from the orders address.
    assert len(server.messages) == len(server.to(CUSTOMER)) >= 3
    assert {login for _, login in server.logins} == {"mailer"}
    assert {sender for sender, _ in server.envelopes} == {"orders@bespoke.example"}


def test_implicit_tls_on_its_own_port(make_app, smtp_servers):
    server = smtp_servers(implicit_tls=True)
    app = make_app(**server.settings())
    Api(app, app.test_client()).create_order()

    [note] = email_notifications(app, "order_received")
    assert (note.status, note.provider) == ("sent", "smtp")
    [mail] = server.messages
    assert mail["Message-ID"] == note.provider_ref and server.logins == [("PLAIN", "mailer")]


def test_a_wrong_password_fails_the_notification_and_opens_an_incident_at_once(make_app, smtp_servers):
    server = smtp_servers()
    app = make_app(**server.settings(SMTP_PASSWORD="not-the-password"))
    Api(app, app.test_client()).create_order()

    [note] = email_notifications(app, "order_received")
    assert note.status == "failed"
    assert "отклонил вход пользователя «mailer»" in note.error and "SMTP_PASSWORD" in note.error
    job = delivery_job(app, note)
    assert (job.status, job.attempts) == ("incident", 1)
    assert job.last_error == note.error
    assert server.messages == []


def test_a_temporary_refusal_is_retried_and_the_retry_delivers(make_app, smtp_servers):
    server = smtp_servers(mechanisms=("LOGIN",))
    server.refuse.append(("DATA", "451 4.3.0 Mailbox busy, try again later"))
    app = make_app(**server.settings())
    Api(app, app.test_client()).create_order()

    [note] = email_notifications(app, "order_received")
    assert note.status == "failed" and "451 4.3.0 Mailbox busy" in note.error
    job = delivery_job(app, note)
    assert (job.status, job.attempts) == ("pending", 1)  # waits out its backoff for the relay
    assert server.messages == []

    with app.app_context():
        assert execute_job(job.id) == "done"  # what the worker does when the relay hands it out again
    [note] = email_notifications(app, "order_received")
    assert (note.status, note.error) == ("sent", None)
    [mail] = server.messages
    assert mail["Message-ID"] == note.provider_ref == f"<notification-{note.id}@bespoke.example>"
    assert server.logins == [("LOGIN", "mailer")] * 2
    assert delivery_job(app, note).status == "done"


def test_a_refused_recipient_is_final(make_app, smtp_servers):
    server = smtp_servers()
    server.refuse.append(("RCPT", "550 5.1.1 No such user here"))
    app = make_app(**server.settings())
    Api(app, app.test_client()).create_order()

    [note] = email_notifications(app, "order_received")
    assert note.status == "failed"
    assert note.error == f"Почтовый сервер отклонил адрес получателя {CUSTOMER}: 550 5.1.1 No such user here"
    assert delivery_job(app, note).status == "incident"


def test_no_server_listening_is_a_temporary_failure(make_app, tmp_path):
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=free_port(), SMTP_SECURITY="starttls", SMTP_TIMEOUT=5)
    Api(app, app.test_client()).create_order()

    [note] = email_notifications(app, "order_received")
    assert note.status == "failed" and note.error.startswith("Не удалось подключиться к почтовому серверу")
    assert delivery_job(app, note).status == "pending"


def test_a_certificate_from_an_unknown_authority_is_refused(make_app, smtp_servers):
    server = smtp_servers()
    app = make_app(**server.settings(SMTP_CA_FILE=""))  # the system's CAs do not know the test CA
    Api(app, app.test_client()).create_order()

    [note] = email_notifications(app, "order_received")
    assert note.status == "failed" and "Сертификат почтового сервера" in note.error
    assert delivery_job(app, note).status == "incident"
    assert server.messages == [] and server.logins == []


# -- inbound ------------------------------------------------------------------------------------------------

@pytest.fixture
def receiver(api):
    api.app.config["INBOUND_AUTHSERV_ID"] = AUTHSERV_ID
    with MailReceiver(api.app, "127.0.0.1", free_port()) as running:
        yield running


def mail(sender: str | None, subject: str, body: str, *, to: str = "orders@bespoke.example", **headers) -> EmailMessage:
    message = EmailMessage()
    if sender:
        message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="mail.example")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message


def deliver_to(receiver: MailReceiver, message: EmailMessage, recipients: list[str] | None = None) -> None:
    with smtplib.SMTP("127.0.0.1", receiver.port, timeout=30) as client:
        client.send_message(message, to_addrs=recipients)


def inbound(app, message: EmailMessage) -> InboundMessage:
    with app.app_context():
        row = db.session.execute(select(InboundMessage).where(
            InboundMessage.message_id == message["Message-ID"])).scalar_one()
        db.session.expunge(row)
        return row


def order_of(app, row: InboundMessage) -> tuple[Order, Customer]:
    with app.app_context():
        order = db.session.get(Order, row.order_id)
        db.session.expunge_all()
        return order, order.customer


def test_a_request_from_an_unknown_address_becomes_an_order_with_its_process(api, receiver):
    message = mail("Пётр Сидоров <petr@mail.example>", "Хочу кухню",
                   "Здравствуйте! Нужна угловая кухня, 3,2 м.\nАдрес: г. Москва, ул. Тверская, д. 8, кв. 45\n")
    deliver_to(receiver, message)

    row = inbound(api.app, message)
    assert (row.outcome, row.error, row.sender) == ("order_created", None, "Пётр Сидоров <petr@mail.example>")
    order, customer = order_of(api.app, row)
    assert (order.channel, order.kind, order.address) == ("email", "kitchen", "г. Москва, ул. Тверская, д. 8, кв. 45")
    assert order.description.startswith("Хочу кухню\n\nЗдравствуйте! Нужна угловая кухня")
    assert (customer.name, customer.email, customer.phone) == ("Пётр Сидоров", "petr@mail.example", None)
    task = api.open_task(order.number)
    assert task["bpmn_id"] == "new_order" and task["lane"] == "sales"
    assert api.order(order.number)["channel"] == "email"


def test_a_request_from_a_known_address_is_matched_to_that_customer(api, receiver):
    first = api.create_order()
    with api.app.app_context():
        known = db.session.execute(select(Order).where(Order.number == first)).scalar_one().customer_id
        customers = db.session.execute(select(func.count(Customer.id))).scalar()
    message = mail("Мария <Maria@Example.com>", "Ещё один заказ", "Нужен шкаф-купе в спальню, без адреса пока.",
                   Authentication_Results=VERIFIED)
    deliver_to(receiver, message)

    order, customer = order_of(api.app, inbound(api.app, message))
    assert order.number != first and customer.id == known and order.kind == "wardrobe"
    assert order.address == "Не указан в письме — уточнить у заказчика"
    with api.app.app_context():
        assert db.session.execute(select(func.count(Customer.id))).scalar() == customers
    assert api.open_task(order.number)["bpmn_id"] == "new_order"


def test_a_reply_naming_the_order_adds_a_note_and_its_files(api, receiver):
    number = api.create_order()
    message = mail(f"Иванова Мария <{CUSTOMER}>", f"Re: Договор по заказу {number}",
                   "Спасибо, всё верно. Фото ниши и план во вложении.\n\n"
                   f"пт, 20 нояб. 2026 г. в 12:00, Бэспоук <orders@bespoke.example>:\n> Договор по заказу {number}\n"
                   "> готов\n", Authentication_Results=VERIFIED)
    message.add_attachment(PDF, maintype="application", subtype="pdf", filename="план ниши.pdf")
    message.add_attachment(JPEG, maintype="image", subtype="jpeg", filename="photo.jpg")
    message.add_attachment(b"MZ\x90\x00 not a picture", maintype="application", subtype="octet-stream",
                           filename="setup.exe")
    deliver_to(receiver, message)

    row = inbound(api.app, message)
    assert row.outcome == "note_added" and "setup.exe" in row.error
    with api.app.app_context():
        order = db.session.execute(select(Order).where(Order.number == number)).scalar_one()
        assert row.order_id == order.id
        [note] = db.session.execute(select(Note).where(Note.order_id == order.id)).scalars().all()
        assert note.author.login == "customer" and note.internal is False  # it is the order's own customer
        assert note.text.startswith(f"Письмо от Иванова Мария <{CUSTOMER}>\nТема: Re: Договор по заказу {number}")
        assert "Спасибо, всё верно." in note.text and "> готов" not in note.text and "нояб." not in note.text
        assert "Вложения: план ниши.pdf, photo.jpg" in note.text and "Не приняты: " in note.text
        files = db.session.execute(select(Attachment).where(Attachment.order_id == order.id)
                                   .order_by(Attachment.id)).scalars().all()
        assert [(f.filename, f.content_type) for f in files] == [("план ниши.pdf", "application/pdf"),
                                                                ("photo.jpg", "image/jpeg")]
        assert file_path(files[0]).read_bytes() == PDF and file_path(files[1]).read_bytes() == JPEG
        assert {f.author_id for f in files} == {note.author_id}


def test_a_reply_to_the_plus_address_finds_its_order_without_a_number_in_the_subject(api, receiver):
    number = api.create_order()
    message = mail("Менеджер <sales@bespoke.example>", "Вопрос", "", to=f"orders+{number}@bespoke.example",
                   Authentication_Results=f"{AUTHSERV_ID}; dkim=pass header.d=bespoke.example; dmarc=pass")
    message.set_content("<p>Когда приедет замерщик?</p><blockquote>старое письмо</blockquote>", subtype="html")
    deliver_to(receiver, message)

    row = inbound(api.app, message)
    assert row.outcome == "note_added"
    with api.app.app_context():
        [note] = db.session.execute(select(Note).where(Note.order_id == row.order_id)).scalars().all()
        assert "Когда приедет замерщик?" in note.text and "старое письмо" not in note.text
        assert note.internal is True and note.author.login == "sales"  # an employee's words: staff only
        assert db.session.get(Order, row.order_id).number == number


def test_the_same_message_id_twice_is_handled_once(api, receiver):
    message = mail("Анна <anna@mail.example>", "Кондиционер в офис", "Нужен кондиционер на 40 м².")
    deliver_to(receiver, message)
    deliver_to(receiver, message)  # a sending server that retried after a lost 250

    with api.app.app_context():
        rows = db.session.execute(select(InboundMessage)).scalars().all()
        assert [(r.message_id, r.outcome) for r in rows] == [(message["Message-ID"], "order_created")]
        orders = db.session.execute(select(Order)).scalars().all()
        assert [(o.kind, o.channel) for o in orders] == [("air_conditioner", "email")]


def test_recipients_outside_the_orders_domain_are_refused(api, receiver):
    message = mail("Анна <anna@mail.example>", "Окна", "Нужны окна", to="someone@elsewhere.example")
    with smtplib.SMTP("127.0.0.1", receiver.port, timeout=30) as client:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            client.send_message(message)
    [(code, _)] = refused.value.recipients.values()
    assert code == 550
    with api.app.app_context():
        assert db.session.execute(select(func.count(InboundMessage.id))).scalar() == 0


def test_a_message_that_cannot_be_handled_is_kept_as_rejected(api, receiver):
    nobody = mail(None, "Без отправителя", "Текст")
    autoreply = mail("Анна <anna@mail.example>", "Автоответ: меня нет в офисе", "Вернусь в понедельник",
                     Auto_Submitted="auto-replied")
    for message in (nobody, autoreply):
        with smtplib.SMTP("127.0.0.1", receiver.port, timeout=30) as client:
            with pytest.raises(smtplib.SMTPDataError) as refused:
                client.sendmail("bounce@mail.example", ["orders@bespoke.example"], message.as_bytes())
        assert refused.value.smtp_code == 550

    assert inbound(api.app, nobody).outcome == "rejected"
    assert "нет адреса отправителя" in inbound(api.app, nobody).error
    assert "Автоматическое письмо" in inbound(api.app, autoreply).error
    with api.app.app_context():
        assert db.session.execute(select(func.count(Order.id))).scalar() == 0


def test_the_receiver_is_a_flask_command(app):
    result = flask_command(app, "mail-receiver", "--help")
    assert result.exit_code == 0 and "INBOUND_SMTP_PORT" in result.output


def test_silence_after_the_whole_message_went_out_is_in_doubt_and_left_to_an_admin(make_app, smtp_servers):
    server = smtp_servers()
    server.refuse.append(("DATA", "hang up"))
    app = make_app(**server.settings())
    Api(app, app.test_client()).create_order()

    [note] = email_notifications(app, "order_received")
    assert note.status == "sending"  # it may well have been delivered: not marked failed, not resent blindly
    job = delivery_job(app, note)
    assert job.status == "pending" and "SMTPServerDisconnected" in job.last_error
    with app.app_context():
        assert execute_job(job.id) == "failed"
    job = delivery_job(app, note)
    assert job.status == "incident" and "Не известно, ушло ли сообщение через smtp" in job.last_error
    assert len(server.messages) == 1
