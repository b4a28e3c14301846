"""Filtering and sorting orders from query-string arguments: one implementation for the API and the UI."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import any_, func, literal_column, or_, select, table, union
from sqlalchemy import column as table_column
from sqlalchemy import text as sql_text

from app.errors import ValidationError
from app.extensions import db
from app.models import Customer, HumanTask, Order, OrderStatus, Partner, User
from app.policy import visible_orders
from app.services.dates import parse_datetime
from app.services.inputs import MAX_ID, like_pattern
from app.services.periods import YEARS, parse_day, start_of

SORTS = {
    "number": Order.number, "created": Order.created_at, "kind": Order.kind,
    # the customer's name without joining customers: the list's count and the other sorts need no join
    "customer": select(Customer.name).where(Customer.id == Order.customer_id).correlate(Order).scalar_subquery(),
    "stage": Order.stage, "status": Order.status, "price": Order.price, "promised": Order.promised_date,
    "predicted": Order.predicted_on,
}
NULLS_LAST = {"promised", "predicted"}  # orders with no date after the dated ones, on both databases alike
YES = ("1", "true", "yes", "on")
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
FLAGS = (*YES, "0", "false", "no", "off", "")
BPMN_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,99}")  # an XML NCName in ASCII, as long as HumanTask.bpmn_id
TRIGRAM = 3  # the indexes find texts of three characters or more; a shorter one reads every order
ORDERS_FTS, CUSTOMERS_FTS = table("orders_fts", table_column("rowid")), table("customers_fts", table_column("rowid"))
TASK_ARGS = ("task", "task_stage", "task_done", "task_late", "task_loop", "task_next", "stopped_at")


@dataclass(frozen=True)
class TaskFilter:
    """Orders by the tasks they had (the analytics' per-stage figures drill down here): a task at the bpmn id `task`
    and/or at the stage `task_stage` (without either: any task), completed (`done`), completed after its deadline
    (`late`), reached more than once (`loop`), or followed straight by the task `next`; `stopped_at`: the stage of
    the order's last task (where a cancelled order stopped)."""
    task: str = ""
    stage: str = ""
    done: bool = False
    late: bool = False
    loop: bool = False
    next: str = ""
    stopped_at: str = ""

    @property
    def on_tasks(self) -> bool:
        return bool(self.task or self.stage or self.done or self.late or self.loop or self.next)


def task_filter(args) -> TaskFilter:
    """The task filter from the query string; raises ValidationError naming each argument it cannot use."""
    raw = {name: str(args.get(name) or "").strip() for name in TASK_ARGS}
    problems: dict[str, str] = {}
    for name in ("task", "task_next"):
        if raw[name] and not BPMN_ID.fullmatch(raw[name]):
            problems[name] = "a BPMN task id expected"
    for name in ("task_stage", "stopped_at"):
        if len(raw[name]) > 120:
            problems[name] = "at most 120 characters"
    flags = {}
    for name in ("task_done", "task_late", "task_loop"):
        if raw[name].lower() not in FLAGS:
            problems[name] = "true or false expected"
        flags[name] = raw[name].lower() in YES
    if problems:
        raise ValidationError("task filter: " + ", ".join(sorted(problems)), fields=problems)
    return TaskFilter(raw["task"], raw["task_stage"], flags["task_done"], flags["task_late"], flags["task_loop"],
                      raw["task_next"], raw["stopped_at"])


def _tasks_matching(chosen: TaskFilter):
    """Ids of the orders that had such a task."""
    if chosen.next:
        ordered = (select(HumanTask.order_id, HumanTask.bpmn_id, HumanTask.stage,
                          func.lead(HumanTask.bpmn_id).over(partition_by=HumanTask.order_id,
                                                            order_by=(HumanTask.created_at, HumanTask.id))
                          .label("next_id")).subquery())
        step = select(ordered.c.order_id).where(ordered.c.next_id == chosen.next)
        if chosen.task:
            step = step.where(ordered.c.bpmn_id == chosen.task)
        if chosen.stage:
            step = step.where(ordered.c.stage == chosen.stage)
        return step
    query = select(HumanTask.order_id).where(HumanTask.order_id.is_not(None))
    if chosen.task:
        query = query.where(HumanTask.bpmn_id == chosen.task)
    if chosen.stage:
        query = query.where(HumanTask.stage == chosen.stage)
    if chosen.done or chosen.late:
        query = query.where(HumanTask.state == "completed", HumanTask.completed_at.is_not(None))
    if chosen.late:
        query = query.where(HumanTask.due_at.is_not(None), HumanTask.completed_at > HumanTask.due_at)
    if chosen.loop:  # more than once at the same task
        query = query.group_by(HumanTask.order_id, HumanTask.bpmn_id).having(func.count() > 1)
    return query


def _stopped_at(stage: str):
    """Ids of the orders whose last task was at the stage (cancelling renames Order.stage, the task keeps it)."""
    last = select(func.max(HumanTask.id)).where(HumanTask.order_id.is_not(None)).group_by(HumanTask.order_id)
    return select(HumanTask.order_id).where(HumanTask.id.in_(last), HumanTask.stage == stage)


def customer_arg(args) -> int | None:
    """`customer`: a customer card's id; ValidationError naming it otherwise."""
    customer = str(args.get("customer") or "").strip()
    if not customer:
        return None
    if not (customer.isascii() and customer.isdigit() and int(customer) <= MAX_ID):
        raise ValidationError("'customer' must be a customer id", fields={"customer": "customer id expected"})
    return int(customer)


def date_arg(args, name: str):
    """A moment; a bare date (what the list's date fields send) is the company's day: its first moment for
    `…_from`, the first moment of the next day for `…_to` (taken as exclusive then)."""
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        if DAY.fullmatch(raw):
            day = parse_day(raw)
            return start_of(day + timedelta(days=1)) if name.endswith("_to") else start_of(day)
        moment = parse_datetime(raw)
        if not YEARS[0] <= moment.year <= YEARS[1]:
            raise ValueError(raw)
        return moment
    except ValueError as exc:
        raise ValidationError(f"'{name}' must be an ISO date", fields={name: "ISO date expected"}) from exc


def search_orders(user: User, args):
    """The orders the user may see, narrowed by stage, status, kind, channel, partner, customer, assignee, text,
    dates (created, completed), the tasks they had (TaskFilter), and to the active orders at risk of missing the
    promised date (`at_risk`). Customers are joined only to search their names and phones (`q`): an order always
    has one, so the join drops nothing, and without it the list's count reads the orders alone."""
    query = visible_orders(user)
    for name, column in (("stage", Order.stage), ("status", Order.status), ("kind", Order.kind),
                         ("channel", Order.channel)):
        if args.get(name):
            query = query.where(column == args[name])
    if args.get("partner"):
        query = query.where(Order.partner_id.in_(select(Partner.id).where(Partner.code == args["partner"])))
    customer = customer_arg(args)
    if customer is not None:  # one customer's card (the analytics' «by customer» links here: a name may be shared)
        query = query.where(Order.customer_id == customer)
    if args.get("assignee"):
        query = query.where(Order.id.in_(
            select(HumanTask.order_id).join(User, HumanTask.assignee_id == User.id)
            .where(HumanTask.state == "open", User.login == args["assignee"])))
    if str(args.get("at_risk", "")).lower() in YES:
        query = query.where(Order.at_risk.is_(True), Order.status == OrderStatus.ACTIVE)
    chosen = task_filter(args)
    if chosen.on_tasks:
        query = query.where(Order.id.in_(_tasks_matching(chosen)))
    if chosen.stopped_at:
        query = query.where(Order.id.in_(_stopped_at(chosen.stopped_at)))
    text = (args.get("q") or "").strip()
    if text:  # from three characters the indexes alone answer: no customer to join
        query = (query if len(text) >= TRIGRAM else query.join(Order.customer)).where(matches_text(text))
    for prefix, column in (("created", Order.created_at), ("completed", Order.completed_at)):
        since, until = date_arg(args, f"{prefix}_from"), date_arg(args, f"{prefix}_to")
        if since:
            query = query.where(column >= since)
        if until:
            whole_day = DAY.fullmatch((args.get(f"{prefix}_to") or "").strip())
            query = query.where(column < until if whole_day else column <= until)
    return query


def matches_text(text: str):
    """Order number, customer name, address, or (4+ digits) phone contains the text, case aside; a text of one or
    two characters needs Customer joined. From three characters on, the text-search indexes (app/models/search.py)
    name the orders that match, and nothing else is read: the count of a broad search (10,000 orders) costs the
    index's entries, not a lower() of every matching order, customer and address."""
    digits = _phone_digits(text)
    if len(text) >= TRIGRAM:
        candidates = _candidates(text, digits)
        if db.session.get_bind().dialect.name == "postgresql":
            # the matches as an array: their rows read by the primary key, not every order hashed against them
            # (10,000 matches of 100,000 orders: 35–40 → 24–30 ms with the page and its total)
            return Order.id == any_(func.array(candidates.scalar_subquery()))
        return Order.id.in_(candidates)
    like = like_pattern(text)  # '%' and '_' typed by a person are characters to find, not wildcards
    conditions = [Order.number.ilike(like, escape="\\"), Customer.name.ilike(like, escape="\\"),
                  Order.address.ilike(like, escape="\\")]
    if digits:
        conditions.append(Customer.phone.like(f"%{digits}%"))
    return or_(*conditions)


def _phone_digits(text: str) -> str:
    """The digits of a searched text, when there are enough of them (four) to look for in the phones."""
    digits = "".join(ch for ch in text if ch.isdigit())
    return digits if len(digits) >= 4 else ""


def _fts_matches(text: str, digits: str) -> dict[str, str]:
    """SQLite's FTS5 queries of a search: the orders' own columns (`own`) and the customers' (`customers`)."""
    def phrase(value: str) -> str:  # an FTS5 string: the text itself, found anywhere in a column
        return '"' + value.replace('"', '""') + '"'

    return {"own": phrase(text),
            "customers": f"name : {phrase(text)}" + (f" OR phone : {phrase(digits)}" if digits else "")}


def _candidates(text: str, digits: str):
    """Ids of the orders whose number or address, or whose customer's name or phone (`digits`), contains the text,
    case aside — read from the indexes: FTS5 trigram tables on SQLite (a phrase of trigrams is the text itself,
    anywhere in the column; case folded as Unicode folds it, ё and Ё alike), pg_trgm GIN indexes under the same
    ILIKE on PostgreSQL."""
    if db.session.get_bind().dialect.name == "sqlite":
        matches = _fts_matches(text, digits)
        own = select(ORDERS_FTS.c.rowid).where(literal_column("orders_fts").op("MATCH")(matches["own"]))
        customers = select(CUSTOMERS_FTS.c.rowid).where(
            literal_column("customers_fts").op("MATCH")(matches["customers"]))
    else:
        like = like_pattern(text)
        own = select(Order.id).where(or_(Order.number.ilike(like, escape="\\"),
                                         Order.address.ilike(like, escape="\\")))
        customers = select(Customer.id).where(or_(Customer.name.ilike(like, escape="\\"),
                                                  *[Customer.phone.like(f"%{digits}%")] * bool(digits)))
        # the customers found first, on their own (an array): as `IN (subquery)` PostgreSQL joined them to the
        # orders with a parallel scan of every customer (20 ms) instead of their trigram indexes (1 ms)
        return union(own, select(Order.id).where(Order.customer_id == any_(func.array(customers.scalar_subquery()))))
    return union(own, select(Order.id).where(Order.customer_id.in_(customers)))


# A search by text alone in the order of creation, on SQLite, where its matches are many: the page walks the
# analytics index — it holds each order's creation time and customer beside its id — from the newest (or oldest)
# entry and keeps those the text-search tables name, so it stops at the page's last match; the total counts the
# matches from those tables and the customers' index. Sorting every match instead read each matching order's row:
# 10,000 orders for a common surname at 100,000 orders, 28–38 ms, where this is 11–16 ms in all.
_TEXT_PAGE = {direction: sql_text(
    "SELECT id FROM orders INDEXED BY ix_orders_analytics"
    " WHERE customer_id IN (SELECT rowid FROM customers_fts WHERE customers_fts MATCH :customers)"
    " OR id IN (SELECT rowid FROM orders_fts WHERE orders_fts MATCH :own)"
    f" ORDER BY created_at {direction}, id DESC LIMIT :limit OFFSET :offset") for direction in ("ASC", "DESC")}
# Walking the index reads at worst all of it; sorting the matches reads each match's row, about 18 index entries'
# worth: from a match in 18 orders on, the walk is never the slower. Fewer matches are sorted as any list is.
WALK_SHARE = 18


def text_search_page(user: User, args, page: int, per_page: int) -> tuple[list[int], int] | None:
    """One page's order ids, and the total, of a search by text alone (nothing else narrows it, the user sees
    every order) in the order of creation that matches many orders, on SQLite; None for any other list, which
    `search_orders` serves."""
    text_searched = (args.get("q") or "").strip()
    key = args.get("sort", "created")
    if len(text_searched) < TRIGRAM or key.lstrip("-") != "created" or db.session.get_bind().dialect.name != "sqlite":
        return None
    if search_orders(user, {name: value for name, value in args.items() if name != "q"}).whereclause is not None:
        return None  # another filter, or what the user may see, narrows it too
    digits = _phone_digits(text_searched)
    total = db.session.execute(select(func.count()).select_from(_candidates(text_searched, digits).subquery())
                               ).scalar_one()
    offset = (page - 1) * per_page
    if not total or offset >= total:
        return [], total
    if total * WALK_SHARE < (db.session.execute(select(func.max(Order.id))).scalar() or 0):
        return None  # few: sorting them is cheaper than the walk
    ids = db.session.execute(_TEXT_PAGE["DESC" if _descending(args) else "ASC"], {
        **_fts_matches(text_searched, digits), "limit": per_page, "offset": offset}).scalars().all()
    return list(ids), total


def sorted_by(query, args):
    key = args.get("sort", "created")
    column = SORTS.get(key.lstrip("-"), Order.created_at)
    ordering = column.desc() if _descending(args) else column.asc()
    if key.lstrip("-") in NULLS_LAST:
        ordering = ordering.nulls_last()
    return query.order_by(ordering, Order.id.desc())


def _descending(args) -> bool:
    """The list's sort goes down: asked so ("-price"), or the default, newest first."""
    key = args.get("sort", "created")
    return key.startswith("-") or (key == "created" and "sort" not in args)
