"""Notifications leave one way: an event → people → one `Notification` row per person and channel → the outbox.

Code that wants someone told calls `notify(order, event, to, ...)`: it writes a "notify" outbox job in
the caller's unit of work, as a diagram's notify service task does. That job (`app.operators.notify`)
and the SLA escalations call `queue_notifications`, which resolves the people, renders the wording
(`app.services.notification_templates`) and writes one row and one delivery job (`sms.send` /
`email.send`) per person and channel; staff also get an in-app row ("app"). A colleague @mentioned in
a note gets a row of its own (`mention`), kept in the log.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select

from app.extensions import db
from app.models import Department, Document, HumanTask, Notification, Order, User
from app.models.base import utcnow
from app.models.users import user_roles
from app.services.notification_templates import render
from app.services.outbox import add_job

CHANNELS = ("email", "sms")
# Documents attached to an event's e-mail (the newest version of each kind).
ATTACHMENTS = {"contract_ready": ("contract", "invoice"), "completed": ("act",), "claim_resolved": ("claim_report",)}


@dataclass(frozen=True)
class Recipient:
    name: str
    email: str | None = None
    phone: str | None = None
    user_id: int | None = None
    locale: str = "ru"
    channels: tuple[str, ...] = field(default=("email",))

    @property
    def address(self) -> str:
        return self.email or self.phone or ""

    def address_for(self, channel: str) -> str | None:
        return {"email": self.email, "sms": self.phone, "app": str(self.user_id) if self.user_id else None}[channel]


def notify(order: Order, event: str, to: str = "customer", **params) -> None:
    """Tell `to` (see `recipients`) about the event: a "notify" job in the current unit of work."""
    add_job("notify", {"event": event, "to": to, **params}, order_id=order.id)


def mention(order: Order, user: User, author: User, text: str) -> Notification:
    """A colleague @mentioned in a note: a row on the order's Notifications tab, kept in the log (nothing is sent)."""
    note = Notification(order_id=order.id, event="note_mention", channel="log", recipient=user.email or user.login,
                        subject=f"Вас упомянули в заказе {order.number}", body=f"{author.name}: {text}", status="sent",
                        extra={"to": user.login, "note_author": author.login})
    db.session.add(note)
    return note


def _staff(query) -> list[Recipient]:
    return [_person(u) for u in db.session.execute(query).scalars()]


def _person(user: User) -> Recipient:
    channels = tuple(user.notify_channels or ("email",))
    return Recipient(user.name, user.email, user.phone, user.id, user.locale or "ru", ("app", *channels))


def recipients(to: str, order: Order) -> list[Recipient]:
    """Resolve 'customer', a role code, 'head:<role>', 'director' or 'user:<id>' to people."""
    if to == "customer":
        c = order.customer
        wanted = tuple(c.notify_channels or CHANNELS)
        channels = tuple(ch for ch in wanted if (c.email if ch == "email" else c.phone))
        return [Recipient(c.name, c.email, c.phone, None, c.locale or "ru", channels)] if channels else []
    if to.startswith("user:"):
        user = db.session.get(User, int(to.split(":", 1)[1]))
        return [_person(user)] if user is not None and user.active else []
    if to.startswith("head:"):
        return _staff(select(User).join(Department, Department.head_id == User.id)
                      .where(Department.role_code == to.split(":", 1)[1], User.active.is_(True)))
    if to != "director":
        # Prefer whoever worked this order in that lane; fall back to everyone in the role.
        worked = db.session.execute(
            select(User).join(HumanTask, HumanTask.completed_by_id == User.id)
            .where(HumanTask.order_id == order.id, HumanTask.lane == to).order_by(HumanTask.id.desc()).limit(1)
        ).scalar_one_or_none()
        if worked is not None:
            return [_person(worked)]
    return _staff(select(User).join(user_roles).where(user_roles.c.role_code == to, User.active.is_(True))
                  .order_by(User.id))


def _attachments(event: str, order: Order) -> list[int]:
    ids = []
    for kind in ATTACHMENTS.get(event, ()):
        newest = db.session.execute(select(func.max(Document.id)).where(
            Document.order_id == order.id, Document.kind == kind)).scalar()
        if newest:
            ids.append(newest)
    return ids


def queue_notifications(event: str, to: str, order: Order, params: dict, *, job_id: int | None = None,
                        people: list[Recipient] | None = None) -> list[Notification]:
    """Write the event's notifications and their delivery jobs into the current unit of work."""
    written, rendered = [], {}
    attachments = _attachments(event, order)  # the same documents for every e-mail of the event
    for person in people if people is not None else recipients(to, order):
        if person.locale not in rendered:  # one template lookup and render per language, not per person
            rendered[person.locale] = render(event, order, params, person.locale)
        subject, text, html = rendered[person.locale]
        for channel in person.channels:
            address = person.address_for(channel)
            if not address:
                continue
            note = Notification(order_id=order.id, event=event, channel=channel, recipient=address,
                                subject=subject, body=text, html=html if channel == "email" else None,
                                status="sent" if channel == "app" else "queued", job_id=job_id,
                                user_id=person.user_id, locale=person.locale,
                                attachments=attachments if channel == "email" else None,
                                sent_at=utcnow() if channel == "app" else None,
                                extra={"to": to, "name": person.name})
            db.session.add(note)
            db.session.flush()
            if channel != "app":
                note.delivery_job_id = add_job(f"{channel}.send", {"notification_id": note.id},
                                               order_id=order.id).id
            written.append(note)
    return written
