"""notify: turn a process event into notifications (one per person and channel) and their delivery jobs.

The service task completes as soon as the rows are written; each SMS or e-mail then goes out in
its own job, retried on its own, so a slow gateway never holds the order's next step.
"""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import Notification
from app.operators.registry import JobContext
from app.services.notifications import queue_notifications


def send(ctx: JobContext) -> dict:
    event, to = ctx.params.get("event", "event"), ctx.params.get("to", "customer")
    with ctx.write():
        written = list(db.session.execute(select(Notification).where(Notification.job_id == ctx.job_id)).scalars())
        if not written:
            order = ctx.order
            assert order is not None  # the diagram's notifications are always about an order
            written = queue_notifications(event, to, order, ctx.params, job_id=ctx.job_id)
        summary = {"event": event, "to": to, "queued": len(written),
                   "channels": sorted({n.channel for n in written})}
    return summary
