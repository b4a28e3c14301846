"""sms.send: one notification as an SMS (the log transport until the gateways land)."""
from __future__ import annotations

from workers.delivery import LogTransport, deliver
from workers.registry import JobContext


def send(ctx: JobContext) -> dict:
    return deliver(ctx, LogTransport("sms"))
