"""E-mail to the orders address: a reply about an order becomes a note on it, anything else a new order.

Our notifications carry `Reply-To: orders+<order number>@…`, so a reply names its order in the
address; a customer who writes afresh may name it in the subject. A message with no order number is
a request: the customer is found by e-mail address (or created), the kind is guessed from the words
used, and the order goes through the same intake and process start as the API's. Every message is
kept once per Message-ID (a mail server that delivers twice, or a sender that retries, changes
nothing) with its outcome; one that cannot be handled is kept as "rejected" with the reason.

Anyone can write any From, so nothing lands on an order on the word of the From alone. A note is added
only when the sender is the order's customer or an active employee AND our receiving server vouches
for the From domain (app.services.mail_auth). A request from a new address is ordinary business and
still becomes an order — a sales manager checks every new order anyway — but, unverified, it carries
a staff note saying so; an unverified request from a known customer's address would be filed under
that customer, so it waits. Whatever waits is kept whole in the quarantine (QuarantinedMail) until an
admin accepts it (it is then handled exactly as it would have been) or drops it.
"""
from __future__ import annotations

import hashlib
import io
import re
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr
from functools import partial
from html.parser import HTMLParser
from typing import Callable, Iterable

from flask import current_app
from flask_babel import force_locale, gettext
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import FileStorage

from app.engine.steps import start_order_process
from app.errors import Conflict, NotFound, ValidationError
from app.extensions import begin_write, db
from app.models import Customer, InboundMessage, Order, QuarantinedMail, User
from app.services import audit
from app.services import orders as order_service
from app.services.attachments import display_name, save_upload
from app.services.customer_view import customer_account
from app.services.mail_auth import Verdict, authenticate, verify_dkim
from app.services.notes import add_note
from app.services.outbox import commit, rollback

# Order numbers as app.services.orders.next_number makes them: 2026-00042 (more digits past 99 999).
ORDER_NUMBER = re.compile(r"(?<![\w-])(\d{4}-\d{5,})(?![\w-])")
# Word stems → order kind; the subject is searched before the body, stems in this order.
KIND_WORDS = (("шкаф", "wardrobe"), ("гардероб", "wardrobe"), ("кухн", "kitchen"), ("кухон", "kitchen"),
              ("кинотеатр", "home_theater"), ("кондиционер", "air_conditioner"), ("сплит", "air_conditioner"),
              ("окн", "windows"), ("окон", "windows"), ("мебел", "furniture"))
DEFAULT_KIND = "wardrobe"
# Intake requires an address; a request by e-mail rarely has one, so the sales step asks for it.
UNKNOWN_ADDRESS = "Не указан в письме — уточнить у заказчика"
ADDRESS_LINE = re.compile(r"^\s*(?:адрес|address)\s*[:—-]\s*(\S.*)$", re.IGNORECASE | re.MULTILINE)
# Where the quoted original starts in a reply ("-- " opens a signature).
SEPARATOR = re.compile(r"^(?:-{2,}\s*(?:original message|исходное (?:сообщение|письмо))\s*-*|-- ?|_{10,})$",
                       re.IGNORECASE)
ATTRIBUTION = re.compile(r"(?:wrote|написал|написала|написал\(а\)|пишет)\s*:\s*$|<?[^<>\s]+@[^<>\s]+>\s*:\s*$",
                         re.IGNORECASE)
AUTOMATIC_SENDERS = ("mailer-daemon", "postmaster")
MAX_TEXT = 20_000  # characters of a body kept in a note or a description (a pasted log must not bloat the process)


class Unhandled(Exception):
    """The message cannot become a note or an order; kept as "rejected" with this reason."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def reply_address(orders_address: str, number: str) -> str:
    """orders@example.com + 2026-00042 → orders+2026-00042@example.com (plus-addressing, one mailbox)."""
    local, _, domain = parseaddr(orders_address)[1].rpartition("@")
    return f"{local}+{number}@{domain}"


def receive(raw: bytes, *, envelope_to: Iterable[str] = ()) -> InboundMessage:
    """Handle one received message (its raw bytes) in one unit of work; a repeat returns the stored row."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    message_id = _message_id(message, raw)
    stored = _stored(message_id)
    if stored is not None:
        return stored
    with force_locale("ru"):  # no request here: the attachment checks word their refusals in Russian
        try:
            return _unit_of_work(message_id, partial(_handle, message, message_id, list(envelope_to), raw))
        except (Unhandled, ValidationError) as exc:
            return _unit_of_work(message_id, partial(_rejected, message, message_id, exc))


def _unit_of_work(message_id: str, work: Callable[[], InboundMessage]) -> InboundMessage:
    """Write under the write lock; a twin that got in first (another receiver) wins and is returned."""
    rollback()
    begin_write()
    try:
        stored = _stored(message_id)
        if stored is not None:
            rollback()
            return stored
        row = work()
        db.session.add(row)
        commit()
    except IntegrityError:
        rollback()
        stored = _stored(message_id)
        if stored is None:
            raise
        return stored
    except BaseException:
        rollback()
        raise
    return row


def _stored(message_id: str) -> InboundMessage | None:
    query = select(InboundMessage).where(InboundMessage.message_id == message_id)
    return db.session.execute(query).scalar_one_or_none()


def _handle(message: EmailMessage, message_id: str, envelope_to: list[str], raw: bytes) -> InboundMessage:
    sender = _sender(message)
    subject = _header(message, "Subject")
    text = trim_quoted(plain_text(message))[:MAX_TEXT]
    verdict = _verdict(message, raw, sender)
    order = _addressed_order(message, envelope_to, subject)
    if order is not None:
        author = _note_author(order, sender)
        if author is None:
            return _quarantine(message_id, sender, subject, raw, envelope_to, "note", order, verdict,
                               "Отправитель не заказчик этого заказа и не сотрудник")
        if not verdict.passed:
            return _quarantine(message_id, sender, subject, raw, envelope_to, "note", order, verdict,
                               "Письмо не прошло проверку подлинности (DKIM/DMARC)")
        return _note_on_order(order, message, message_id, sender, subject, text, author)
    if _automatic(message, sender):
        raise Unhandled("Автоматическое письмо (автоответ или отчёт о недоставке) без номера заказа: заказ не создан")
    if not verdict.passed and _known_customer(sender):
        return _quarantine(message_id, sender, subject, raw, envelope_to, "order", None, verdict,
                           "Заявка с адреса известного заказчика не прошла проверку подлинности (DKIM/DMARC)")
    return _new_order(message, message_id, sender, subject, text, verdict)


def _verdict(message: EmailMessage, raw: bytes, sender: Address) -> Verdict:
    """Our MX's Authentication-Results; where it wrote none, our own DKIM check (INBOUND_DKIM_VERIFY)."""
    config = current_app.config
    verdict = authenticate(message, sender.domain, config.get("INBOUND_AUTHSERV_ID", ""))
    if verdict.heard or not config.get("INBOUND_DKIM_VERIFY"):
        return verdict
    own = verify_dkim(raw, sender.domain, config.get("INBOUND_DNS", ""))
    return own if own.passed else Verdict(False, f"{verdict.summary}; {own.summary}")


def _note_author(order: Order, sender: Address) -> User | None:
    """Who may add a note by e-mail: the order's customer (signed by the customer account) or an active employee."""
    address = sender.addr_spec.lower()
    if (order.customer.email or "").lower() == address:
        return customer_account()
    return db.session.execute(
        select(User).where(func.lower(User.email) == address, User.active.is_(True), User.partner_id.is_(None),
                           User.id != customer_account().id).order_by(User.id).limit(1)).scalar_one_or_none()


def _known_customer(sender: Address) -> bool:
    query = select(Customer.id).where(Customer.email == sender.addr_spec.lower()).limit(1)
    return db.session.execute(query).first() is not None


def _quarantine(message_id: str, sender: Address, subject: str, raw: bytes, envelope_to: list[str], intent: str,
                order: Order | None, verdict: Verdict, reason: str) -> InboundMessage:
    """Hold the whole message back; an admin decides (accept_held / drop_held)."""
    row = InboundMessage(message_id=message_id, sender=str(sender)[:300], subject=subject[:500],
                         order_id=order.id if order else None, outcome="quarantined", error=reason)
    db.session.add(QuarantinedMail(inbound=row, order_id=row.order_id, intent=intent, reason=reason,
                                   authentication=verdict.summary, envelope_to=envelope_to, raw=raw))
    audit.record(row.order_id, "message", "mail-receiver", entity="inbound_message", field="quarantine",
                 new=f"{sender.addr_spec}: {reason}")
    return row


def _note_on_order(order: Order, message: EmailMessage, message_id: str, sender: Address, subject: str,
                   text: str, author: User) -> InboundMessage:
    """The sender's words go on the order; visible to the customer only when they are that order's customer."""
    saved, refused = _save_attachments(order, message, author)
    lines = [f"Письмо от {sender}"] + ([f"Тема: {subject}"] if subject else [])
    lines += ["", text or "(без текста)"]
    if saved:
        lines += ["", "Вложения: " + ", ".join(saved)]
    if refused:
        lines += ["", "Не приняты: " + "; ".join(refused)]
    own = author.id == customer_account().id and (order.customer.email or "").lower() == sender.addr_spec.lower()
    add_note(order, "\n".join(lines), author, internal=not own)
    return _row(message_id, sender, subject, order, "note_added", refused)


def _new_order(message: EmailMessage, message_id: str, sender: Address, subject: str, text: str,
               verdict: Verdict) -> InboundMessage:
    """A request: through the intake's validation and the process start, exactly as the API does it."""
    actor = customer_account()
    found = ADDRESS_LINE.search(text)
    clean = order_service.validate_intake({
        "kind": guess_kind(subject, text), "channel": "email",
        "customer": {"name": sender.display_name or sender.username, "email": sender.addr_spec},
        "address": found.group(1).strip()[:400] if found else UNKNOWN_ADDRESS,
        "description": "\n\n".join(part for part in (subject, text) if part)})
    order = order_service.create_order(clean, actor)
    start_order_process(order, actor)
    _, refused = _save_attachments(order, message, actor)
    if not verdict.passed:  # the manager who checks the new order sees it before calling anyone
        add_note(order, f"Отправитель письма {sender.addr_spec} не подтверждён ({verdict.summary}). "
                        "Уточните заявку у заказчика по телефону, прежде чем работать по ней.", actor)
    return _row(message_id, sender, subject, order, "order_created", refused)


def _rejected(message: EmailMessage, message_id: str, exc: Unhandled | ValidationError) -> InboundMessage:
    reason = exc.message
    if isinstance(exc, ValidationError) and exc.fields:
        reason += ": " + "; ".join(f"{field} — {problem}" for field, problem in exc.fields.items())
    try:
        sender = str(_sender(message))
    except Unhandled:
        sender = _header(message, "From")
    return InboundMessage(message_id=message_id, sender=sender[:300], subject=_header(message, "Subject")[:500],
                          outcome="rejected", error=reason)


def _row(message_id: str, sender: Address, subject: str, order: Order, outcome: str,
         refused: list[str]) -> InboundMessage:
    return InboundMessage(message_id=message_id, sender=str(sender)[:300], subject=subject[:500], order_id=order.id,
                          outcome=outcome, error="; ".join(refused) or None)


# -- the quarantine: a person's decision -----------------------------------------------------------------

def held(held_id: int) -> QuarantinedMail:
    row = db.session.get(QuarantinedMail, held_id, with_for_update=True)  # two admins at once: one decides
    if row is None:
        raise NotFound(gettext("Письма нет в карантине: его уже приняли или удалили"))
    return row


def accept_held(held_id: int, actor: User) -> InboundMessage:
    """Handle the held message as if it had passed: the note on its order, or the new order. Staged, not committed."""
    row = held(held_id)
    inbound = row.inbound
    message = BytesParser(policy=policy.default).parsebytes(row.raw)
    with force_locale("ru"):
        try:
            sender = _sender(message)
            subject = _header(message, "Subject")
            text = trim_quoted(plain_text(message))[:MAX_TEXT]
            if row.intent == "note":
                if row.order is None:
                    raise Unhandled("Заказа, к которому относилось письмо, больше нет")
                done = _note_on_order(row.order, message, inbound.message_id, sender, subject, text,
                                      _note_author(row.order, sender) or customer_account())
            else:
                done = _new_order(message, inbound.message_id, sender, subject, text, Verdict(True, "принято вручную"))
        except (Unhandled, ValidationError) as exc:
            raise Conflict(exc.message) from exc
    inbound.outcome, inbound.order_id, inbound.error = done.outcome, done.order_id, done.error
    audit.record(done.order_id, "message", actor, entity="inbound_message", entity_id=inbound.id, field="quarantine",
                 old="quarantined", new="accepted", details=_audit_details(row))
    db.session.delete(row)
    return inbound


def drop_held(held_id: int, actor: User) -> InboundMessage:
    """Throw the held message away (its raw text goes; the Message-ID stays so a resend is not handled again)."""
    row = held(held_id)
    inbound = row.inbound
    inbound.outcome = "dropped"
    audit.record(row.order_id, "message", actor, entity="inbound_message", entity_id=inbound.id, field="quarantine",
                 old="quarantined", new="dropped", details=_audit_details(row))
    db.session.delete(row)
    return inbound


def _audit_details(row: QuarantinedMail) -> dict:
    return {"sender": row.inbound.sender, "subject": row.inbound.subject, "reason": row.reason,
            "authentication": row.authentication, "message_id": row.inbound.message_id}


def held_count() -> int:
    """For the menu badge: one COUNT."""
    return db.session.execute(select(func.count()).select_from(QuarantinedMail)).scalar() or 0


# -- reading the message --------------------------------------------------------------------------------

def _header(message: EmailMessage, name: str) -> str:
    """A header as text; a header the parser chokes on counts as absent rather than failing the message."""
    try:
        value = message.get(name)
    except Exception:  # noqa: BLE001 - hostile or broken headers must not stop the receiver
        return ""
    return str(value).strip() if value is not None else ""


def _message_id(message: EmailMessage, raw: bytes) -> str:
    """The sender's Message-ID, or one made from the content so that a byte-identical repeat is still caught."""
    value = _header(message, "Message-ID")
    return value[:300] if value else f"<sha256-{hashlib.sha256(raw).hexdigest()}@inbound.invalid>"


def _sender(message: EmailMessage) -> Address:
    for name in ("From", "Sender"):
        try:
            addresses = getattr(message.get(name), "addresses", ())
        except Exception:  # noqa: BLE001 - see _header
            addresses = ()
        for address in addresses:
            if "@" in (address.addr_spec or "") and address.username and address.domain:
                return address
    raise Unhandled("В письме нет адреса отправителя (From): некому ответить и не с кем связать заказ")


def _automatic(message: EmailMessage, sender: Address) -> bool:
    """Autoreplies, bounces and our own mail coming back: they reach the orders address too, never as orders."""
    auto = _header(message, "Auto-Submitted").lower()
    ours = {parseaddr(current_app.config[key])[1].lower() for key in ("ORDERS_ADDRESS", "MAIL_FROM")}
    return (bool(auto) and auto != "no") or message.get_content_type() == "multipart/report" \
        or sender.username.lower() in AUTOMATIC_SENDERS or sender.addr_spec.lower() in ours


def _addressed_order(message: EmailMessage, envelope_to: list[str], subject: str) -> Order | None:
    """The order named by the orders+<number> address the message was sent to, else by its subject."""
    orders_address = current_app.config["ORDERS_ADDRESS"]
    recipients = list(envelope_to)
    for name in ("To", "Cc", "Delivered-To", "X-Original-To"):
        recipients += [addr for _, addr in getaddresses([_header(message, name)]) if addr]
    numbers = [tag for tag in (_plus_tag(addr, orders_address) for addr in recipients) if tag]
    numbers += ORDER_NUMBER.findall(subject)
    for number in dict.fromkeys(numbers):
        order = db.session.execute(select(Order).where(Order.number == number)).scalar_one_or_none()
        if order is not None:
            return order
    return None


def _plus_tag(address: str, orders_address: str) -> str | None:
    """"2026-00042" from orders+2026-00042@domain when that is our orders mailbox; None otherwise."""
    local, _, domain = address.strip().strip("<>").rpartition("@")
    ours_local, _, ours_domain = parseaddr(orders_address)[1].rpartition("@")
    base, plus, tag = local.partition("+")
    if not plus or base.lower() != ours_local.lower() or domain.lower() != ours_domain.lower():
        return None
    return tag if ORDER_NUMBER.fullmatch(tag) else None


def guess_kind(subject: str, text: str) -> str:
    for source in (subject.lower(), text.lower()):
        for stem, kind in KIND_WORDS:
            if re.search(rf"(?<!\w){stem}", source):
                return kind
    return DEFAULT_KIND


def plain_text(message: EmailMessage) -> str:
    """The plain-text body, or the HTML one turned into text (quoted blocks left out)."""
    body = message.get_body(preferencelist=("plain", "html"))
    if body is None:
        return ""
    try:
        content = body.get_content()
    except (LookupError, ValueError):  # an unknown charset: read what can be read
        payload = body.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if not isinstance(content, str):
        return ""
    return _HtmlText.convert(content) if body.get_content_type() == "text/html" else content


def trim_quoted(text: str) -> str:
    """Drop the quoted original of a reply: "> " lines, their "… wrote:" line, and what follows a separator."""
    kept: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        stripped = line.strip()
        if SEPARATOR.fullmatch(stripped):
            break
        if stripped.startswith(">"):
            _drop_attribution(kept)
            continue
        kept.append(line.rstrip())
    _drop_attribution(kept)
    return "\n".join(kept).strip()


def _drop_attribution(kept: list[str]) -> None:
    """Remove a trailing "On … X <x@y> wrote:" (also when the mail client wrapped it after the "<")."""
    end = len(kept)
    while end and not kept[end - 1].strip():
        end -= 1
    if end and ATTRIBUTION.search(kept[end - 1]):
        end -= 1
        if end and kept[end - 1].rstrip().endswith("<"):
            end -= 1
        del kept[end:]


class _HtmlText(HTMLParser):
    """Text of an HTML body: block elements become line breaks; blockquotes, scripts and styles are dropped."""

    BREAKS = {"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "table"}
    SKIP = {"blockquote", "script", "style", "head"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    @classmethod
    def convert(cls, html: str) -> str:
        parser = cls()
        parser.feed(html)
        parser.close()
        text = "".join(parser.parts)
        return re.sub(r"\n\s*\n\s*\n+", "\n\n", re.sub(r"[ \t\xa0]+", " ", text)).strip()

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BREAKS and not self.skipping:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self.SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BREAKS and not self.skipping:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)


# -- attachments ------------------------------------------------------------------------------------------

def _save_attachments(order: Order, message: EmailMessage, actor: User) -> tuple[list[str], list[str]]:
    """Each attached file through the same content checks as an upload; a refusal is noted, not fatal."""
    saved, refused = [], []
    for part in message.iter_attachments():
        name = display_name(part.get_filename() or "")
        content = part.get_payload(decode=True)
        if not isinstance(content, bytes):  # e.g. a forwarded message/rfc822: not a file
            refused.append(f"«{name}»: вложение не является файлом")
            continue
        upload = FileStorage(stream=io.BytesIO(content), filename=name, content_type=part.get_content_type())
        try:
            save_upload(order, upload, actor, field="attachment")
        except ValidationError as exc:
            refused.append(next(iter(exc.fields.values()), exc.message))
            continue
        saved.append(name)
    return saved, refused
