"""Many orders at once — an Excel import's batch — staged with a handful of statements instead of a few per order.

Each order gets what `orders.create_order` gives one: its number from the year's counter, its customer card found
or made by the same rule as `orders.find_or_create_customer`, and its «создан» audit event. Its process is not
started here: that is the slow part (an engine run and its projections per order), and `app.usecases.imports`
hands it to the workers, so the orders are there — listed, searchable, exportable — while their lifecycles start.
"""
from __future__ import annotations

from sqlalchemy import insert, select, update

from app.extensions import db
from app.i18n import N_
from app.models import AuditEvent, Customer, Order, OrderStatus, User
from app.services.orders import next_numbers

# An imported order's stage until its process starts and names the first one (projection.project_order).
IMPORTED_STAGE = N_("Импортирован, процесс запускается")


def _key(clean: dict) -> tuple | None:
    """Which customer card a row may share (see `find_or_create_customer`): a partner's only when everything typed
    matches; ours by phone, else by e-mail."""
    email = clean["email"].lower() if clean["email"] else None
    if clean["partner"] is not None:
        return ("partner", clean["partner"].id, clean["name"], clean["phone"], email)
    if clean["phone"]:
        return ("phone", clean["phone"])
    if email:
        return ("email", email)
    return None


def _known(cleans: list[dict]) -> dict[tuple, Customer]:
    """The existing cards the rows match, in three queries (the oldest card wins, as for one order)."""
    phones = {c["phone"] for c in cleans if c["partner"] is None and c["phone"]}
    emails = {c["email"].lower() for c in cleans if c["partner"] is None and not c["phone"] and c["email"]}
    partners = {c["partner"].id for c in cleans if c["partner"] is not None}
    found: dict[tuple, Customer] = {}
    queries = []
    if phones:
        queries.append(select(Customer).where(Customer.phone.in_(phones), Customer.partner_id.is_(None)))
    if emails:
        queries.append(select(Customer).where(Customer.email.in_(emails), Customer.partner_id.is_(None)))
    if partners:
        queries.append(select(Customer).where(Customer.partner_id.in_(partners)))
    for query in queries:
        for customer in db.session.execute(query.order_by(Customer.id)).scalars():
            keys: list[tuple] = [("partner", customer.partner_id, customer.name, customer.phone, customer.email)]
            if customer.partner_id is None:
                keys = [("phone", customer.phone), ("email", customer.email)]
            for key in keys:
                found.setdefault(key, customer)
    return found


def _customers(cleans: list[dict]) -> list[int]:
    """Each row's customer id: an existing card (given the e-mail it lacked), or one new card per key."""
    known = _known(cleans)
    ids = {key: customer.id for key, customer in known.items()}
    new: dict[tuple, dict] = {}
    fill: dict[int, str] = {}
    keys = []
    for row, clean in enumerate(cleans):
        email = clean["email"].lower() if clean["email"] else None
        key = _key(clean) or ("row", row)  # neither phone nor e-mail (the intake refuses it): never shared
        keys.append(key)
        if key in known:
            if email and not known[key].email:
                fill.setdefault(known[key].id, email)
        elif key in new:
            new[key]["email"] = new[key]["email"] or email
        else:
            new[key] = {"name": clean["name"], "phone": clean["phone"], "email": email,
                        "partner_id": clean["partner"].id if clean["partner"] else None}
    if new:
        made = db.session.execute(insert(Customer).returning(Customer.id, sort_by_parameter_order=True),
                                  list(new.values())).scalars().all()
        ids.update(zip(new, made, strict=True))
    for customer_id, email in fill.items():
        db.session.execute(update(Customer).where(Customer.id == customer_id, Customer.email.is_(None))
                           .values(email=email))
    return [ids[key] for key in keys]


def create_orders(rows: list[tuple[dict, str]], actor: User | None, import_id: int) -> list[int]:
    """Stage an order per (validated intake values, external number) of the import; their ids in the same order."""
    if not rows:
        return []
    cleans = [clean for clean, _ in rows]
    customer_ids = _customers(cleans)
    numbers = next_numbers(len(rows))
    order_ids = db.session.execute(insert(Order).returning(Order.id, sort_by_parameter_order=True), [
        {"number": number, "kind": clean["kind"], "channel": clean["channel"], "customer_id": customer_id,
         "partner_id": clean["partner"].id if clean["partner"] else None, "address": clean["address"],
         "description": clean["description"], "created_by_id": actor.id if actor else None,
         "external_ref": ref, "import_id": import_id, "stage": IMPORTED_STAGE, "status": OrderStatus.ACTIVE}
        for (clean, ref), customer_id, number in zip(rows, customer_ids, numbers, strict=True)]).scalars().all()
    who = {"actor_id": actor.id, "actor_label": actor.login} if actor else {"actor_id": None, "actor_label": "system"}
    db.session.execute(insert(AuditEvent), [
        {"order_id": order_id, "kind": "status", "entity": "order", "entity_id": None, "field": "status",
         "old_value": None, "new_value": OrderStatus.ACTIVE.value,
         "details": {"channel": clean["channel"], "import": import_id}, **who}
        for order_id, clean in zip(order_ids, cleans, strict=True)])
    return list(order_ids)
