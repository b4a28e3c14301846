"""Order intake and keeping the order row in step with what the process decided."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Callable

from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app import clock
from app.errors import NotFound, ValidationError
from app.extensions import db
from app.i18n import N_
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
from app.policy import visible_orders
from app.services import audit, visits
from app.services.dates import to_date, to_datetime
from app.services.inputs import FREE_TEXT_MAX, MAX_ID, clean_text, take_text
from app.services.money import MoneyError, exact_decimal, parse_money, to_money
from app.services.phones import normalize_phone

# What an order's status is called on its pages.
STATUS_LABELS = {"active": N_("в работе"), "completed": N_("выполнен"), "cancelled": N_("отменён")}


def next_number(today: date | None = None) -> str:
    """Allocate the next human order number for the year, e.g. 2026-00042."""
    return next_numbers(1, today)[0]


def next_numbers(count: int, today: date | None = None) -> list[str]:
    """Allocate `count` consecutive order numbers for the year at once (an import's batch)."""
    year = (today or clock.today()).year
    locked = select(OrderCounter).where(OrderCounter.year == year).with_for_update()
    counter = db.session.execute(locked).scalar_one_or_none()
    if counter is None:
        # The year's first number: orders placed at that moment all find no row. One inserts it, the others'
        # insert waits for that one and does nothing, and then each takes the row's lock in turn.
        dialect = db.session.get_bind().dialect.name
        insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        db.session.execute(insert(OrderCounter).values(year=year, last=0).on_conflict_do_nothing(
            index_elements=[OrderCounter.year]))
        counter = db.session.execute(locked).scalar_one()
    first = counter.last + 1
    counter.last += count
    db.session.flush()
    return [f"{year}-{number:05d}" for number in range(first, first + count)]


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


def validate_intake(payload: dict, partners: dict[str, Partner | None] | None = None) -> dict:
    """Check an intake payload; return cleaned values or raise ValidationError per field.

    Every field is type-checked and bounded by its column: a list where a string belongs is a 422 naming it.
    `partners`: partner codes already looked up (an import checks thousands of rows), filled in as it goes.
    """
    fields: dict[str, str] = {}
    kind = payload.get("kind")
    if not isinstance(kind, str) or kind not in ORDER_KINDS:
        fields["kind"] = f"Выберите вид заказа: {', '.join(ORDER_KINDS)}"
    channel = payload.get("channel")
    channel = "api" if channel in (None, "") else channel
    if not isinstance(channel, str) or channel not in CHANNELS:
        fields["channel"] = f"Выберите канал: {', '.join(CHANNELS)}"
    customer = payload.get("customer")
    customer = {} if customer is None else customer
    if not isinstance(customer, dict):
        customer = {}
        fields["customer"] = "Укажите заказчика: name, phone, email"
    name = take_text(fields, "customer.name", customer.get("name"), max_length=200,
                     required="Укажите имя заказчика")
    raw_phone = take_text(fields, "customer.phone", customer.get("phone"), max_length=40)
    phone = None
    try:
        phone = normalize_phone(raw_phone)
    except ValueError:
        fields.setdefault("customer.phone", "Неверный номер телефона")
    email = take_text(fields, "customer.email", customer.get("email"), max_length=200) or None
    if email and ("@" not in email or "." not in email.split("@")[-1] or " " in email):
        fields["customer.email"] = "Неверный адрес e-mail"
    if not phone and not email and "customer.phone" not in fields and "customer.email" not in fields:
        fields["customer.phone"] = "Нужен телефон или e-mail"
    address = take_text(fields, "address", payload.get("address"), max_length=400, required="Укажите адрес")
    description = take_text(fields, "description", payload.get("description"), max_length=FREE_TEXT_MAX,
                            multiline=True)
    partner = None
    code = take_text(fields, "partner", payload.get("partner"), max_length=40)
    if code:
        partners = {} if partners is None else partners
        if code not in partners:
            partners[code] = db.session.execute(select(Partner).where(Partner.code == code)).scalar_one_or_none()
        partner = partners[code]
        if partner is None:
            fields["partner"] = "Неизвестный код партнёра"
    if fields:
        raise ValidationError("Заказ не принят: проверьте поля", fields=fields)
    return {"kind": kind, "channel": channel, "name": name, "phone": phone, "email": email,
            "address": address, "description": description, "partner": partner}


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


# What a new order's process starts with (process_start_data's keys): deploy checks diagram scripts against them.
START_DATA_NAMES = frozenset({"order_number", "order_kind", "channel", "customer", "address", "description",
                              "partner"})


def process_start_data(order: Order) -> dict:
    """The variables a new order's process starts with (START_DATA_NAMES)."""
    return {
        "order_number": order.number, "order_kind": order.kind, "channel": order.channel,
        "customer": {"name": order.customer.name, "phone": order.customer.phone, "email": order.customer.email},
        "address": order.address, "description": order.description,
        "partner": order.partner.code if order.partner else None,
    }


def visible_order(user: User, number: str) -> Order:
    """The order with this number if the user may see it, else the same 404 as for a missing one."""
    order = db.session.execute(visible_orders(user).where(Order.number == number)).scalar_one_or_none()
    if order is None:
        raise NotFound(gettext("Заказ %(number)s не найден", number=number))
    return order


def get_order(number: str) -> Order:
    order = db.session.execute(select(Order).where(Order.number == number)).scalar_one_or_none()
    if order is None:
        raise NotFound(f"Order {number} does not exist")
    return order


# -- process data → order row ---------------------------------------------------------------------

def _user(value: Any) -> User | None:
    if not value:
        return None
    return db.session.execute(select(User).where(User.login == str(value))).scalar_one_or_none()


def _column(value: Any, field: str, max_length: int, *, multiline: bool = False) -> str:
    """Process data bound for a string column: cleaned, or a 422 naming the field (SQLite does not enforce
    String(n); PostgreSQL would fail the whole step)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # a payment number sent as a number
    try:
        return clean_text(value, max_length=max_length, multiline=multiline)
    except ValueError as exc:
        raise ValidationError(f"{field}: {exc}", fields={field: str(exc)}) from None


def _cancel_reason(value: Any) -> str | None:
    reason = value.get("reason") if isinstance(value, dict) else None
    if not reason:
        return None
    return _column(reason, "cancellation.reason", FREE_TEXT_MAX, multiline=True) or None


# process variable -> (order attribute, converter)
ORDER_FIELDS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "price": ("price", to_money),
    "prepayment": ("prepayment", to_money),
    "payment_type": ("payment_type", lambda v: v if isinstance(v, str) and v in PAYMENT_TYPES else None),
    "promised_date": ("promised_date", to_date),
    "measurer": ("measurer", _user),
    "visit_at": ("visit_at", to_datetime),
    "crew": ("crew", _user),
    "delivery_at": ("delivery_at", to_datetime),
    "cancellation": ("cancel_reason", _cancel_reason),
}


def _sync_components(order: Order, items: list, actor) -> None:
    current = [(c.name, str(c.quantity.normalize()) if c.quantity is not None else "", c.unit, c.status)
               for c in order.components]
    wanted = []
    for i, item in enumerate(items if isinstance(items, list) else []):
        if not isinstance(item, dict) or not item.get("name"):
            continue
        name = _column(item["name"], f"components.{i}.name", 300)
        try:
            qty = exact_decimal(item.get("quantity") or 1)
        except ValueError:
            qty = Decimal("NaN")
        if not qty.is_finite() or not Decimal(0) <= qty < Decimal(10) ** 9:
            raise ValidationError(f"components.{i}.quantity: not a quantity",
                                  fields={f"components.{i}.quantity": "Укажите количество числом"})
        wanted.append((name, str(qty.normalize()), _column(item.get("unit"), f"components.{i}.unit", 20) or "шт",
                       _column(item.get("status"), f"components.{i}.status", 20) or "needed",
                       _column(item.get("supplier"), f"components.{i}.supplier", 200) or None))
    if current == [w[:4] for w in wanted]:
        return
    order.components[:] = [Component(position=i, name=w[0], quantity=Decimal(w[1]), unit=w[2], status=w[3],
                                     supplier=w[4]) for i, w in enumerate(wanted)]
    audit.record(order.id, "field", actor, field="components",
                 old="; ".join(f"{c[0]} ×{c[1]} {c[2]} [{c[3]}]" for c in current),
                 new="; ".join(f"{w[0]} ×{w[1]} {w[2]} [{w[3]}]" for w in wanted))


def _record_payment(order: Order, payment: dict, actor, source: str) -> None:
    number = _column(payment.get("number"), "payment.number", 60)
    if not number:
        raise ValidationError("payment.number: Обязательное поле", fields={"payment.number": "Обязательное поле"})
    try:  # a bank's or 1C's message skips the form: a payment it cannot record must not complete the stage
        amount = parse_money(payment.get("amount"))
    except MoneyError as exc:
        raise ValidationError(f"payment.amount: {exc}", fields={"payment.amount": str(exc)}) from None
    if amount <= 0:
        raise ValidationError("payment.amount: Сумма должна быть больше нуля",
                              fields={"payment.amount": "Сумма должна быть больше нуля"})
    if any(p.number == number for p in order.payments):
        return
    row = Payment(number=number, paid_on=to_date(payment.get("date")) or clock.today(), amount=amount,
                  method=_column(payment.get("method"), "payment.method", 20) or None,
                  received_by=_column(payment.get("received_by"), "payment.received_by", 20) or "company",
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
    visits.record_bookings(order, data, actor)
    if "components" in data:
        _sync_components(order, data["components"], actor)
    if isinstance(data.get("payment"), dict):
        _record_payment(order, data["payment"], actor, source)
    if data.get("feedback_kind"):
        kind = _column(data["feedback_kind"], "feedback_kind", 20)
        claim_text = _column(data.get("claim_text"), "claim_text", FREE_TEXT_MAX, multiline=True)
        comment = _column(data.get("feedback_comment"), "feedback_comment", FREE_TEXT_MAX, multiline=True)
        db.session.add(Feedback(order_id=order.id, kind=kind, rating=data.get("rating"),
                                comment=comment or claim_text or None))
        if kind == "claim":
            photos = [str(p) for p in data.get("photos") or []] if isinstance(data.get("photos"), list) else []
            db.session.add(Claim(order_id=order.id, text=claim_text, photos=[
                int(p) for p in photos if p.isascii() and p.isdigit() and int(p) <= MAX_ID] or None))
    if data.get("claim_resolution") or data.get("claim_closed"):
        claim = db.session.execute(select(Claim).where(Claim.order_id == order.id, Claim.status == "open")
                                   .order_by(Claim.id.desc())).scalars().first()
        if claim is None and data.get("claim_resolution"):
            # Reviewed again because its report was refused (the diagram sent the claim back): the latest one.
            claim = db.session.execute(select(Claim).where(Claim.order_id == order.id)
                                       .order_by(Claim.id.desc())).scalars().first()
        if claim is not None and data.get("claim_resolution"):
            claim.resolution = _column(data["claim_resolution"], "claim_resolution", 20)
            claim.resolution_comment = _column(data.get("resolution_comment"), "resolution_comment", FREE_TEXT_MAX,
                                               multiline=True) or None
            claim.discount_amount = to_money(data.get("discount_amount"))
        # A revisit resolves the claim only when the crew has been and closed it.
        if claim is not None and (data.get("claim_closed") or claim.resolution != "revisit"):
            claim.status, claim.resolved_at = "resolved", clock.now()
