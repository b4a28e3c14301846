"""The analytics' daily rows (`task_days`): counted in the unit of work that completes a task, and rebuilt from the
task rows by `backfill` (the migration that made the table runs it). The flow's rows (`flow_days`): counted by the
flush that inserts a task (whoever opens it), rebuilt by `backfill_flow`. Each is counted into its month's row too
(`task_months`, `flow_months`: the same keys with the month's first day), as it is into its day's. All are added to the
rows just before the commit (see "added last" below).

A completed task adds 1 to the row of (its order's creation day in the company's zone, the order's kind, the task's
stage, BPMN id and lane, the company month it was completed in): to `tasks`, to its working-hours bucket, to
`with_due` / `on_time` when it had a deadline; to `orders` when it is its order's first completed task at the stage
and to `late_orders` when it is the order's first late one there (first by completion, then by id).
"""
from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta, timezone
from itertools import groupby
from operator import attrgetter, itemgetter
from typing import Any

from sqlalchemy import Date, String, bindparam, case, cast, delete, event, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.elements import ColumnElement

from app.extensions import db
from app.models import HumanTask, Order, task_days
from app.models.analytics import (
    BUCKET_COLUMNS,
    COUNT_COLUMNS,
    FLOW_COUNT_COLUMNS,
    FLOW_KEY_COLUMNS,
    HOUR_BUCKETS,
    KEY_COLUMNS,
    flow_days,
    flow_months,
    task_months,
)
from app.services.calendar import BusinessCalendar, business_calendar, company_tz

Key = tuple[date, str, str, str, str, date]


SHARED_DAYS = 20 * 366  # a shared table of working hours spans at most this (`WorkingHours.shared`)


class WorkingHours:
    """`BusinessCalendar.working_hours_between` for many pairs: the working seconds before each day are summed once
    for the days the pairs span, so a pair costs two lookups instead of a walk over its days."""

    def __init__(self, calendar: BusinessCalendar, moments: list[datetime]) -> None:
        self.calendar, self.tz = calendar, calendar.tz
        self.days: dict[date, tuple[float, datetime | None, datetime | None]] = {}
        if not moments:
            return
        day, last = min(moments).astimezone(self.tz).date(), max(moments).astimezone(self.tz).date()
        self._count(day, last)

    @classmethod
    def shared(cls, calendar: BusinessCalendar, moments: list[datetime]) -> WorkingHours:
        """A table covering `moments`, kept on the calendar and shared by the callers after: a board's late tasks
        span years of days (a holiday lookup each) and every completion asks for the same few days again. It grows
        to cover what it is asked for; a span wider than SHARED_DAYS gets a table of its own, not kept."""
        if not moments:
            return cls(calendar, [])
        first, last = min(moments).astimezone(calendar.tz).date(), max(moments).astimezone(calendar.tz).date()
        table = calendar.hours_table
        if table is not None:
            if table.first <= first and last <= table.last:
                return table
            if (max(last, table.last) - min(first, table.first)).days <= SHARED_DAYS:
                first, last = min(first, table.first), max(last, table.last)
        grown = cls(calendar, [])
        grown._count(first, last)
        if (last - first).days <= SHARED_DAYS:
            calendar.hours_table = grown  # kept once whole: a request reading the old one meanwhile keeps it
        return grown

    def _count(self, day: date, last: date) -> None:
        calendar = self.calendar
        self.first, self.last = day, last
        before = 0.0
        while day <= last:
            if calendar.is_working_day(day):
                opens = datetime.combine(day, calendar.start, self.tz).astimezone(timezone.utc)
                closes = datetime.combine(day, calendar.end, self.tz).astimezone(timezone.utc)
                self.days[day] = (before, opens, closes)
                before += max(0.0, (closes - opens).total_seconds())
            else:
                self.days[day] = (before, None, None)
            day += timedelta(days=1)

    def _worked(self, moment: datetime) -> float:
        """Working seconds from the first day up to `moment`."""
        before, opens, closes = self.days[moment.astimezone(self.tz).date()]
        if opens is None or closes is None or moment <= opens:
            return before
        return before + (min(moment, closes) - opens).total_seconds()

    def between(self, a: datetime, b: datetime) -> float:
        """Working hours from a to b, at least 0 (what the figures count)."""
        return max(0.0, (self._worked(b) - self._worked(a)) / 3600) if b > a else 0.0


def bucket(hours: float) -> str:
    """The histogram column a task's working hours fall in."""
    return BUCKET_COLUMNS[bisect_right(HOUR_BUCKETS, hours)]


class Tally:
    """Rows being counted: key → column → how many; `first` remembers each order's stages already counted."""

    def __init__(self) -> None:
        self.rows: dict[Key, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNT_COLUMNS, 0))
        self.tz = company_tz()

    def add(self, order_created: datetime, kind: str, stage: str, bpmn_id: str, lane: str, hours: float,
            completed: datetime, due: datetime | None, first: bool, first_late: bool) -> None:
        key = (order_created.astimezone(self.tz).date(), kind, stage, bpmn_id, lane,
               completed.astimezone(self.tz).date().replace(day=1))
        row = self.rows[key]
        row["tasks"] += 1
        row[bucket(hours)] += 1
        row["orders"] += first
        if due is not None:
            row["with_due"] += 1
            row["on_time"] += completed <= due
            row["late_orders"] += first_late


def _hours(opened: datetime, closed: datetime) -> float:
    return WorkingHours.shared(business_calendar(), [opened, closed]).between(opened, closed)


def count_completed(rows: Iterable[HumanTask]) -> None:
    """Add tasks just completed (state set, not yet committed) to their daily rows."""
    done = sorted((row for row in rows if row.state == "completed" and row.order_id is not None
                   and row.completed_at is not None), key=lambda row: (row.completed_at, row.id or 0))
    if not done:
        return
    tally = Tally()
    orders = {}
    for order_id in {row.order_id for row in done}:
        order = db.session.get(Order, order_id)  # the step has its order in hand: no query
        if order is not None:
            orders[order_id] = (order.created_at, order.kind)
    done = [row for row in done if row.order_id in orders]
    ids = [row.id for row in done]
    seen: set[tuple[int | None, str]] = set()
    seen_late: set[tuple[int | None, str]] = set()
    for order_id, stage, completed, due in db.session.execute(
            select(HumanTask.order_id, HumanTask.stage, HumanTask.completed_at, HumanTask.due_at).where(
                HumanTask.order_id.in_(list(orders)), HumanTask.state == "completed", HumanTask.id.not_in(ids))):
        seen.add((order_id, stage))
        if due is not None and completed is not None and completed > due:
            seen_late.add((order_id, stage))
    for row in done:
        created, kind = orders[row.order_id]
        late = row.due_at is not None and row.completed_at > row.due_at
        key = (row.order_id, row.stage)
        tally.add(created, kind, row.stage, row.bpmn_id, row.lane, _hours(row.created_at, row.completed_at),
                  row.completed_at, row.due_at, key not in seen, late and key not in seen_late)
        seen.add(key)
        if late:
            seen_late.add(key)
    _upsert(tally)


_UPSERTS: dict[tuple[str, str], Any] = {}


def _upsert_statement(dialect: str, table=task_days):
    """INSERT … ON CONFLICT adding every count to the stored row's, built once per dialect and table (adding a zero
    is a no-op, and one shape of statement is compiled once instead of a new one per key)."""
    statement = _UPSERTS.get((dialect, table.name))
    if statement is None:
        inserted = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
        statement = _UPSERTS[(dialect, table.name)] = inserted.on_conflict_do_update(
            index_elements=list(KEY_COLUMNS),
            set_={name: table.c[name] + inserted.excluded[name] for name in COUNT_COLUMNS})
    return statement


def by_month(rows: dict[tuple, dict[str, int]]) -> dict[tuple, dict[str, int]]:
    """Day rows (keyed by the day first) summed per month: the month rows they add to."""
    months: dict[tuple, dict[str, int]] = {}
    for (day, *rest), counts in rows.items():
        summed = months.setdefault((day.replace(day=1), *rest), dict.fromkeys(counts, 0))
        for name, value in counts.items():
            summed[name] += value
    return months


def _upsert(tally: Tally) -> None:
    """Add the tally to the stored day and month rows when the unit of work commits (`_add_staged`)."""
    if tally.rows:
        _stage(db.session(), ("tasks", tally.rows))


def backfill(connection) -> int:
    """Rebuild every daily row from the completed task rows (over `connection`); returns the rows written. The
    month rows are rebuilt from them by `months_from_days` (apart: the migrations before those tables run this)."""
    tasks = select(HumanTask.order_id, HumanTask.stage, HumanTask.bpmn_id, HumanTask.lane, HumanTask.created_at,
                   HumanTask.completed_at, HumanTask.due_at, Order.created_at, Order.kind).join(
        Order, HumanTask.order_id == Order.id).where(HumanTask.state == "completed",
                                                     HumanTask.completed_at.is_not(None))
    moments = connection.execute(select(HumanTask.created_at, HumanTask.completed_at).where(
        HumanTask.state == "completed", HumanTask.completed_at.is_not(None), HumanTask.order_id.is_not(None))
        .order_by(HumanTask.created_at).limit(1)).first()
    last = connection.execute(select(HumanTask.completed_at).where(HumanTask.state == "completed")
                              .order_by(HumanTask.completed_at.desc()).limit(1)).scalar()
    worked = WorkingHours(business_calendar(), [m for m in (*(moments or ()), last) if m is not None])
    tally = Tally()
    seen: set[tuple[int, str]] = set()
    seen_late: set[tuple[int, str]] = set()
    result = connection.execute(tasks.order_by(HumanTask.order_id, HumanTask.completed_at, HumanTask.id)
                                .execution_options(yield_per=20_000))
    for order_id, stage, bpmn_id, lane, opened, closed, due, created, kind in result:
        key = (order_id, stage)
        late = due is not None and closed > due
        tally.add(created, kind, stage, bpmn_id, lane, worked.between(opened, closed), closed, due,
                  key not in seen, late and key not in seen_late)
        seen.add(key)
        if late:
            seen_late.add(key)
    connection.execute(delete(task_days))
    rows = [dict(zip(KEY_COLUMNS, key, strict=True)) | counts for key, counts in tally.rows.items()]
    for start in range(0, len(rows), 5_000):
        connection.execute(insert(task_days), rows[start:start + 5_000])
    return len(rows)


# -- the flow between tasks (flow_days) ------------------------------------------------------------------------

FlowKey = tuple[date, str, str, str, str]


class FlowTally:
    """Flow rows being counted: key → column → how many, and the task's name per key."""

    def __init__(self) -> None:
        self.rows: dict[FlowKey, dict[str, int]] = defaultdict(lambda: dict.fromkeys(FLOW_COUNT_COLUMNS, 0))
        self.names: dict[FlowKey, str] = {}
        self.tz = company_tz()

    def order(self, created: datetime, kind: str, tasks: Iterable[tuple[int, str, str, str]],
              counted: set[int] | None = None) -> None:
        """Count an order's tasks (id, bpmn id, lane, name — in the order they opened): those in `counted`, or
        every one; each against the tasks opened before it."""
        day = created.astimezone(self.tz).date()
        prev = ""
        pairs: set[tuple[str, str]] = set()
        seen: set[str] = set()
        looped: set[str] = set()
        for task_id, bpmn_id, lane, name in tasks:
            loop = bpmn_id in seen
            if counted is None or task_id in counted:
                key = (day, kind, prev, bpmn_id, lane)
                row = self.rows[key]
                row["tasks"] += 1
                row["pair_orders"] += bool(prev) and (prev, bpmn_id) not in pairs
                row["loops"] += loop
                row["loop_orders"] += loop and bpmn_id not in looped
                self.names[key] = name
            if prev:
                pairs.add((prev, bpmn_id))
            if loop:
                looped.add(bpmn_id)
            seen.add(bpmn_id)
            prev = bpmn_id


def _sequences(connection, *where, stream: bool = False):
    """The orders' tasks in the order they opened, with the order's creation and kind: (order id, rows)."""
    query = (select(HumanTask.order_id, HumanTask.id, HumanTask.bpmn_id, HumanTask.lane, HumanTask.name,
                    Order.created_at, Order.kind).join(Order, HumanTask.order_id == Order.id).where(*where)
             .order_by(HumanTask.order_id, HumanTask.created_at, HumanTask.id))
    rows = connection.execute(query.execution_options(yield_per=20_000) if stream else query)
    return groupby(rows, key=itemgetter(0))


_OPENED: dict[tuple[str, str], Any] = {}  # (dialect, table) → the INSERT … SELECT below, built once a process


def _opened_statement(dialect: str, table=flow_days):
    """The flow rows of an order's tasks just opened (`opened_ids`), as a window over the order's tasks says what
    each follows and repeats; bound: opened_order, opened_ids, opened_day (the order's company day), opened_kind."""
    statement = _OPENED.get((dialect, table.name))
    if statement is not None:
        return statement
    order = (HumanTask.created_at, HumanTask.id)
    tasks = select(HumanTask.id, HumanTask.bpmn_id, HumanTask.lane, HumanTask.name, HumanTask.created_at,
                   func.lag(HumanTask.bpmn_id, 1, "").over(order_by=order).label("prev"),
                   func.row_number().over(partition_by=HumanTask.bpmn_id, order_by=order).label("nth")).where(
        HumanTask.order_id == bindparam("opened_order")).subquery()
    paired = select(tasks, func.row_number().over(partition_by=(tasks.c.prev, tasks.c.bpmn_id),
                                                  order_by=(tasks.c.created_at, tasks.c.id)).label("pair_nth")
                    ).subquery()
    day: ColumnElement = bindparam("opened_day", type_=Date())
    of_kind: ColumnElement = bindparam("opened_kind", type_=String())
    if dialect == "postgresql":  # typed for the INSERT's columns (SQLite stores the bound text as it is)
        day, of_kind = cast(day, Date), cast(of_kind, String)
    counted = select(
        day, of_kind, paired.c.prev, paired.c.bpmn_id, paired.c.lane, func.max(paired.c.name), func.count(),
        func.sum(case(((paired.c.prev != "") & (paired.c.pair_nth == 1), 1), else_=0)),
        func.sum(case((paired.c.nth > 1, 1), else_=0)), func.sum(case((paired.c.nth == 2, 1), else_=0))
    ).where(paired.c.id.in_(bindparam("opened_ids", expanding=True))).group_by(
        paired.c.prev, paired.c.bpmn_id, paired.c.lane)
    make = postgresql.insert if dialect == "postgresql" else sqlite.insert
    inserted = make(table).from_select([*FLOW_KEY_COLUMNS, "name", *FLOW_COUNT_COLUMNS], counted)
    statement = _OPENED[(dialect, table.name)] = inserted.on_conflict_do_update(
        index_elements=list(FLOW_KEY_COLUMNS),
        set_={**{name: table.c[name] + inserted.excluded[name] for name in FLOW_COUNT_COLUMNS},
              "name": inserted.excluded.name})
    return statement


def last_task_stages(connection, order_ids: Iterable[int] | None = None) -> None:
    """Set each order's (or every order's) `last_task_stage` to the stage of its newest task row (by id), over
    `connection` (its `updated_at` kept: nothing anyone did to the order) — what the migration fills them with."""
    newer = aliased(HumanTask)
    newest = select(func.max(newer.id)).where(newer.order_id == Order.id).correlate(Order).scalar_subquery()
    stage = select(HumanTask.stage).where(HumanTask.id == newest).correlate(Order).scalar_subquery()
    orders = update(Order) if order_ids is None else update(Order).where(Order.id.in_(list(order_ids)))
    connection.execute(orders.values(last_task_stage=stage, updated_at=Order.updated_at))


_SET_STAGE = (update(Order).where(Order.id == bindparam("newest_order"))
              .values(last_task_stage=bindparam("newest_stage"), updated_at=Order.updated_at))


@event.listens_for(Session, "after_flush")
def _tasks_opened(session: Session, _context) -> None:
    """Every flush that inserts task rows counts them into the flow rows (`count_opened`)."""
    count_opened(session, [row for row in session.new
                           if isinstance(row, HumanTask) and row.order_id is not None and row.id is not None])


def count_opened(session: Session, rows: list) -> None:
    """Count task rows of orders just inserted in this transaction (the flush's, or a step's by a statement of its
    own: `app.usecases.projection`) into the flow rows (one INSERT … SELECT an order for its day's row and one for
    its month's, staged to the commit: `_add_staged`; the rows they read are in the database by then), and keep their
    orders' last task stage: the stage of the newest (the highest id). A step sets it with the order's own write
    (app/usecases/projection.py); rows inserted otherwise by SQL here. A row has an id, order_id and stage."""
    opened: dict[int, list] = defaultdict(list)
    for row in rows:
        opened[row.order_id].append(row)
    if not opened:
        return
    tz = company_tz()
    stale = []
    for order_id, rows in opened.items():
        order = session.get(Order, order_id)  # the step has its order in hand: no query
        if order is None:
            continue
        _stage(session, ("flow", {"opened_order": order_id, "opened_ids": sorted(row.id for row in rows),
                                  "opened_day": order.created_at.astimezone(tz).date(), "opened_kind": order.kind}))
        newest = max(rows, key=attrgetter("id"))
        if order.last_task_stage != newest.stage:
            stale.append({"newest_order": order_id, "newest_stage": newest.stage})
            set_committed_value(order, "last_task_stage", newest.stage)
    if stale:
        session.connection().execute(_SET_STAGE, stale)


# -- added last -------------------------------------------------------------------------------------------------
# A day's (or month's) row is shared by every order of its day, kind and stage, and adding to it locks the row until the
# transaction ends. Added mid-step, every other completion of the same stage would wait on PostgreSQL for this unit
# of work's whole remainder; so the counts are staged on the session and added just before the commit, in the order
# of their keys (two units of work adding to the same rows lock them in the same order: neither waits on the other
# in a cycle). A rolled-back transaction or savepoint takes what it staged with it.

STAGED = "daily_stats.staged"


def _stage(session: Session, entry: tuple[str, Any]) -> None:
    transaction = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(STAGED, []).append((transaction, entry))


Adder = Callable[[Session, dict[tuple, dict[str, int]]], None]


def add_at_commit(session: Session, add: Adder, rows: dict[tuple, dict[str, int]]) -> None:
    """Stage counts of other shared rows (key → column → how many) the same way: `add` is called once at the commit
    with what every entry staged for it summed per key, after the daily and flow rows (the rating's rows:
    `app.services.rating_stats`)."""
    if rows:
        _stage(session, ("added", (add, rows)))


def _sum_into(total: dict[tuple, dict[str, int]], rows: dict[tuple, dict[str, int]]) -> None:
    for key, counts in rows.items():
        row = total.setdefault(key, dict.fromkeys(counts, 0))
        for name, count in counts.items():
            row[name] += count


def _inside(transaction, outer) -> bool:
    while transaction is not None:
        if transaction is outer:
            return True
        transaction = transaction.parent
    return False


@event.listens_for(Session, "after_soft_rollback")
def _unstage(session: Session, rolled_back) -> None:
    staged = session.info.get(STAGED)
    if staged:
        session.info[STAGED] = [(tx, entry) for tx, entry in staged if not _inside(tx, rolled_back)]


@event.listens_for(Session, "before_commit")
def _add_staged(session: Session) -> None:
    """Add what the transaction staged, as its last statements (a savepoint's release leaves it staged)."""
    if session.get_nested_transaction() is not None:
        return
    session.flush()  # the last flush (the commit's own finds nothing left): what it writes is staged too
    if not session.info.get(STAGED):
        return
    tasks: dict[Key, dict[str, int]] = {}
    flows = []
    added: dict[Adder, dict[tuple, dict[str, int]]] = {}
    root = session.get_transaction()
    for transaction, (kind, entry) in session.info.pop(STAGED):
        if not _inside(transaction, root):
            continue  # staged by a transaction that ended without a commit (a session closed mid-way)
        if kind == "flow":
            flows.append(entry)
        elif kind == "added":
            _sum_into(added.setdefault(entry[0], {}), entry[1])
        else:
            _sum_into(tasks, entry)
    dialect = session.get_bind().dialect.name
    for table, rows in ((task_days, tasks), (task_months, by_month(tasks))):
        if rows:
            session.execute(_upsert_statement(dialect, table), [dict(zip(KEY_COLUMNS, key, strict=True)) | rows[key]
                                                                for key in sorted(rows)])
    for params in sorted(flows, key=itemgetter("opened_day", "opened_kind", "opened_order")):
        session.execute(_opened_statement(dialect, flow_days), params)
        session.execute(_opened_statement(dialect, flow_months),
                        {**params, "opened_day": params["opened_day"].replace(day=1)})
    for add, rows in added.items():
        add(session, rows)


def backfill_flow(connection) -> int:
    """Rebuild every flow row from the task rows (over `connection`); returns the rows written (the month rows:
    `months_from_days`)."""
    tally = FlowTally()
    for _order_id, group in _sequences(connection, HumanTask.order_id.is_not(None), stream=True):
        tasks = list(group)
        tally.order(tasks[0][5], tasks[0][6], (row[1:5] for row in tasks))
    connection.execute(delete(flow_days))
    rows = [dict(zip(FLOW_KEY_COLUMNS, key, strict=True)) | counts | {"name": tally.names[key]}
            for key, counts in tally.rows.items()]
    for start in range(0, len(rows), 5_000):
        connection.execute(insert(flow_days), rows[start:start + 5_000])
    return len(rows)


def months_from_days(connection) -> int:
    """Rebuild the month rows by summing the stored day rows (over `connection`); returns the rows written."""
    written = 0
    for days, months, keys, counts in ((task_days, task_months, KEY_COLUMNS, COUNT_COLUMNS),
                                       (flow_days, flow_months, FLOW_KEY_COLUMNS, FLOW_COUNT_COLUMNS)):
        stored = {tuple(row[name] for name in keys): row for row in connection.execute(
            select(days).order_by(*(days.c[name] for name in keys))).mappings()}
        summed = by_month({key: {name: row[name] for name in counts} for key, row in stored.items()})
        names = {(key[0].replace(day=1), *key[1:]): row["name"] for key, row in stored.items()} if "name" in days.c \
            else {}
        connection.execute(delete(months))
        rows = [dict(zip(keys, key, strict=True)) | counted | ({"name": names[key]} if names else {})
                for key, counted in summed.items()]
        for start in range(0, len(rows), 5_000):
            connection.execute(insert(months), rows[start:start + 5_000])
        written += len(rows)
    return written
