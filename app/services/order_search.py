"""Filtering and sorting orders from query-string arguments: one implementation for the API and the UI."""
from __future__ import annotations

from sqlalchemy import or_, select

from app.errors import ValidationError
from app.models import Customer, HumanTask, Order, OrderStatus, Partner, User
from app.policy import visible_orders
from app.services.dates import parse_datetime
from app.services.inputs import like_pattern

SORTS = {
    "number": Order.number, "created": Order.created_at, "kind": Order.kind, "customer": Customer.name,
    "stage": Order.stage, "status": Order.status, "price": Order.price, "promised": Order.promised_date,
    "predicted": Order.predicted_on,
}
NULLS_LAST = {"predicted"}  # orders with nothing predicted (finished, not yet reckoned) after the dated ones
YES = ("1", "true", "yes", "on")


def _date(args, name: str):
    raw = args.get(name)
    if not raw:
        return None
    try:
        return parse_datetime(raw)
    except ValueError as exc:
        raise ValidationError(f"'{name}' must be an ISO date", fields={name: "ISO date expected"}) from exc


def search_orders(user: User, args):
    """The orders the user may see, narrowed by stage, status, kind, channel, partner, assignee, text, dates, and
    to the active orders at risk of missing the promised date (`at_risk`)."""
    query = visible_orders(user).join(Order.customer)
    for name, column in (("stage", Order.stage), ("status", Order.status), ("kind", Order.kind),
                         ("channel", Order.channel)):
        if args.get(name):
            query = query.where(column == args[name])
    if args.get("partner"):
        query = query.where(Order.partner_id.in_(select(Partner.id).where(Partner.code == args["partner"])))
    if args.get("assignee"):
        query = query.where(Order.id.in_(
            select(HumanTask.order_id).join(User, HumanTask.assignee_id == User.id)
            .where(HumanTask.state == "open", User.login == args["assignee"])))
    if str(args.get("at_risk", "")).lower() in YES:
        query = query.where(Order.at_risk.is_(True), Order.status == OrderStatus.ACTIVE)
    text = (args.get("q") or "").strip()
    if text:
        query = query.where(matches_text(text))
    created_from, created_to = _date(args, "created_from"), _date(args, "created_to")
    if created_from:
        query = query.where(Order.created_at >= created_from)
    if created_to:
        query = query.where(Order.created_at <= created_to)
    return query


def matches_text(text: str):
    """Order number, customer name, address, or (4+ digits) phone contains the text; needs Customer joined."""
    digits = "".join(ch for ch in text if ch.isdigit())
    like = like_pattern(text)  # '%' and '_' typed by a person are characters to find, not wildcards
    conditions = [Order.number.ilike(like, escape="\\"), Customer.name.ilike(like, escape="\\"),
                  Order.address.ilike(like, escape="\\")]
    if len(digits) >= 4:
        conditions.append(Customer.phone.like(f"%{digits}%"))
    return or_(*conditions)


def sorted_by(query, args):
    key = args.get("sort", "created")
    column = SORTS.get(key.lstrip("-"), Order.created_at)
    descending = key.startswith("-") or (key == "created" and "sort" not in args)
    ordering = column.desc() if descending else column.asc()
    if key.lstrip("-") in NULLS_LAST:
        ordering = ordering.nulls_last()
    return query.order_by(ordering, Order.id.desc())
