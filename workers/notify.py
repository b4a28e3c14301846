"""notify: the event's message to its recipients on the order's channel ('log' until SMS/e-mail land)."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import Notification
from app.services.notifications import recipients, render
from workers.registry import JobContext


def send(ctx: JobContext) -> dict:
    event, to = ctx.params.get("event", "event"), ctx.params.get("to", "customer")
    subject, body = render(event, ctx.order, ctx.params)
    sent = 0
    for person in recipients(to, ctx.order):
        exists = db.session.execute(select(Notification.id).where(
            Notification.job_id == ctx.job.id, Notification.channel == "log",
            Notification.recipient == person.address)).first()
        if exists:
            continue
        db.session.add(Notification(order_id=ctx.order.id, event=event, channel="log", recipient=person.address,
                                    subject=subject, body=body, status="sent", job_id=ctx.job.id,
                                    extra={"to": to, "name": person.name}))
        sent += 1
    return {"event": event, "to": to, "sent": sent}
