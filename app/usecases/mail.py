"""E-mail to the orders address, as use cases: a reply about an order becomes a note on it, anything else a new
order; what waits in the quarantine is accepted or dropped by an admin.

How a message is read (its sender, order number, text, authentication verdict, attachments) is
`app.services.inbound_mail`; the rules for what may land where are written there too.
"""
from __future__ import annotations

from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from functools import partial
from typing import Callable, Iterable

from flask_babel import force_locale, gettext
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.errors import Conflict, NotFound, ValidationError
from app.extensions import db
from app.models import Customer, InboundMessage, Order, QuarantinedMail, User
from app.services import audit
from app.services import inbound_mail as mail
from app.services.customer_view import customer_account
from app.services.inbound_mail import Unhandled
from app.services.mail_auth import Verdict
from app.services.notes import add_note
from app.usecases.orders import place_order
from app.usecases.uow import unit_of_work


def receive(raw: bytes, *, envelope_to: Iterable[str] = ()) -> InboundMessage:
    """Handle one received message (its raw bytes) in one unit of work; a repeat returns the stored row."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    message_id = mail.message_id_of(message, raw)
    stored = _stored(message_id)
    if stored is not None:
        return stored
    with force_locale("ru"):  # no request here: the attachment checks word their refusals in Russian
        try:
            return _once(message_id, partial(_handle, message, message_id, list(envelope_to), raw))
        except (Unhandled, ValidationError) as exc:
            return _once(message_id, partial(_rejected, message, message_id, exc))


def _once(message_id: str, work: Callable[[], InboundMessage]) -> InboundMessage:
    """Write under the write lock; a twin that got in first (another receiver) wins and is returned."""
    try:
        with unit_of_work(fresh=True):
            stored = _stored(message_id)
            if stored is not None:
                return stored
            row = work()
            db.session.add(row)
    except IntegrityError:
        stored = _stored(message_id)
        if stored is None:
            raise
        return stored
    return row


def _stored(message_id: str) -> InboundMessage | None:
    query = select(InboundMessage).where(InboundMessage.message_id == message_id)
    return db.session.execute(query).scalar_one_or_none()


def _handle(message: EmailMessage, message_id: str, envelope_to: list[str], raw: bytes) -> InboundMessage:
    sender = mail.sender_of(message)
    subject = mail.header(message, "Subject")
    text = mail.trim_quoted(mail.plain_text(message))[:mail.MAX_TEXT]
    verdict = mail.verdict_of(message, raw, sender)
    order = mail.addressed_order(message, envelope_to, subject)
    if order is not None:
        author = _note_author(order, sender)
        if author is None:
            return _quarantine(message_id, sender, subject, raw, envelope_to, "note", order, verdict,
                               "Отправитель не заказчик этого заказа и не сотрудник")
        if not verdict.passed:
            return _quarantine(message_id, sender, subject, raw, envelope_to, "note", order, verdict,
                               "Письмо не прошло проверку подлинности (DKIM/DMARC)")
        return _note_on_order(order, message, message_id, sender, subject, text, author)
    if mail.is_automatic(message, sender):
        raise Unhandled("Автоматическое письмо (автоответ или отчёт о недоставке) без номера заказа: заказ не создан")
    if not verdict.passed and _known_customer(sender):
        return _quarantine(message_id, sender, subject, raw, envelope_to, "order", None, verdict,
                           "Заявка с адреса известного заказчика не прошла проверку подлинности (DKIM/DMARC)")
    return _new_order(message, message_id, sender, subject, text, verdict)


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
    saved, refused = mail.save_attachments(order, message, author)
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
    found = mail.ADDRESS_LINE.search(text)
    order = place_order({
        "kind": mail.guess_kind(subject, text), "channel": "email",
        "customer": {"name": sender.display_name or sender.username, "email": sender.addr_spec},
        "address": found.group(1).strip()[:400] if found else mail.UNKNOWN_ADDRESS,
        "description": "\n\n".join(part for part in (subject, text) if part)}, actor)
    _, refused = mail.save_attachments(order, message, actor)
    if not verdict.passed:  # the manager who checks the new order sees it before calling anyone
        add_note(order, f"Отправитель письма {sender.addr_spec} не подтверждён ({verdict.summary}). "
                        "Уточните заявку у заказчика по телефону, прежде чем работать по ней.", actor)
    return _row(message_id, sender, subject, order, "order_created", refused)


def _rejected(message: EmailMessage, message_id: str, exc: Unhandled | ValidationError) -> InboundMessage:
    reason = exc.message
    if isinstance(exc, ValidationError) and exc.fields:
        reason += ": " + "; ".join(f"{field} — {problem}" for field, problem in exc.fields.items())
    try:
        sender = str(mail.sender_of(message))
    except Unhandled:
        sender = mail.header(message, "From")
    return InboundMessage(message_id=message_id, sender=sender[:300], subject=mail.header(message, "Subject")[:500],
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


@unit_of_work()
def accept_held(held_id: int, actor: User) -> InboundMessage:
    """Handle the held message as if it had passed: the note on its order, or the new order."""
    row = held(held_id)
    inbound = row.inbound
    message = BytesParser(policy=policy.default).parsebytes(row.raw)
    with force_locale("ru"):
        try:
            sender = mail.sender_of(message)
            subject = mail.header(message, "Subject")
            text = mail.trim_quoted(mail.plain_text(message))[:mail.MAX_TEXT]
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


@unit_of_work()
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
