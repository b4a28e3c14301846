"""Delivering one Notification through a transport (an SMS gateway, SMTP, the log) exactly once.

The row moves queued → sending (committed *before* the gateway is called) → sent | failed. A run
that finds its row still "sending" is a re-run after a crash while the gateway was being asked: it
asks the transport whether that message went out (`lookup`) instead of sending it again; when the
transport cannot tell, the job becomes an incident and an admin decides (retry resends).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

from app.extensions import db
from app.models import Notification
from app.models.base import utcnow
from app.operators.registry import JobContext, OperatorError
from app.usecases.uow import discard

log = logging.getLogger(__name__)


@dataclass
class Receipt:
    provider_ref: str | None = None  # the gateway's message id
    segments: int | None = None  # SMS parts billed
    details: dict = field(default_factory=dict)


class Transport(Protocol):
    name: str

    def send(self, notification: Notification) -> Receipt:
        """Hand the message over; raise OperatorError when the gateway refuses it (nothing was sent)."""

    def lookup(self, notification: Notification) -> Receipt | None:
        """For a message whose send was interrupted: its receipt if the gateway has it, else None."""


def deliver(ctx: JobContext, transport: Transport) -> dict:
    notification_id = ctx.params["notification_id"]
    resend = bool(ctx.params.get("resend"))
    with ctx.write():
        note = db.session.get(Notification, notification_id)
        if note is None:
            raise OperatorError(f"notification {notification_id} does not exist", permanent=True)
        if note.status == "sent":
            return _result(note, again=True)
        in_doubt = note.status == "sending" and not resend
        note.status, note.provider, note.delivery_job_id = "sending", transport.name, ctx.job_id
    note = db.session.get_one(Notification, notification_id)
    # The read ends before the gateway is asked (seconds, at worst its timeout): no connection idles in a
    # transaction meanwhile. The transport reads the row's columns, loaded now.
    db.session.expunge(note)
    discard()
    try:
        receipt = transport.lookup(note) if in_doubt else transport.send(note)
    except OperatorError as exc:
        with ctx.write():  # refused by the gateway: nothing went out, a retry may send it
            row = db.session.get_one(Notification, notification_id)
            row.status, row.error = "failed", exc.message
        raise
    # Anything else (a timeout after the request left) leaves the row "sending": in doubt.
    if receipt is None:
        raise OperatorError(
            f"Не известно, ушло ли сообщение через {transport.name}: прошлая попытка прервалась во время "
            "отправки, а шлюз не умеет проверять по нашему номеру. «Повторить» отправит его ещё раз, "
            "«Пропустить» — отметит как отправленное.", permanent=True)
    with ctx.write():
        row = db.session.get_one(Notification, notification_id)
        row.status, row.error, row.sent_at = "sent", None, utcnow()
        row.provider_ref, row.segments = receipt.provider_ref, receipt.segments
    return _result(db.session.get_one(Notification, notification_id), **receipt.details)


def _result(note: Notification, **extra) -> dict:
    return {"notification": note.id, "channel": note.channel, "status": note.status,
            "provider": note.provider, "provider_ref": note.provider_ref, **extra}


class LogTransport:
    """The embedded default: the message is written to the log and kept on the notification."""

    def __init__(self, channel: str) -> None:
        self.name = "log"
        self.channel = channel

    def send(self, notification: Notification) -> Receipt:
        log.info("%s to %s: %s", self.channel, notification.recipient, notification.subject or notification.body)
        return Receipt(provider_ref=f"log-{notification.id}")

    def lookup(self, notification: Notification) -> Receipt | None:
        return Receipt(provider_ref=f"log-{notification.id}")  # writing a log line is its own record
