"""Reading e-mail to the orders address (acting on it: app.usecases.mail). A reply about an order becomes a note on
it, anything else a new order.

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
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

from flask import current_app
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from app.errors import ValidationError
from app.extensions import db
from app.models import Order, QuarantinedMail, User
from app.services.attachments import display_name, save_upload
from app.services.mail_auth import Verdict, authenticate, verify_dkim

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


def verdict_of(message: EmailMessage, raw: bytes, sender: Address) -> Verdict:
    """Our MX's Authentication-Results; where it wrote none, our own DKIM check (INBOUND_DKIM_VERIFY)."""
    config = current_app.config
    verdict = authenticate(message, sender.domain, config.get("INBOUND_AUTHSERV_ID", ""))
    if verdict.heard or not config.get("INBOUND_DKIM_VERIFY"):
        return verdict
    own = verify_dkim(raw, sender.domain, config.get("INBOUND_DNS", ""))
    return own if own.passed else Verdict(False, f"{verdict.summary}; {own.summary}")


def held_count() -> int:
    """For the menu badge: one COUNT."""
    return db.session.execute(select(func.count()).select_from(QuarantinedMail)).scalar() or 0


# -- reading the message --------------------------------------------------------------------------------

def header(message: EmailMessage, name: str) -> str:
    """A header as text; a header the parser chokes on counts as absent rather than failing the message."""
    try:
        value = message.get(name)
    except Exception:  # noqa: BLE001 - hostile or broken headers must not stop the receiver
        return ""
    return str(value).strip() if value is not None else ""


def message_id_of(message: EmailMessage, raw: bytes) -> str:
    """The sender's Message-ID, or one made from the content so that a byte-identical repeat is still caught."""
    value = header(message, "Message-ID")
    return value[:300] if value else f"<sha256-{hashlib.sha256(raw).hexdigest()}@inbound.invalid>"


def sender_of(message: EmailMessage) -> Address:
    for name in ("From", "Sender"):
        try:
            addresses = getattr(message.get(name), "addresses", ())
        except Exception:  # noqa: BLE001 - see _header
            addresses = ()
        for address in addresses:
            if "@" in (address.addr_spec or "") and address.username and address.domain:
                return address
    raise Unhandled("В письме нет адреса отправителя (From): некому ответить и не с кем связать заказ")


def is_automatic(message: EmailMessage, sender: Address) -> bool:
    """Autoreplies, bounces and our own mail coming back: they reach the orders address too, never as orders."""
    auto = header(message, "Auto-Submitted").lower()
    ours = {parseaddr(current_app.config[key])[1].lower() for key in ("ORDERS_ADDRESS", "MAIL_FROM")}
    return (bool(auto) and auto != "no") or message.get_content_type() == "multipart/report" \
        or sender.username.lower() in AUTOMATIC_SENDERS or sender.addr_spec.lower() in ours


def addressed_order(message: EmailMessage, envelope_to: list[str], subject: str) -> Order | None:
    """The order named by the orders+<number> address the message was sent to, else by its subject."""
    orders_address = current_app.config["ORDERS_ADDRESS"]
    recipients = list(envelope_to)
    for name in ("To", "Cc", "Delivered-To", "X-Original-To"):
        recipients += [addr for _, addr in getaddresses([header(message, name)]) if addr]
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

def save_attachments(order: Order, message: EmailMessage, actor: User) -> tuple[list[str], list[str]]:
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
