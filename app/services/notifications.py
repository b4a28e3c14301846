"""Notifications: event → template (built-in text, or an admin's wording) → people → channels.

`queue_notifications` writes one `Notification` row per person and channel and one delivery job
(`sms.send` / `email.send`) per row, all in the caller's unit of work; staff also get an in-app
row ("app"). Templates are Jinja with the order, the event's params and the status-page link.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from babel.dates import format_datetime, get_timezone
from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from jinja2 import TemplateError, pass_context
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape
from sqlalchemy import func, select

from app.errors import ValidationError
from app.extensions import db
from app.i18n import N_
from app.models import Department, Document, HumanTask, Notification, NotificationTemplate, Order, User
from app.models.base import utcnow
from app.models.users import user_roles
from app.services.dates import parse_datetime

# Admins edit templates, so they are rendered in Jinja's sandbox (no attribute escapes).
_jinja = SandboxedEnvironment(autoescape=False)
_html_jinja = SandboxedEnvironment(autoescape=True)
LOCALES = ("ru", "en")
CHANNELS = ("email", "sms")

_VISIT = "{{ order.visit_at | local_time if order.visit_at else '—' }}"
_DELIVERY = "{{ order.delivery_at | local_time if order.delivery_at else '—' }}"

# event → {locale: (subject, text)}; the text is the SMS and the plain part of the e-mail.
DEFAULTS: dict[str, dict[str, tuple[str, str]]] = {
    "order_received": {
        "ru": ("Заказ {{ order.number }} принят",
               "Здравствуйте, {{ order.customer.name }}! Ваш заказ {{ order.number }} ({{ order.kind_label }}) "
               "принят. Статус заказа: {{ status_url }}"),
        "en": ("Order {{ order.number }} received",
               "Hello {{ order.customer.name }}, your order {{ order.number }} has been received. "
               "Follow it here: {{ status_url }}")},
    "visit_booked": {
        "ru": ("Замер по заказу {{ order.number }}",
               "Замер по заказу {{ order.number }} назначен на " + _VISIT + ", специалист: "
               "{{ order.measurer.name if order.measurer else '—' }}. {{ status_url }}"),
        "en": ("Measurement visit for order {{ order.number }}",
               "The measurement visit for order {{ order.number }} is booked for " + _VISIT + ", specialist: "
               "{{ order.measurer.name if order.measurer else '—' }}. {{ status_url }}")},
    "contract_ready": {
        "ru": ("Договор по заказу {{ order.number }}",
               "Договор и счёт по заказу {{ order.number }} готовы. Документы во вложении и на странице "
               "заказа: {{ status_url }}"),
        "en": ("Contract for order {{ order.number }}",
               "The contract and invoice for order {{ order.number }} are ready, attached and on the order "
               "page: {{ status_url }}")},
    "payment_received": {
        "ru": ("Оплата по заказу {{ order.number }}", "Оплата по заказу {{ order.number }} получена. Спасибо!"),
        "en": ("Payment for order {{ order.number }}", "We have received the payment for order {{ order.number }}. "
               "Thank you!")},
    "design_finished": {
        "ru": ("Проект готов: {{ order.number }}", "Дизайнер завершил проектирование по заказу {{ order.number }}."),
        "en": ("Design finished: {{ order.number }}", "The designer has finished the design for order "
               "{{ order.number }}.")},
    "production_started": {
        "ru": ("Заказ {{ order.number }} в производстве", "Ваш заказ {{ order.number }} передан в производство. "
               "{{ status_url }}"),
        "en": ("Order {{ order.number }} is in production", "Your order {{ order.number }} is now being made. "
               "{{ status_url }}")},
    "production_finished": {
        "ru": ("Заказ {{ order.number }} изготовлен", "Ваш заказ {{ order.number }} изготовлен, скоро свяжемся "
               "для доставки."),
        "en": ("Order {{ order.number }} is made", "Your order {{ order.number }} is made; we will contact you "
               "about delivery.")},
    "delivery_booked": {
        "ru": ("Доставка по заказу {{ order.number }}", "Доставка и монтаж по заказу {{ order.number }} назначены "
               "на " + _DELIVERY + "."),
        "en": ("Delivery of order {{ order.number }}", "Delivery and installation of order {{ order.number }} "
               "are booked for " + _DELIVERY + ".")},
    "completed": {
        "ru": ("Заказ {{ order.number }} выполнен", "Заказ {{ order.number }} выполнен. Оцените нашу работу: "
               "{{ status_url }}"),
        "en": ("Order {{ order.number }} completed", "Order {{ order.number }} is completed. Please rate our work: "
               "{{ status_url }}")},
    "claim_filed": {
        "ru": ("Претензия по заказу {{ order.number }}", "Заказчик подал претензию по заказу {{ order.number }}."),
        "en": ("Claim on order {{ order.number }}", "The customer filed a claim on order {{ order.number }}.")},
    "claim_resolved": {
        "ru": ("Претензия по заказу {{ order.number }} рассмотрена", "Ваша претензия по заказу {{ order.number }} "
               "рассмотрена: {{ status_url }}"),
        "en": ("Claim on order {{ order.number }} resolved", "Your claim on order {{ order.number }} has been "
               "resolved: {{ status_url }}")},
    "customer_question": {
        "ru": ("Вопрос заказчика по заказу {{ order.number }}", "{{ order.customer.name }} спрашивает на странице "
               "заказа {{ order.number }}: {{ params.get('question') }}"),
        "en": ("Customer's question on order {{ order.number }}", "{{ order.customer.name }} asks on the status page "
               "of order {{ order.number }}: {{ params.get('question') }}")},
    "contract_approved": {
        "ru": ("Заказчик согласовал договор {{ order.number }}", "{{ order.customer.name }} согласовал(а) договор по "
               "заказу {{ order.number }} (редакция {{ params.get('version') }}) на странице заказа."),
        "en": ("The customer approved the contract {{ order.number }}", "{{ order.customer.name }} approved the "
               "contract of order {{ order.number }} (edition {{ params.get('version') }}) on the status page.")},
    "staff_message": {
        "ru": ("Сообщение по заказу {{ order.number }}", "{{ params.get('text') }} Заказ {{ order.number }}: "
               "{{ status_url }}"),
        "en": ("A message about order {{ order.number }}", "{{ params.get('text') }} Order {{ order.number }}: "
               "{{ status_url }}")},
    "order_cancelled": {
        "ru": ("Заказ {{ order.number }} отменён", "Заказ {{ order.number }} отменён. Причина: "
               "{{ params.get('reason') or '—' }}"),
        "en": ("Order {{ order.number }} cancelled", "Order {{ order.number }} was cancelled. Reason: "
               "{{ params.get('reason') or '—' }}")},
    "sla_warning": {
        "ru": ("Скоро срок: заказ {{ order.number }}", "Заказ {{ order.number }}: этап "
               "«{{ params.get('stage_name') }}» нужно завершить до {{ params.get('due_at') | local_time }}."),
        "en": ("Due soon: order {{ order.number }}", "Order {{ order.number }}: stage "
               "“{{ params.get('stage_name') }}” is due by {{ params.get('due_at') | local_time }}.")},
    "sla_breach": {
        "ru": ("Просрочен этап заказа {{ order.number }}", "Заказ {{ order.number }}: нарушен срок этапа "
               "«{{ params.get('stage_name') or order.stage }}» (срок {{ params.get('due_at') | local_time }})."),
        "en": ("Overdue: order {{ order.number }}", "Order {{ order.number }}: stage “{{ params.get('stage_name') "
               "or order.stage }}” is overdue (due {{ params.get('due_at') | local_time }}).")},
    "sla_director": {
        "ru": ("Эскалация директору: заказ {{ order.number }}", "Заказ {{ order.number }}: этап «{{ params.get("
               "'stage_name') or order.stage }}» просрочен вдвое (срок {{ params.get('due_at') | local_time }})."),
        "en": ("Escalation to the director: order {{ order.number }}", "Order {{ order.number }}: stage “{{ "
               "params.get('stage_name') or order.stage }}” is twice over its deadline (due {{ params.get('due_at') "
               "| local_time }}).")},
}
# Event codes are the keys of app.services.notifications.DEFAULTS; people read them as words — the same words
# as on the admin's notification templates page, so an event is called one thing everywhere.
EVENT_LABELS = {
    "order_received": N_("Заказ принят"), "visit_booked": N_("Замер назначен"), "contract_ready": N_("Договор готов"),
    "payment_received": N_("Оплата получена"), "design_finished": N_("Проект готов"),
    "production_started": N_("Передан в производство"), "production_finished": N_("Изготовлен"),
    "delivery_booked": N_("Доставка назначена"), "completed": N_("Заказ выполнен"),
    "claim_filed": N_("Претензия подана"), "claim_resolved": N_("Претензия рассмотрена"),
    "customer_question": N_("Вопрос заказчика"), "staff_message": N_("Ответ заказчику"),
    "contract_approved": N_("Заказчик согласовал договор"),
    "order_cancelled": N_("Заказ отменён"),
    "sla_warning": N_("Срок этапа подходит (75 %)"),
    "sla_breach": N_("Срок этапа нарушен (руководителю)"), "sla_director": N_("Срок нарушен вдвое (директору)"),
}
# Documents attached to an event's e-mail (the newest version of each kind).
ATTACHMENTS = {"contract_ready": ("contract", "invoice"), "completed": ("act",), "claim_resolved": ("claim_report",)}
SAMPLE_PARAMS = {"question": "Когда приедет замерщик?", "text": "Замерщик будет в 10:00.", "version": 1, "reason": "—",
                 "stage_name": "Замер", "due_at": "2026-12-01T09:00:00+00:00"}


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


def _status_signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="order-status")


def status_token(order: Order) -> str | None:
    """The signed link token: the order's id and its current key. None while the link is revoked."""
    if not order.status_key:
        return None
    return _status_signer().dumps([order.id, order.status_key])


def order_id_for_token(token: str) -> tuple[int, str] | None:
    """(order id, key) from a token whose signature holds, else None; the caller compares the key."""
    try:
        loaded = _status_signer().loads(token)
    except BadSignature:
        return None
    if (not isinstance(loaded, list) or len(loaded) != 2 or not isinstance(loaded[0], int)
            or not isinstance(loaded[1], str)):
        return None
    return loaded[0], loaded[1]


def status_url(order: Order) -> str:
    """The customer's status page, or '' while staff have the link revoked."""
    token = status_token(order)
    return f"{current_app.config['PUBLIC_URL'].rstrip('/')}/s/{token}" if token else ""


@pass_context
def _local_time(context, value) -> str:
    """A date-time in the company's time zone, worded for the message's language."""
    if not value:
        return "—"
    if isinstance(value, str):
        value = parse_datetime(value)
    return format_datetime(value, "d MMMM yyyy, HH:mm",
                           tzinfo=get_timezone(current_app.config.get("TIMEZONE", "Europe/Moscow")),
                           locale=context.get("locale") or "ru")


for _env in (_jinja, _html_jinja):
    _env.filters["local_time"] = _local_time


def template_for(event: str, locale: str) -> tuple[str, str, str | None]:
    """(subject, text, html) for the event in the locale: the admin's wording, else the built-in one."""
    row = db.session.execute(select(NotificationTemplate).where(
        NotificationTemplate.event == event, NotificationTemplate.locale == locale)).scalar_one_or_none()
    if row is not None:
        return row.subject, row.text, row.html
    texts = DEFAULTS.get(event, {})
    subject, text = texts.get(locale) or texts.get("ru") or ("{{ event }}: {{ order.number }}", "{{ event }}")
    return subject, text, None


def render(event: str, order: Order, params: dict, locale: str = "ru",
           template: tuple[str, str, str | None] | None = None) -> tuple[str, str, str]:
    """Subject, plain text and HTML of one message; a broken template raises ValidationError."""
    subject, text, html = template or template_for(event, locale)
    context = {"order": order, "params": params, "event": event, "status_url": status_url(order),
               "company": current_app.config["COMPANY"], "locale": locale}
    try:
        subject_out = _jinja.from_string(subject).render(context).strip()
        text_out = _jinja.from_string(text).render(context).strip()
        body = _html_jinja.from_string(html).render(context) if html else _paragraphs(text_out)
    except TemplateError as exc:
        raise ValidationError(f"Ошибка в шаблоне уведомления «{event}»: {exc}",
                              fields={"template": str(exc)}) from exc
    except (ArithmeticError, AttributeError, LookupError, TypeError, ValueError) as exc:
        # An admin's {{ order.price + 1 }} on an order without a price: worded, not a traceback.
        raise ValidationError(f"Шаблон уведомления «{event}» не выводится на заказе {order.number}: "
                              f"{type(exc).__name__}: {exc}", fields={"template": str(exc)}) from exc
    layout = current_app.jinja_env.get_template("notifications/email.html")
    return subject_out, text_out, layout.render(subject=subject_out, body=Markup(body), company=context["company"],
                                                status_url=context["status_url"], locale=locale)


def check_template(subject: str, text: str, html: str | None) -> None:
    """Refuse a template that does not even parse (works without any order to render it against)."""
    for name, source, env in (("subject", subject, _jinja), ("text", text, _jinja), ("html", html, _html_jinja)):
        if not source:
            continue
        try:
            env.parse(source)
        except TemplateError as exc:
            raise ValidationError(f"Ошибка в шаблоне ({name}): {exc}", fields={name: str(exc)}) from exc


def _paragraphs(text: str) -> str:
    return "".join(f"<p>{escape(part)}</p>" for part in text.split("\n\n") if part.strip())


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
    from app.services.outbox import add_job

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


def preview(event: str, locale: str, subject: str, text: str, html: str | None, order: Order | None) -> dict:
    """Render an admin's draft against a real order (or the newest one) without saving it."""
    order = order or db.session.execute(select(Order).order_by(Order.id.desc()).limit(1)).scalar_one_or_none()
    if order is None:
        raise ValidationError("Нет ни одного заказа для предпросмотра")
    out_subject, out_text, out_html = render(event, order, SAMPLE_PARAMS, locale, (subject, text, html or None))
    return {"subject": out_subject, "text": out_text, "html": out_html, "order": order.number}
