"""A real SMTP server for tests: aiosmtpd on loopback with STARTTLS (a trustme CA) and AUTH, keeping what it gets.

`refuse` queues scripted answers: ("RCPT"|"DATA", "451 4.3.0 …") makes the next such command fail that way;
("DATA", "hang up") keeps the message but drops the connection instead of answering.
"""
from __future__ import annotations

import asyncio
import ssl
from collections import deque
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.services import free_port


class CapturingSMTP:
    def __init__(self, directory: Path, *, user: str = "mailer", password: str = "s3cret",
                 mechanisms: tuple[str, ...] = ("LOGIN", "PLAIN"), implicit_tls: bool = False) -> None:
        self.user, self.password = user, password
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.logins: list[tuple[str, str]] = []  # (mechanism, login) of each successful AUTH
        self.refuse: deque[tuple[str, str]] = deque()
        self.delay = 0.0  # seconds before answering DATA: a real server's round trips and its own work
        self.port = free_port()
        ca = trustme.CA()
        self.ca_file = directory / f"smtp-ca-{self.port}.pem"
        ca.cert_pem.write_to_path(str(self.ca_file))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        excluded = [m for m in ("LOGIN", "PLAIN") if m not in mechanisms]
        self.security = "ssl" if implicit_tls else "starttls"
        # aiosmtpd counts only STARTTLS as "TLS" for AUTH, so on an implicit-TLS port AUTH is offered, not enforced.
        tls = ({"ssl_context": context, "auth_require_tls": False} if implicit_tls else
               {"tls_context": context, "require_starttls": True, "auth_required": True})
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, authenticator=self._authenticate,
                                     auth_exclude_mechanism=excluded, server_hostname="smtp.test", **tls)

    def settings(self, **overrides) -> dict:
        """The app settings that point email.send at this server."""
        return {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": self.port, "SMTP_USER": self.user,
                "SMTP_PASSWORD": self.password, "SMTP_SECURITY": self.security, "SMTP_CA_FILE": str(self.ca_file),
                "SMTP_TIMEOUT": 10, **overrides}

    def start(self) -> CapturingSMTP:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data == (self.user.encode(), self.password.encode())
        if ok:
            self.logins.append((mechanism, auth_data.login.decode()))
        return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 535 itself

    def _scripted(self, command: str) -> str | None:
        if self.refuse and self.refuse[0][0] == command:
            return self.refuse.popleft()[1]
        return None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        refusal = self._scripted("RCPT")
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        refusal = self._scripted("DATA")
        if refusal == "hang up":  # the message arrived, the answer never does
            self.messages.append(BytesParser(policy=policy.default).parsebytes(envelope.original_content))
            server.transport.abort()
            return "250 2.0.0 Stored (never heard)"
        if refusal:
            return refusal
        if self.delay:
            await asyncio.sleep(self.delay)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(BytesParser(policy=policy.default).parsebytes(envelope.original_content))
        return "250 2.0.0 Stored"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]
