"""Order intake and keeping the order row in step with what the process decided."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Callable

import phonenumbers
from sqlalchemy import select

from app.errors import NotFound, ValidationError
from app.extensions import db
from app.models import (
    CHANNELS,
    ORDER_KINDS,
    PAYMENT_TYPES,
    Claim,
    Component,
    Customer,
    Feedback,
    Order,
    OrderCounter,
    Partner,
    Payment,
    User,
)
from app.services import audit
from app.services.money import to_money


def normalize_phone(raw: str | None, region: str = "RU") -> str | None:
    """E.164 form of a phone number, or ValueError when it is not a possible number."""
    if not raw or not str(raw).strip():
        return None
    try:
        number = phonenumbers.parse(str(raw), region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(str(exc)) from exc
    if not phonenumbers.is_possible_number(number):
        raise ValueError("not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def next_number(today: date | None = None) -> str:
    """Allocate the next human order number for the year, e.g. 2026-00042."""
    year = (today or date.today()).year
    counter = db.session.execute(
        select(OrderCounter).where(OrderCounter.year == year).with_for_update()
    ).scalar_one_or_none()
    if counter is None:
        counter = OrderCounter(year=year, last=0)
        db.session.add(counter)
    counter.last += 1
    db.session.flush()
    return f"{year}-{counter.last:05d}"


def find_or_create_customer(name: str, phone: str | None, email: str | None,
                            partner: Partner | None = None) -> Customer:
    """Reuse a customer with the same phone (or e-mail when there is no phone); a partner's order gets a card in
    that partner's own book instead.

    As a CRM keeps partners' leads apart from its contacts: a partner's order never joins an existing customer
    (the partner would read a name and e-mail it did not type, and the name typed would be lost); its card is
    reused only when it holds exactly what is typed now. Our own intake skips these cards; staff still find them
    by phone in the new-order form's lookup, so a duplicate is visible rather than merged behind anyone's back.
    """
    email = email.lower() if email else None
    if partner is not None:
        query = select(Customer).where(Customer.partner_id == partner.id, Customer.name == name,
                                       Customer.phone.is_(None) if phone is None else Customer.phone == phone,
                                       Customer.email.is_(None) if email is None else Customer.email == email)
    elif phone:
        query = select(Customer).where(Customer.phone == phone, Customer.partner_id.is_(None))
    elif email:
        query = select(Customer).where(Customer.email == email, Customer.partner_id.is_(None))
    else:
        query = None
    customer = (db.session.execute(query.order_by(Customer.id).limit(1)).scalar_one_or_none()
                if query is not None else None)
    if customer is None:
        customer = Customer(name=name, phone=phone, email=email, partner_id=partner.id if partner else None)
        db.session.add(customer)
    elif email and not customer.email:
        customer.email = email
    return customer


def validate_intake(payload: dict) -> dict:
    """Check an intake payload; return cleaned values or raise ValidationError per field."""
    fields: dict[str, str] = {}
    kind = payload.get("kind")
    if kind not in ORDER_KINDS:
        fields["kind"] = f"Выберите вид заказа: {', '.join(ORDER_KINDS)}"
    channel = payload.get("channel") or "api"
    if channel not in CHANNELS:
        fields["channel"] = f"Выберите канал: {', '.join(CHANNELS)}"
    customer = payload.get("customer") or {}
    if not isinstance(customer, dict):
        customer = {}
        fields["customer"] = "Укажите заказчика: name, phone, email"
    name = (customer.get("name") or "").strip()
    if not name:
        fields["customer.name"] = "Укажите имя заказчика"
    phone = None
    try:
        phone = normalize_phone(customer.get("phone"))
    except ValueError:
        fields["customer.phone"] = "Неверный номер телефона"
    email = (customer.get("email") or "").strip() or None
    if email and ("@" not in email or "." not in email.split("@")[-1]):
        fields["customer.email"] = "Неверный адрес e-mail"
    if not phone and not email and "customer.phone" not in fields:
        fields["customer.phone"] = "Нужен телефон или e-mail"
    address = (payload.get("address") or "").strip()
    if not address:
        fields["address"] = "Укажите адрес"
    partner = None
    if payload.get("partner"):
        partner = db.session.execute(select(Partner).where(Partner.code == payload["partner"])).scalar_one_or_none()
        if partner is None:
            fields["partner"] = "Неизвестный код партнёра"
    if fields:
        raise ValidationError("Заказ не принят: проверьте поля", fields=fields)
    return {"kind": kind, "channel": channel, "name": name, "phone": phone, "email": email,
            "address": address, "description": (payload.get("description") or "").strip(), "partner": partner}


def create_order(clean: dict, actor: User | None) -> Order:
    """Stage a new order from validated intake values (the process is started by the caller)."""
    customer = find_or_create_customer(clean["name"], clean["phone"], clean["email"], clean["partner"])
    order = Order(number=next_number(), kind=clean["kind"], channel=clean["channel"], customer=customer,
                  partner=clean["partner"], address=clean["address"], description=clean["description"],
                  created_by=actor)
    db.session.add(order)
    db.session.flush()
    audit.record(order.id, "status", actor, field="status", old=None, new=order.status,
                 details={"channel": order.channel})
    return order


def process_start_data(order: Order) -> dict:
    """The variables a new order's process starts with."""
    return {
        "order_number": order.number, "order_kind": order.kind, "channel": order.channel,
        "customer": {"name": order.customer.name, "phone": order.customer.phone, "email": order.customer.email},
        "address": order.address, "description": order.description,
        "partner": order.partner.code if order.partner else None,
    }


def get_order(number: str) -> Order:
    order = db.session.execute(select(Order).where(Order.number == number)).scalar_one_or_none()
    if order is None:
        raise NotFound(f"Order {number} does not exist")
    return order


# -- process data → order row ---------------------------------------------------------------------

def _date(value: Any) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _datetime(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _user(value: Any) -> User | None:
    if not value:
        return None
    return db.session.execute(select(User).where(User.login == str(value))).scalar_one_or_none()


# process variable -> (order attribute, converter)
ORDER_FIELDS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "price": ("price", to_money),
    "prepayment": ("prepayment", to_money),
    "payment_type": ("payment_type", lambda v: v if v in PAYMENT_TYPES else None),
    "promised_date": ("promised_date", _date),
    "measurer": ("measurer", _user),
    "visit_at": ("visit_at", _datetime),
    "crew": ("crew", _user),
    "delivery_at": ("delivery_at", _datetime),
    "cancellation": ("cancel_reason", lambda v: (v or {}).get("reason") if isinstance(v, dict) else None),
}


def _sync_components(order: Order, items: list, actor) -> None:
    current = [(c.name, str(c.quantity.normalize()) if c.quantity is not None else "", c.unit, c.status)
               for c in order.components]
    wanted = []
    for item in items or []:
        if not isinstance(item, dict) or not item.get("name"):
            continue
        qty = Decimal(str(item.get("quantity") or 1))
        wanted.append((str(item["name"]), str(qty.normalize()), item.get("unit") or "шт",
                       item.get("status") or "needed", item.get("supplier")))
    if current == [w[:4] for w in wanted]:
        return
    order.components[:] = [Component(position=i, name=w[0], quantity=Decimal(w[1]), unit=w[2], status=w[3],
                                     supplier=w[4]) for i, w in enumerate(wanted)]
    audit.record(order.id, "field", actor, field="components",
                 old="; ".join(f"{c[0]} ×{c[1]} {c[2]} [{c[3]}]" for c in current),
                 new="; ".join(f"{w[0]} ×{w[1]} {w[2]} [{w[3]}]" for w in wanted))


def _record_payment(order: Order, payment: dict, actor, source: str) -> None:
    number = str(payment.get("number") or "").strip()
    amount = to_money(payment.get("amount"))
    if not number or amount is None:
        return
    if any(p.number == number for p in order.payments):
        return
    row = Payment(number=number, paid_on=_date(payment.get("date")) or date.today(), amount=amount,
                  method=payment.get("method"), received_by=payment.get("received_by") or "company",
                  source=source, recorded_by_id=actor.id if isinstance(actor, User) else None)
    order.payments.append(row)
    audit.record(order.id, "field", actor, field="payment", old=None,
                 new=f"№{number} от {row.paid_on} на {amount} ₽", entity="payment")


def apply_process_data(order: Order, data: dict, actor, *, source: str = "manual") -> None:
    """Copy what a step's submitted data decided (price, measurer, components, payment …) onto the order."""
    for variable, (attribute, convert) in ORDER_FIELDS.items():
        if variable in data:
            value = convert(data[variable])
            if value is not None or attribute == "cancel_reason":
                audit.set_field(order, attribute, value, actor, order.id)
    if "components" in data:
        _sync_components(order, data["components"], actor)
    if isinstance(data.get("payment"), dict):
        _record_payment(order, data["payment"], actor, source)
    if data.get("feedback_kind"):
        db.session.add(Feedback(order_id=order.id, kind=data["feedback_kind"], rating=data.get("rating"),
                                comment=data.get("feedback_comment") or data.get("claim_text")))
        if data["feedback_kind"] == "claim":
            db.session.add(Claim(order_id=order.id, text=data.get("claim_text") or "",
                                 photos=[int(p) for p in data.get("photos") or [] if str(p).isdigit()] or None))
    if data.get("claim_resolution") or data.get("claim_closed"):
        claim = db.session.execute(select(Claim).where(Claim.order_id == order.id, Claim.status == "open")
                                   .order_by(Claim.id.desc())).scalars().first()
        if claim is None and data.get("claim_resolution"):
            # Reviewed again because its report was refused (the diagram sent the claim back): the latest one.
            claim = db.session.execute(select(Claim).where(Claim.order_id == order.id)
                                       .order_by(Claim.id.desc())).scalars().first()
        if claim is not None and data.get("claim_resolution"):
            claim.resolution = data["claim_resolution"]
            claim.resolution_comment = data.get("resolution_comment")
            claim.discount_amount = to_money(data.get("discount_amount"))
        # A revisit resolves the claim only when the crew has been and closed it.
        if claim is not None and (data.get("claim_closed") or claim.resolution != "revisit"):
            claim.status, claim.resolved_at = "resolved", datetime.now(timezone.utc)
