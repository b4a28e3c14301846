"""The wording of notifications: built-in texts per event and language, the admins' own, and rendering them.

Templates are Jinja with the order, the event's params and the status-page link; admins edit them, so
they are rendered in Jinja's sandbox. `app.services.notifications` decides who is told and writes the rows.
"""
from __future__ import annotations

from datetime import date

from babel.dates import format_date, format_datetime, get_timezone
from flask import current_app
from jinja2 import TemplateError, pass_context
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape
from sqlalchemy import select

from app.errors import ValidationError
from app.extensions import db
from app.i18n import N_
from app.models import NotificationTemplate, Order
from app.services.dates import parse_datetime
from app.services.status_links import status_url

# Admins edit templates, so they are rendered in Jinja's sandbox (no attribute escapes).
_jinja = SandboxedEnvironment(autoescape=False)
_html_jinja = SandboxedEnvironment(autoescape=True)
LOCALES = ("ru", "en")

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
    "order_at_risk": {
        "ru": ("Риск срыва срока: заказ {{ order.number }}", "Заказ {{ order.number }} ({{ order.kind_label }}) "
               "на этапе «{{ params.get('stage_name') or order.stage }}» может не успеть к обещанной дате: "
               "обещано {{ params.get('promised_on') | local_date }}, ориентировочно "
               "{{ params.get('predicted_on') | local_date }}."),
        "en": ("Deadline at risk: order {{ order.number }}", "Order {{ order.number }} at stage “{{ "
               "params.get('stage_name') or order.stage }}” may miss its promised date: promised "
               "{{ params.get('promised_on') | local_date }}, now expected {{ params.get('predicted_on') "
               "| local_date }}.")},
}
# Event codes are the keys of DEFAULTS; people read them as words — the same words
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
    "order_at_risk": N_("Риск срыва срока (руководителю)"),
}
# Documents attached to an event's e-mail (the newest version of each kind).
SAMPLE_PARAMS = {"question": "Когда приедет замерщик?", "text": "Замерщик будет в 10:00.", "version": 1, "reason": "—",
                 "stage_name": "Замер", "due_at": "2026-12-01T09:00:00+00:00", "promised_on": "2026-12-10",
                 "predicted_on": "2026-12-14"}


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


@pass_context
def _local_date(context, value) -> str:
    """A day (a date or its ISO text), worded for the message's language."""
    if not value:
        return "—"
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    return format_date(value, "d MMMM yyyy", locale=context.get("locale") or "ru")


for _env in (_jinja, _html_jinja):
    _env.filters["local_time"] = _local_time
    _env.filters["local_date"] = _local_date


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


def preview(event: str, locale: str, subject: str, text: str, html: str | None, order: Order | None) -> dict:
    """Render an admin's draft against a real order (or the newest one) without saving it."""
    order = order or db.session.execute(select(Order).order_by(Order.id.desc()).limit(1)).scalar_one_or_none()
    if order is None:
        raise ValidationError("Нет ни одного заказа для предпросмотра")
    out_subject, out_text, out_html = render(event, order, SAMPLE_PARAMS, locale, (subject, text, html or None))
    return {"subject": out_subject, "text": out_text, "html": out_html, "order": order.number}
