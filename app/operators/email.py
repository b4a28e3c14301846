"""email.send: one notification as an e-mail, over SMTP (or to the log when SMTP_HOST is empty).

The message carries a Message-ID we derive from the notification id, so the id is known before the
server answers and is the same on every retry (a duplicate after an in-doubt resend is recognisable),
and a Reply-To of `orders+<order number>@…` so the customer's reply finds its order on the way in.
The SMTP conversation is split in phases: a refusal or a dropped connection *before* the end of the
data is a clean failure (nothing went out, retry); silence *after* it leaves the row "sending" for
`deliver()` to treat as in doubt; a problem at QUIT after the server said 250 does not matter.
"""
from __future__ import annotations

import re
import smtplib
import ssl
from email import policy
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.models import Document, Notification, Order
from app.operators.delivery import LogTransport, Receipt, Transport, deliver
from app.operators.registry import JobContext, OperatorError
from app.services.inbound_mail import reply_address
from app.usecases.uow import discard

DEFAULT_TIMEOUT = 30.0  # seconds per connect/read; SMTP_TIMEOUT in the config overrides it
# CRLF line ends, and 7-bit transfer encodings (base64 for Cyrillic): no reliance on the server's 8BITMIME.
MAIL_POLICY = policy.SMTP.clone(cte_type="7bit")
_LEADING_DOT = re.compile(rb"(?m)^\.")
_BARE_EOL = re.compile(rb"\r\n|\r|\n")


def send(ctx: JobContext) -> dict:
    return deliver(ctx, transport_from_config())


def transport_from_config() -> Transport:
    """SMTP when a host is configured, else the log (the embedded default needs no mail server)."""
    config = current_app.config
    if not config.get("SMTP_HOST"):
        return LogTransport("email")
    return SmtpTransport(host=config["SMTP_HOST"], port=int(config["SMTP_PORT"]), user=config.get("SMTP_USER", ""),
                         password=config.get("SMTP_PASSWORD", ""), security=config.get("SMTP_SECURITY", "starttls"),
                         ca_file=config.get("SMTP_CA_FILE", ""), mail_from=config["MAIL_FROM"],
                         orders_address=config["ORDERS_ADDRESS"],
                         timeout=float(config.get("SMTP_TIMEOUT") or DEFAULT_TIMEOUT))


def message_id(notification_id: int, mail_from: str) -> str:
    """Ours, not the server's: known before sending, identical on every retry of the same notification."""
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "localhost"
    return f"<notification-{notification_id}@{domain}>"


def compose(notification: Notification, *, mail_from: str, orders_address: str) -> EmailMessage:
    """Plain text, its HTML alternative and the notification's PDF documents as attachments."""
    message = EmailMessage(policy=MAIL_POLICY)
    message["Subject"] = notification.subject or ""
    message["From"] = mail_from
    message["To"] = _recipient(notification)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id(notification.id, mail_from)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: out-of-office replies should not answer it
    order = db.session.get(Order, notification.order_id) if notification.order_id else None
    if order is not None:
        message["Reply-To"] = reply_address(orders_address, order.number)
    message.set_content(notification.body or "")
    if notification.html:
        message.add_alternative(notification.html, subtype="html")
    for document in _documents(notification):
        message.add_attachment(document.content, maintype="application", subtype="pdf", filename=document.filename)
    return message


def _recipient(notification: Notification) -> Address | str:
    """The address with the person's name when we know it; a malformed address is the customer's data, final."""
    name = (notification.extra or {}).get("name") or ""
    try:
        return Address(display_name=name, addr_spec=notification.recipient)
    except (ValueError, IndexError) as exc:
        raise OperatorError(f"Неверный адрес получателя «{notification.recipient}»: {exc}", permanent=True) from exc


def _documents(notification: Notification) -> list[Document]:
    ids = [int(i) for i in notification.attachments or []]
    if not ids:
        return []
    found = {d.id: d for d in db.session.execute(select(Document).where(Document.id.in_(ids))).scalars()}
    missing = [i for i in ids if i not in found]
    if missing:
        raise OperatorError(f"Нет документов для вложения: {', '.join(map(str, missing))}", permanent=True)
    return [found[i] for i in ids]


class SmtpTransport:
    """The Transport protocol over smtplib: STARTTLS or implicit TLS with verified certificates, AUTH if set."""

    name = "smtp"

    def __init__(self, *, host: str, port: int, user: str = "", password: str = "", security: str = "starttls",
                 ca_file: str = "", mail_from: str, orders_address: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.host, self.port, self.user, self.password = host, port, user, password
        self.security, self.ca_file, self.timeout = security, ca_file, timeout
        self.mail_from, self.orders_address = mail_from, orders_address

    def send(self, notification: Notification) -> Receipt:
        if self.security not in ("starttls", "ssl", "none"):
            raise OperatorError(f"SMTP_SECURITY должен быть starttls, ssl или none, а не «{self.security}»",
                                permanent=True)
        payload = self._payload(notification)
        discard()  # the attachments were read: no transaction stays open while the mail server answers
        smtp = self._open()
        try:
            reply = _transmit(smtp, parseaddr(self.mail_from)[1], notification.recipient, payload)
        finally:
            _close(smtp)
        return Receipt(provider_ref=message_id(notification.id, self.mail_from), details={"smtp_reply": reply})

    def _payload(self, notification: Notification) -> bytes:
        """The message as it goes on the wire; what cannot be encoded (a non-ASCII mailbox) is final."""
        try:
            return compose(notification, mail_from=self.mail_from, orders_address=self.orders_address).as_bytes()
        except (ValueError, MessageError) as exc:
            raise OperatorError(f"Письмо для «{notification.recipient}» не удалось составить: {exc}",
                                permanent=True) from exc

    def lookup(self, notification: Notification) -> Receipt | None:
        """SMTP keeps no record we could ask: whether an interrupted message went out cannot be known."""
        return None

    def _open(self) -> smtplib.SMTP:
        """Connect, secure and log in; every failure here is before any data left, so never in doubt."""
        context = ssl.create_default_context(cafile=self.ca_file or None)
        where = f"{self.host}:{self.port}"
        try:
            if self.security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        except ssl.SSLCertVerificationError as exc:
            raise _bad_certificate(where, exc) from exc
        except smtplib.SMTPConnectError as exc:
            raise _refused(f"Почтовый сервер {where} не принял соединение", exc.smtp_code, exc.smtp_error) from exc
        except OSError as exc:  # refused, unreachable, timed out, TLS handshake broke
            raise OperatorError(f"Не удалось подключиться к почтовому серверу {where}: {exc}") from exc
        try:
            self._secure_and_login(smtp, context, where)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _secure_and_login(self, smtp: smtplib.SMTP, context: ssl.SSLContext, where: str) -> None:
        try:
            if self.security == "starttls":
                smtp.starttls(context=context)
            if self.user:
                smtp.login(self.user, self.password)
        except ssl.SSLCertVerificationError as exc:
            raise _bad_certificate(where, exc) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise OperatorError(f"Почтовый сервер {where} не поддерживает нужное расширение ({exc}): "
                                "проверьте SMTP_SECURITY и SMTP_USER.", permanent=True) from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise OperatorError(f"Почтовый сервер {where} отклонил вход пользователя «{self.user}» "
                                f"({exc.smtp_code} {_text(exc.smtp_error)}): проверьте SMTP_USER и SMTP_PASSWORD.",
                                permanent=exc.smtp_code >= 500) from exc
        except smtplib.SMTPResponseException as exc:
            raise _refused(f"Почтовый сервер {where} отказал при установке соединения", exc.smtp_code,
                           exc.smtp_error) from exc
        except smtplib.SMTPServerDisconnected as exc:
            raise OperatorError(f"Почтовый сервер {where} разорвал соединение до отправки письма: {exc}") from exc
        except smtplib.SMTPException as exc:  # e.g. no AUTH mechanism in common
            raise OperatorError(f"Почтовый сервер {where}: {exc}", permanent=True) from exc
        except OSError as exc:
            raise OperatorError(f"Связь с почтовым сервером {where} прервалась до отправки письма: {exc}") from exc


def _transmit(smtp: smtplib.SMTP, sender: str, recipient: str, payload: bytes) -> str:
    """MAIL, RCPT, DATA by hand, so we know whether a broken connection came before or after the final dot."""
    try:
        code, reply = smtp.mail(sender)
        if code != 250:
            raise _refused(f"Почтовый сервер отклонил адрес отправителя {sender}", code, reply)
        code, reply = smtp.rcpt(recipient)
        if code not in (250, 251):
            raise _refused(f"Почтовый сервер отклонил адрес получателя {recipient}", code, reply)
        code, reply = smtp.docmd("DATA")
        if code != 354:
            raise _refused("Почтовый сервер не принял письмо (DATA)", code, reply)
        smtp.send(_LEADING_DOT.sub(b"..", _BARE_EOL.sub(b"\r\n", payload)).rstrip(b"\r\n") + b"\r\n.\r\n")
    except smtplib.SMTPServerDisconnected as exc:
        raise OperatorError(f"Почтовый сервер разорвал соединение до приёма письма: {exc}") from exc
    except UnicodeEncodeError as exc:  # smtplib speaks ASCII: a non-ASCII address never reaches the server
        raise OperatorError(f"Адрес «{recipient}» или «{sender}» не в ASCII, сервер его не примет: {exc}",
                            permanent=True) from exc
    # The whole message is out: no answer now means we cannot know. Not an OperatorError, so the row
    # stays "sending" and deliver() handles the doubt (SMTPServerDisconnected propagates as it is).
    code, reply = smtp.getreply()
    if code != 250:
        raise _refused(f"Почтовый сервер не принял письмо для {recipient}", code, reply)
    return f"{code} {_text(reply)}"


def _close(smtp: smtplib.SMTP) -> None:
    """QUIT politely; once the server has the message (or refused it) a failure here changes nothing."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _refused(what: str, code: int, reply: bytes | str) -> OperatorError:
    """5xx is the server's final word (no retry helps); 4xx and anything odd is worth another attempt."""
    return OperatorError(f"{what}: {code} {_text(reply)}", permanent=500 <= code < 600)


def _bad_certificate(where: str, exc: ssl.SSLCertVerificationError) -> OperatorError:
    return OperatorError(f"Сертификат почтового сервера {where} не прошёл проверку ({exc.verify_message or exc}): "
                         "проверьте SMTP_HOST и SMTP_CA_FILE.", permanent=True)


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
