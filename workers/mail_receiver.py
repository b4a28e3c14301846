"""The SMTP receiver for the orders address: each message that arrives goes to app.usecases.mail.receive().

It answers the sending server only after the message is stored (250), so a crash in between makes
the sender retry rather than lose the mail; a failure of ours is a 451 (try later), a message that
cannot be handled a 550. A message held in the quarantine (an unverified sender) is a 250 too: a bounce
would go to whoever the From names, often not who sent it. Only recipients at the orders address's
domain are accepted: it is not a relay.
The handling runs on one worker thread of its own, inside the Flask app context, so the asyncio loop
keeps talking to other clients while a message is being written, and writes never race each other.
"""
from __future__ import annotations

import asyncio
import logging
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from email.utils import parseaddr
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

log = logging.getLogger(__name__)


def _domain(address: str) -> str:
    return parseaddr(address)[1].rpartition("@")[2].lower()


class OrdersMailbox:
    """The aiosmtpd handler (its hooks are looked up by name): RCPT filtering and DATA → receive()."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.domain = _domain(app.config["ORDERS_ADDRESS"])
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mail-receiver")

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if not self.domain or _domain(address) != self.domain:
            return "550 5.7.1 Relaying denied: we accept mail only for " + self.domain
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        loop = asyncio.get_running_loop()
        try:
            outcome, error = await loop.run_in_executor(self._executor, self._receive, raw, list(envelope.rcpt_tos))
        except Exception:  # noqa: BLE001 - our failure (database down …): the sender keeps the mail and retries
            log.exception("inbound message from %s could not be stored", envelope.mail_from)
            return "451 4.3.0 Temporary failure, please try again later"
        if outcome == "rejected":
            log.info("inbound message from %s rejected: %s", envelope.mail_from, error)
            return "550 5.6.0 Message not accepted: it is neither a reply about an order nor an order request"
        if outcome == "quarantined":
            log.warning("inbound message from %s held in quarantine: %s", envelope.mail_from, error)
        return "250 OK"

    def _receive(self, raw: bytes, recipients: list[str]) -> tuple[str, str | None]:
        """On the worker thread: the app context opens and closes the database session around one message."""
        from app.usecases.mail import receive

        with self.app.app_context():
            row = receive(raw, envelope_to=recipients)
            return row.outcome, row.error

    def close(self) -> None:
        self._executor.shutdown(wait=True)


class MailReceiver:
    """An aiosmtpd Controller (its own thread and event loop) with the orders mailbox as handler."""

    def __init__(self, app: Flask, host: str, port: int, *, data_size_limit: int = 40 * 1024 * 1024) -> None:
        self.mailbox = OrdersMailbox(app)
        self.host, self.port, self.data_size_limit = host, port, data_size_limit
        self.controller: Any = None  # aiosmtpd's Controller while running

    def start(self) -> MailReceiver:
        from aiosmtpd.controller import Controller

        self.controller = Controller(self.mailbox, hostname=self.host, port=self.port,
                                     data_size_limit=self.data_size_limit, ident="Bespoke orders mailbox")
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None
        self.mailbox.close()

    def __enter__(self) -> MailReceiver:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


@click.command("mail-receiver")
@with_appcontext
def mail_receiver_command() -> None:
    """Receive e-mail for the orders address on INBOUND_SMTP_HOST:INBOUND_SMTP_PORT until interrupted."""
    config = current_app.config
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # the proxy's app, for the thread
    with MailReceiver(app, config["INBOUND_SMTP_HOST"],
                      int(config["INBOUND_SMTP_PORT"])):
        click.echo(f"mail-receiver: {config['ORDERS_ADDRESS']} on "
                   f"{config['INBOUND_SMTP_HOST']}:{config['INBOUND_SMTP_PORT']} (Ctrl+C stops)")
        try:
            while not stop.wait(1.0):
                pass
        except KeyboardInterrupt:
            pass
    click.echo("mail-receiver: stopped")
