"""The Notifications tab and the SLA escalations block: what was sent about an order and who was chased."""
from __future__ import annotations

from collections.abc import Sequence

from flask_babel import gettext as _
from sqlalchemy import select

from app.extensions import db
from app.i18n import N_
from app.models import Escalation, Notification, Order
from app.services.notification_templates import EVENT_LABELS

CHANNEL_LABELS = {"email": N_("E-mail"), "sms": N_("SMS"), "app": N_("В системе")}
# Status → (label, CSS class): the word carries the meaning, the colour only repeats it.
STATUS_LABELS = {"queued": (N_("В очереди"), "queued"), "sending": (N_("Отправляется"), "at-risk"),
                 "sent": (N_("Отправлено"), "ok"), "failed": (N_("Ошибка"), "overdue")}
LEVEL_LABELS = {"warning": N_("Предупреждение (75 %)"), "head": N_("Руководителю (100 %)"),
                "director": N_("Директору (200 %)"), "at_risk": N_("Риск срыва обещанного срока")}


def event_label(event: str) -> str:
    """A readable event name; an unknown code (a newer event) is shown as is rather than hidden."""
    return _(EVENT_LABELS[event]) if event in EVENT_LABELS else event


def channel_label(channel: str) -> str:
    return _(CHANNEL_LABELS[channel]) if channel in CHANNEL_LABELS else channel


def status_of(status: str) -> tuple[str, str]:
    """(label, badge class) of a delivery status."""
    label, css = STATUS_LABELS.get(status, (status, ""))
    return _(label), css


def level_label(level: str) -> str:
    return _(LEVEL_LABELS[level]) if level in LEVEL_LABELS else level


def order_notifications(order: Order) -> Sequence[Notification]:
    """Newest first: the question asked is usually 'did the last message reach them?'."""
    return db.session.execute(select(Notification).where(Notification.order_id == order.id)
                              .order_by(Notification.created_at.desc(), Notification.id.desc())).scalars().all()


def order_escalations(order: Order) -> Sequence[Escalation]:
    return db.session.execute(select(Escalation).where(Escalation.order_id == order.id)
                              .order_by(Escalation.fired_at, Escalation.id)).scalars().all()


def told(escalation: Escalation) -> str:
    """The names of the people an escalation went to, once each, in the order they were told."""
    names = [p.get("name") or p.get("address") or "?" for p in (escalation.notified or [])]
    return ", ".join(dict.fromkeys(names)) or "—"


def tab_context(tab: str, order: Order, is_staff: bool) -> dict:
    """What the card template needs for this tab: escalations under the tasks (staff only), or the messages."""
    if tab == "tasks" and is_staff:
        return {"escalations": order_escalations(order), "level_label": level_label, "told": told}
    if tab == "notifications":
        return {"notifications": order_notifications(order), "event_label": event_label,
                "channel_label": channel_label, "status_of": status_of}
    return {}
