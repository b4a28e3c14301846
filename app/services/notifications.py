"""Notification texts and recipients (templates become admin-editable in the workers issue)."""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from itsdangerous import URLSafeSerializer
from jinja2 import Environment, StrictUndefined
from sqlalchemy import select

from app.extensions import db
from app.models import Department, HumanTask, Order, Role, User

_jinja = Environment(undefined=StrictUndefined, autoescape=False)

TEMPLATES: dict[str, tuple[str, str]] = {
    "order_received": ("Заказ {{ order.number }} принят",
                       "Здравствуйте, {{ order.customer.name }}! Ваш заказ {{ order.number }} "
                       "({{ order.kind_label }}) принят. Статус: {{ status_url }}"),
    "visit_booked": ("Замер по заказу {{ order.number }}",
                     "Замер назначен на {{ order.visit_at.strftime('%d.%m.%Y %H:%M') if order.visit_at else '—' }}, "
                     "специалист: {{ order.measurer.name if order.measurer else '—' }}."),
    "contract_ready": ("Договор по заказу {{ order.number }}",
                       "Договор и счёт по заказу {{ order.number }} готовы: {{ status_url }}"),
    "payment_received": ("Оплата по заказу {{ order.number }}",
                         "Оплата по заказу {{ order.number }} получена. Спасибо!"),
    "design_finished": ("Проект готов: {{ order.number }}",
                        "Дизайнер завершил проектирование по заказу {{ order.number }}."),
    "production_started": ("Заказ {{ order.number }} в производстве",
                           "Ваш заказ {{ order.number }} передан в производство."),
    "production_finished": ("Заказ {{ order.number }} изготовлен",
                            "Ваш заказ {{ order.number }} изготовлен, скоро свяжемся для доставки."),
    "delivery_booked": ("Доставка по заказу {{ order.number }}",
                        "Доставка и монтаж назначены на "
                        "{{ order.delivery_at.strftime('%d.%m.%Y %H:%M') if order.delivery_at else '—' }}."),
    "completed": ("Заказ {{ order.number }} выполнен",
                  "Заказ {{ order.number }} выполнен. Оцените нашу работу: {{ status_url }}"),
    "claim_filed": ("Претензия по заказу {{ order.number }}",
                    "Заказчик подал претензию по заказу {{ order.number }}."),
    "claim_resolved": ("Претензия по заказу {{ order.number }} рассмотрена",
                       "Ваша претензия по заказу {{ order.number }} рассмотрена: {{ status_url }}"),
    "order_cancelled": ("Заказ {{ order.number }} отменён",
                        "Заказ {{ order.number }} отменён. Причина: {{ params.get('reason') or '—' }}"),
    "sla_breach": ("Просрочен этап заказа {{ order.number }}",
                   "Заказ {{ order.number }}: нарушен срок этапа «{{ order.stage }}»."),
}


@dataclass(frozen=True)
class Recipient:
    name: str
    address: str  # e-mail, phone or login — whatever the channel delivers to
    user_id: int | None = None


def status_token(order: Order) -> str:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="order-status").dumps(order.id)


def status_url(order: Order) -> str:
    return f"{current_app.config['PUBLIC_URL'].rstrip('/')}/s/{status_token(order)}"


def render(event: str, order: Order, params: dict) -> tuple[str, str]:
    subject, body = TEMPLATES.get(event, ("{{ event }}: {{ order.number }}", "{{ event }}"))
    context = {"order": order, "params": params, "event": event, "status_url": status_url(order)}
    return _jinja.from_string(subject).render(context), _jinja.from_string(body).render(context)


def _users(query) -> list[Recipient]:
    return [Recipient(u.name, u.email or u.login, u.id) for u in db.session.execute(query).scalars()]


def recipients(to: str, order: Order) -> list[Recipient]:
    """Resolve 'customer', a role code, 'head:<role>' or 'director' to people."""
    if to == "customer":
        c = order.customer
        return [Recipient(c.name, c.email or c.phone or "")] if (c.email or c.phone) else []
    if to.startswith("head:"):
        return _users(select(User).join(Department, Department.head_id == User.id)
                      .where(Department.role_code == to.split(":", 1)[1]))
    # Prefer whoever worked this order in that lane; fall back to everyone in the role.
    worked = db.session.execute(
        select(User).join(HumanTask, HumanTask.completed_by_id == User.id)
        .where(HumanTask.order_id == order.id, HumanTask.lane == to).order_by(HumanTask.id.desc()).limit(1)
    ).scalar_one_or_none()
    if worked is not None:
        return [Recipient(worked.name, worked.email or worked.login, worked.id)]
    return _users(select(User).join(User.roles).where(Role.code == to, User.active.is_(True)))
