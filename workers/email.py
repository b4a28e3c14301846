"""email.send: one notification as an e-mail (the log transport until SMTP lands)."""
from __future__ import annotations

from workers.delivery import LogTransport, deliver
from workers.registry import JobContext


def send(ctx: JobContext) -> dict:
    return deliver(ctx, LogTransport("email"))
