"""The director's analytics: orders by kind, channel, partner and customer, on-time share and time in each stage,
revenue and payments by month, the flow between stages (loops and cancellations) — for one cohort of orders.

The cohort is the orders created in the period (company days), narrowed by kind, partner and channel; every figure
counts that cohort, so each one drills down to `/orders` with the same filters. Counts are SQL aggregates; the tasks'
figures and the flow between them are summed from the daily rows (`task_days`, `flow_days`; a period's whole months
from `task_months`, `flow_months`: app/services/daily_stats.py) unless a partner or channel narrows the cohort;
medians and 90th percentiles of working hours are exact up to EXACT_TASKS tasks, else read from the rows'
working-hours histogram.
"""
from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from flask import current_app
from sqlalchemy import case, func, or_, select, union_all

from app.extensions import db
from app.models import CHANNELS, ORDER_KINDS, Customer, HumanTask, Order, OrderStatus, Partner, Payment, task_days
from app.models.analytics import BUCKET_COLUMNS, HOUR_BUCKETS, flow_days, flow_months, task_months
from app.services.calendar import business_calendar, company_tz
from app.services.daily_stats import WorkingHours
from app.services.periods import parse_period, this_month, within

SAMPLE_LIMIT = 20_000  # tasks read for the percentiles and transitions of a cohort narrowed by partner or channel
EXACT_TASKS = 5_000  # up to this many completed tasks the percentiles are exact; beyond, from the daily histogram
TOP_CUSTOMERS = 20
LIFECYCLE = "order_lifecycle"  # the process every order runs (app.usecases.process.ORDER_PROCESS)


class FilterError(ValueError):
    """A filter from the query string that cannot be used: `field` names it, the message says why."""

    def __init__(self, field_name: str) -> None:
        super().__init__(field_name)
        self.field = field_name


@dataclass(frozen=True)
class Filters:
    start: date | None
    end: date | None
    kind: str = ""
    partner: str = ""  # a partner's code
    channel: str = ""

    def order_args(self, **extra: str) -> dict[str, str]:
        """The orders list's query string for this cohort (plus `extra`: status, stage, q)."""
        args = {"kind": self.kind, "partner": self.partner, "channel": self.channel}
        if self.start:  # bare dates: the list reads them as the company's days, and its date fields show them
            args["created_from"] = self.start.isoformat()
        if self.end:
            args["created_to"] = self.end.isoformat()
        return {name: value for name, value in {**args, **extra}.items() if value}

    def query_args(self) -> dict[str, str]:
        """This page's own query string (the heatmap's link keeps the filters)."""
        return {"from": self.start.isoformat() if self.start else "", "to": self.end.isoformat() if self.end else "",
                "kind": self.kind, "partner": self.partner, "channel": self.channel}


def parse_filters(args, partners: set[str] | None = None) -> Filters:
    """Filters from the query string; the period defaults to this month. Raises FilterError naming the field."""
    try:
        start, end = parse_period(args.get("from"), args.get("to"), this_month())
    except ValueError as exc:
        raise FilterError(str(exc)) from None
    kind, channel, partner = (args.get(name, "").strip() for name in ("kind", "channel", "partner"))
    if kind and kind not in ORDER_KINDS:
        raise FilterError("kind")
    if channel and channel not in CHANNELS:
        raise FilterError("channel")
    if partner and partners is not None and partner not in partners:
        raise FilterError("partner")
    return Filters(start, end, kind, partner, channel)


def _in_cohort(filters: Filters) -> list:
    """Conditions on `Order` keeping the orders the figures count (read from ix_orders_analytics alone)."""
    kept = within(Order.created_at, filters.start, filters.end)
    if filters.kind:
        kept.append(Order.kind == filters.kind)
    if filters.channel:
        kept.append(Order.channel == filters.channel)
    if filters.partner:
        kept.append(Order.partner_id.in_(select(Partner.id).where(Partner.code == filters.partner)))
    return kept


def _cohort(filters: Filters):
    """Ids of the orders the figures count."""
    query = select(Order.id).where(*within(Order.created_at, filters.start, filters.end))
    if filters.kind:
        query = query.where(Order.kind == filters.kind)
    if filters.channel:
        query = query.where(Order.channel == filters.channel)
    if filters.partner:
        query = query.where(Order.partner_id.in_(select(Partner.id).where(Partner.code == filters.partner)))
    return query


@dataclass(frozen=True)
class OrderCounts:
    key: str  # the value to filter the orders list by (a code; a customer's name)
    label: str
    created: int
    completed: int
    cancelled: int


@dataclass(frozen=True)
class StageTiming:
    kind: str
    stage: str
    count: int
    median_hours: float
    p90_hours: float
    orders: int = 0  # the orders those tasks belong to (an order that came back counts once)


@dataclass(frozen=True)
class OnTime:
    stage: str
    on_time: int
    total: int
    late_orders: int = 0  # orders with a task at the stage completed after its deadline

    @property
    def percent(self) -> float | None:
        return None if not self.total else round(100 * self.on_time / self.total, 1)


@dataclass
class Flow:
    transitions: dict[tuple[str, str], int] = field(default_factory=dict)  # (from bpmn id, to bpmn id) → times
    loops: dict[str, int] = field(default_factory=dict)  # bpmn id → times an order came back to it
    loop_orders: dict[str, int] = field(default_factory=dict)  # bpmn id → orders that came back to it
    transition_orders: dict[tuple[str, str], int] = field(default_factory=dict)  # (from, to) → orders that went so
    names: dict[str, str] = field(default_factory=dict)  # bpmn id → the task's name
    cancelled: list[tuple[str, int, list[tuple[str, int]]]] = field(default_factory=list)  # stage, count, reasons


def _counted(group: tuple, filters: Filters):
    completed = func.sum(case((Order.status == OrderStatus.COMPLETED, 1), else_=0))
    cancelled = func.sum(case((Order.status == OrderStatus.CANCELLED, 1), else_=0))
    return (select(*group, func.count(), completed, cancelled).where(*_in_cohort(filters))
            .group_by(*group).order_by(func.count().desc(), *group))


def orders_by(filters: Filters, dimension: str, locale: str = "ru") -> list[OrderCounts]:
    """Created / completed / cancelled orders of the cohort per kind, channel, partner or customer (the
    TOP_CUSTOMERS busiest)."""
    return orders_by_dimensions(filters, (dimension,), locale)[dimension]


def orders_by_dimensions(filters: Filters, dimensions: tuple[str, ...],
                         locale: str = "ru") -> dict[str, list[OrderCounts]]:
    """`orders_by` for several dimensions: kind, channel and partner summed from one pass over the cohort (grouped
    by the three at once: a few hundred groups), the busiest customers counted apart."""
    unknown = set(dimensions) - {"kind", "channel", "partner", "customer"}
    if unknown:
        raise ValueError(unknown.pop())
    index = 0 if locale == "ru" else 1
    result: dict[str, list[OrderCounts]] = {}
    if {"kind", "channel", "partner"} & set(dimensions):
        totals: dict[str, dict] = {name: defaultdict(lambda: [0, 0, 0]) for name in ("kind", "channel", "partner")}
        for kind, channel, partner_id, created, completed, cancelled in db.session.execute(
                _counted((Order.kind, Order.channel, Order.partner_id), filters)):
            for name, key in (("kind", kind), ("channel", channel), ("partner", partner_id)):
                counts = totals[name][key]
                counts[0] += created
                counts[1] += completed or 0
                counts[2] += cancelled or 0

        def busiest(counted: dict) -> list:  # as the database ordered them: most created first, then by key
            return sorted(counted.items(), key=lambda item: (-item[1][0], item[0] is not None, item[0] or ""))

        result["kind"] = [OrderCounts(key, ORDER_KINDS.get(key, (key, key))[index], *counts)
                          for key, counts in busiest(totals["kind"])]
        result["channel"] = [OrderCounts(key, CHANNELS.get(key, (key, key))[index], *counts)
                             for key, counts in busiest(totals["channel"])]
        named = {partner_id: (code, name) for partner_id, code, name in db.session.execute(
            select(Partner.id, Partner.code, Partner.name).where(
                Partner.id.in_([key for key in totals["partner"] if key is not None])))} if "partner" in dimensions \
            else {}
        result["partner"] = [OrderCounts(*named.get(key, ("", "")), *counts)
                             for key, counts in sorted(totals["partner"].items(),
                                                       key=lambda item: (-item[1][0], item[0] is not None,
                                                                         item[0] or 0))]
    if "customer" in dimensions:
        busiest_customers = (_counted((Order.customer_id,), filters).where(Order.customer_id.is_not(None))
                             .limit(TOP_CUSTOMERS))
        counted = db.session.execute(busiest_customers).all()
        names = dict(db.session.execute(select(Customer.id, Customer.name).where(
            Customer.id.in_([row[0] for row in counted]))).all())
        result["customer"] = [OrderCounts(str(customer_id), names[customer_id], *counts)
                              for customer_id, *counts in counted if customer_id in names]
    return {dimension: result[dimension] for dimension in dimensions}


def _completed_tasks(filters: Filters, lanes: set[str] | None):
    query = (select(HumanTask.bpmn_id, HumanTask.stage, Order.kind, HumanTask.created_at, HumanTask.completed_at,
                    HumanTask.order_id)
             .join(Order, HumanTask.order_id == Order.id)
             .where(HumanTask.order_id.in_(_cohort(filters)), HumanTask.state == "completed",
                    HumanTask.completed_at.is_not(None)))
    if lanes is not None:
        query = query.where(HumanTask.lane.in_(lanes or {""}))
    return query


def _daily(filters: Filters) -> bool:
    """Whether the daily rows can answer: they know the orders' kind, not their partner or channel (a cohort
    narrowed by those is small enough to read task by task)."""
    return not filters.partner and not filters.channel


def _whole_months(filters: Filters) -> tuple[date | None, date | None] | None:
    """The first days of the period's first and last whole months (None: open that way), or None when the period
    holds no whole month."""
    low = filters.start if filters.start is None or filters.start.day == 1 else month_end(filters.start) + \
        timedelta(days=1)
    high = None if filters.end is None else start_month(filters.end + timedelta(days=1)) - timedelta(days=1)
    high = None if high is None else start_month(high)  # the last whole month ends on or before the period's end
    if low is not None and high is not None and low > high:
        return None
    return low, high


def _days(filters: Filters, lanes: set[str] | None, tables=(task_days, task_months)):
    """The cohort's rows (a subquery with the tables' columns): its whole months' rows from the month table, its
    edge days' from the day table — a year reads ~11 month rows a key and ~30 days instead of 365 days."""
    day_table, month_table = tables
    months = _whole_months(filters)

    def kept(table, *conditions):
        query = select(*table.c).where(*conditions)
        if filters.kind:
            query = query.where(table.c.kind == filters.kind)
        if lanes is not None:
            query = query.where(table.c.lane.in_(lanes or {""}))
        return query

    days = [day_table.c.day >= filters.start] if filters.start else []
    if filters.end:
        days.append(day_table.c.day <= filters.end)
    if months is None:
        return kept(day_table, *days).subquery()
    low, high = months
    edges = [*([day_table.c.day < low] if low else []), *([day_table.c.day > month_end(high)] if high else [])]
    whole = [*([month_table.c.day >= low] if low else []), *([month_table.c.day <= high] if high else [])]
    parts = [kept(month_table, *whole)]
    if edges:
        parts.append(kept(day_table, *days, or_(*edges)))
    return union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()


def on_time(filters: Filters, lanes: set[str] | None = None) -> list[OnTime]:
    """Completed tasks with a deadline per stage, and how many met it (`lanes`: a head's departments only)."""
    if _daily(filters):
        c = _days(filters, lanes).c
        query = (select(c.stage, func.sum(c.on_time), func.sum(c.with_due), func.sum(c.late_orders))
                 .group_by(c.stage).having(func.sum(c.with_due) > 0).order_by(c.stage))
        return [OnTime(stage, int(ok), int(total), int(late)) for stage, ok, total, late in db.session.execute(query)]
    met = func.sum(case((HumanTask.completed_at <= HumanTask.due_at, 1), else_=0))
    query = (select(HumanTask.stage, met, func.count()).where(
        HumanTask.order_id.in_(_cohort(filters)), HumanTask.state == "completed", HumanTask.due_at.is_not(None))
        .group_by(HumanTask.stage).order_by(HumanTask.stage))
    late = (select(HumanTask.stage, func.count(HumanTask.order_id.distinct())).where(
        HumanTask.order_id.in_(_cohort(filters)), HumanTask.state == "completed",
        HumanTask.completed_at > HumanTask.due_at).group_by(HumanTask.stage))
    if lanes is not None:
        query = query.where(HumanTask.lane.in_(lanes or {""}))
        late = late.where(HumanTask.lane.in_(lanes or {""}))
    late_orders: dict[str, int] = {stage: count for stage, count in db.session.execute(late)}
    return [OnTime(stage, int(ok or 0), total, late_orders.get(stage, 0))
            for stage, ok, total in db.session.execute(query)]


def _utc_hour(column):
    """The UTC hour a moment falls in, as text 'YYYY-MM-DD HH' (SQL: the database groups, not Python)."""
    if db.session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD HH24")
    return func.strftime("%Y-%m-%d %H", column)


class _Months:
    """The company month of a UTC hour 'YYYY-MM-DD HH' (`_utc_hour`), one zone conversion per distinct day-hour."""

    def __init__(self) -> None:
        self.tz = company_tz()
        self.known: dict[str, date] = {}

    def of(self, hour: str) -> date:
        month = self.known.get(hour)
        if month is None:
            at = datetime(int(hour[:4]), int(hour[5:7]), int(hour[8:10]), int(hour[11:13]), tzinfo=timezone.utc)
            month = self.known[hour] = start_month(at.astimezone(self.tz).date())
        return month


def on_time_by_month(filters: Filters, lanes: set[str] | None = None) -> list[tuple[date, OnTime]]:
    """The same share per month the tasks were completed in (company days): the database counts them per UTC hour
    (an hour lies in one company month wherever the offset is whole hours), the hours are summed per month here."""
    if _daily(filters):
        c = _days(filters, lanes).c
        query = (select(c.month, func.sum(c.on_time), func.sum(c.with_due))
                 .group_by(c.month).having(func.sum(c.with_due) > 0).order_by(c.month))
        return [(month, OnTime(month.strftime("%Y-%m"), int(ok), int(total)))
                for month, ok, total in db.session.execute(query)]
    hour = _utc_hour(HumanTask.completed_at)
    met = func.sum(case((HumanTask.completed_at <= HumanTask.due_at, 1), else_=0))
    query = (select(hour, met, func.count()).where(
        HumanTask.order_id.in_(_cohort(filters)), HumanTask.state == "completed", HumanTask.due_at.is_not(None),
        HumanTask.completed_at.is_not(None)).group_by(hour))
    if lanes is not None:
        query = query.where(HumanTask.lane.in_(lanes or {""}))
    months: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    month_of = _Months()
    for moment, ok, total in db.session.execute(query):
        month = month_of.of(moment)
        months[month][0] += int(ok or 0)
        months[month][1] += total
    return [(month, OnTime(month.strftime("%Y-%m"), met, total)) for month, (met, total) in sorted(months.items())]


def percentile(values: list[float], share: float) -> float:
    """The value below which `share` of them lie, interpolated between the nearest two (values sorted)."""
    if len(values) == 1:
        return values[0]
    position = (len(values) - 1) * share
    low = int(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (position - low)


def from_histogram(counts: list[int], share: float) -> float:
    """`percentile` of values known only by their buckets: each value is taken to lie evenly spread within its
    bucket (the open last one: at its lower bound), then interpolated between the nearest two as `percentile` does."""
    def value(rank: int) -> float:
        before = 0
        for index, count in enumerate(counts):
            if rank < before + count:
                low = HOUR_BUCKETS[index - 1] if index else 0.0
                high = HOUR_BUCKETS[index] if index < len(HOUR_BUCKETS) else low
                return low + (high - low) * (rank - before + 0.5) / count
            before += count
        return 0.0

    position = (sum(counts) - 1) * share
    low = int(position)
    return value(low) + (value(low + 1) - value(low)) * (position - low) if position > low else value(low)


def _histograms(filters: Filters, lanes: set[str] | None, *names: str) -> list | None:
    """Per the columns `names`: completed tasks, orders and the working-hours buckets from the daily rows — None
    when the cohort is small enough for exact percentiles (or the rows cannot answer), so the tasks are read
    instead."""
    if not _daily(filters):
        return None
    c = _days(filters, lanes).c
    group = [c[name] for name in names]
    rows = db.session.execute(select(*group, func.sum(c.tasks), func.sum(c.orders),
                                     *(func.sum(c[name]) for name in BUCKET_COLUMNS)).group_by(*group)
                              .order_by(*group)).all()
    exact = current_app.config.get("ANALYTICS_EXACT_TASKS", EXACT_TASKS)
    return list(rows) if sum(row[len(names)] for row in rows) > exact else None


def time_in_stage(filters: Filters, lanes: set[str] | None = None) -> list[StageTiming]:
    """Median and 90th percentile of working hours from a task's opening to its completion, per kind and stage."""
    histograms = _histograms(filters, lanes, "kind", "stage")
    if histograms is not None:
        return [StageTiming(kind, stage, int(tasks), round(from_histogram(list(buckets), 0.5), 2),
                            round(from_histogram(list(buckets), 0.9), 2), int(orders))
                for kind, stage, tasks, orders, *buckets in histograms if tasks]
    return _timing_from_tasks(filters, lanes)


def _timing_from_tasks(filters: Filters, lanes: set[str] | None) -> list[StageTiming]:
    """`time_in_stage` read task by task: exact percentiles."""
    hours: dict[tuple[str, str], list[float]] = defaultdict(list)
    orders: dict[tuple[str, str], set[int]] = defaultdict(set)
    rows = db.session.execute(_completed_tasks(filters, lanes).order_by(HumanTask.completed_at.desc())
                              .limit(SAMPLE_LIMIT)).all()
    worked = WorkingHours.shared(business_calendar(), [moment for row in rows for moment in (row[3], row[4])])
    for _bpmn, stage, kind, opened, closed, order_id in rows:
        hours[(kind, stage)].append(worked.between(opened, closed))
        orders[(kind, stage)].add(order_id)
    result = []
    for (kind, stage), values in sorted(hours.items()):
        values.sort()
        result.append(StageTiming(kind, stage, len(values), round(statistics.median(values), 2),
                                  round(percentile(values, 0.9), 2), len(orders[(kind, stage)])))
    return result


def task_figures(filters: Filters, lanes: set[str] | None = None) -> tuple[
        list[OnTime], list[tuple[date, OnTime]], list[StageTiming]]:
    """`on_time`, `on_time_by_month` and `time_in_stage` together — from the daily rows in one pass (grouped by kind,
    stage and month, summed here) instead of three."""
    if not _daily(filters):
        return on_time(filters, lanes), on_time_by_month(filters, lanes), time_in_stage(filters, lanes)
    c = _days(filters, lanes).c
    stages: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # stage → on time, with a deadline, late orders
    months: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    timing: dict[tuple[str, str], list[int]] = {}  # (kind, stage) → tasks, orders, the buckets
    for kind, stage, month, ok, due, late, *counts in db.session.execute(
            select(c.kind, c.stage, c.month, func.sum(c.on_time), func.sum(c.with_due),
                   func.sum(c.late_orders), func.sum(c.tasks), func.sum(c.orders),
                   *(func.sum(c[name]) for name in BUCKET_COLUMNS)).group_by(c.kind, c.stage, c.month)):
        stages[stage][0] += int(ok)
        stages[stage][1] += int(due)
        stages[stage][2] += int(late)
        months[month][0] += int(ok)
        months[month][1] += int(due)
        summed = timing.setdefault((kind, stage), [0] * len(counts))
        for index, value in enumerate(counts):
            summed[index] += int(value)
    by_stage = [OnTime(stage, ok, due, late) for stage, (ok, due, late) in sorted(stages.items()) if due > 0]
    by_month = [(month, OnTime(month.strftime("%Y-%m"), ok, due)) for month, (ok, due) in sorted(months.items())
                if due > 0]
    if sum(counts[0] for counts in timing.values()) > current_app.config.get("ANALYTICS_EXACT_TASKS", EXACT_TASKS):
        stage_timing = [StageTiming(kind, stage, tasks, round(from_histogram(buckets, 0.5), 2),
                                    round(from_histogram(buckets, 0.9), 2), orders)
                        for (kind, stage), (tasks, orders, *buckets) in sorted(timing.items()) if tasks]
    else:
        stage_timing = _timing_from_tasks(filters, lanes)
    return by_stage, by_month, stage_timing


def median_by_task(filters: Filters, lanes: set[str] | None = None) -> dict[str, tuple[int, float]]:
    """bpmn id → (completed tasks, median working hours): what the heatmap colours (of `lanes` only, if given)."""
    histograms = _histograms(filters, lanes, "bpmn_id")
    if histograms is not None:
        return {bpmn_id: (int(tasks), round(from_histogram(list(buckets), 0.5), 2))
                for bpmn_id, tasks, _orders, *buckets in histograms if tasks}
    hours: dict[str, list[float]] = defaultdict(list)
    rows = db.session.execute(_completed_tasks(filters, lanes).order_by(HumanTask.completed_at.desc())
                              .limit(SAMPLE_LIMIT)).all()
    worked = WorkingHours.shared(business_calendar(), [moment for row in rows for moment in (row[3], row[4])])
    for bpmn_id, _stage, _kind, opened, closed, _order in rows:
        hours[bpmn_id].append(worked.between(opened, closed))
    return {bpmn_id: (len(values), round(statistics.median(values), 2)) for bpmn_id, values in hours.items()}


def flow(filters: Filters, lanes: set[str] | None = None, cancelled: bool = True) -> Flow:
    """Task → next task per order, the tasks orders came back to, and (unless not `cancelled`: the heatmap draws
    none) where cancelled orders stopped, with why."""
    result = _flow_from_days(filters, lanes) if _daily(filters) else _flow_from_tasks(filters, lanes)
    if not cancelled:
        return result
    # Cancelling renames the order's stage («Отменён»): where it stopped is the stage of its last task, which the
    # order keeps (`last_task_stage`; looked up per cancelled order, a year at 100,000 orders took 40 ms SQLite,
    # 85 ms PostgreSQL). SQLite finds the cancelled ones in ix_orders_analytics first, else it reads every order row
    # of the period (a year: 50,000, not 10,000; 23 → 16 ms); PostgreSQL filters the status in that index itself (and
    # hashes every order for the IN: 15 → 33 ms).
    stopped = [*_in_cohort(filters), Order.status == OrderStatus.CANCELLED]
    if db.session.get_bind().dialect.name == "sqlite":
        stopped = [Order.id.in_(select(Order.id).where(*stopped).correlate(None))]
    reasons: dict[str, Counter[str]] = defaultdict(Counter)
    for stage, reason, count in db.session.execute(
            select(Order.last_task_stage, Order.cancel_reason, func.count()).where(*stopped)
            .group_by(Order.last_task_stage, Order.cancel_reason)):
        reasons[stage or ""][(reason or "").strip()] += count
    result.cancelled = sorted(((stage, sum(c.values()), c.most_common()) for stage, c in reasons.items()),
                              key=lambda row: (-row[1], row[0]))
    return result


def _flow_from_days(filters: Filters, lanes: set[str] | None) -> Flow:
    """Transitions and loops summed from the flow rows (every task of the cohort, counted as it opened)."""
    result = Flow()
    c = _days(filters, None, (flow_days, flow_months)).c
    transitions: Counter[tuple[str, str]] = Counter()
    transition_orders: Counter[tuple[str, str]] = Counter()
    loops: Counter[str] = Counter()
    loop_orders: Counter[str] = Counter()
    for prev, bpmn_id, lane, name, times, orders, looped, looped_orders in db.session.execute(
            select(c.prev_bpmn_id, c.bpmn_id, c.lane, func.max(c.name), func.sum(c.tasks),
                   func.sum(c.pair_orders), func.sum(c.loops), func.sum(c.loop_orders))
            .group_by(c.prev_bpmn_id, c.bpmn_id, c.lane).order_by(c.prev_bpmn_id, c.bpmn_id, c.lane)):
        result.names[bpmn_id] = name
        if lanes is not None and lane not in lanes:
            continue
        if prev:
            transitions[(prev, bpmn_id)] += int(times)
            transition_orders[(prev, bpmn_id)] += int(orders)
        if looped:
            loops[bpmn_id] += int(looped)
            loop_orders[bpmn_id] += int(looped_orders)
    result.transitions, result.loops = dict(transitions.most_common()), dict(loops.most_common())
    result.transition_orders, result.loop_orders = dict(transition_orders), dict(loop_orders)
    return result


def _flow_from_tasks(filters: Filters, lanes: set[str] | None) -> Flow:
    """Transitions and loops read task by task (a cohort narrowed by partner or channel)."""
    result = Flow()
    rows = db.session.execute(
        select(HumanTask.order_id, HumanTask.bpmn_id, HumanTask.name, HumanTask.lane)
        .where(HumanTask.order_id.in_(_cohort(filters)))
        .order_by(HumanTask.order_id, HumanTask.created_at, HumanTask.id).limit(SAMPLE_LIMIT))
    transitions: Counter[tuple[str, str]] = Counter()
    loops: Counter[str] = Counter()
    transition_orders: dict[tuple[str, str], set[int | None]] = defaultdict(set)  # in the cohort: never None
    loop_orders: dict[str, set[int | None]] = defaultdict(set)
    previous: tuple[int | None, str] | None = None
    seen: set[str] = set()
    for order_id, bpmn_id, name, lane in rows:
        if previous is None or previous[0] != order_id:
            seen = set()
        elif lanes is None or lane in lanes:
            transitions[(previous[1], bpmn_id)] += 1
            transition_orders[(previous[1], bpmn_id)].add(order_id)
        if bpmn_id in seen and (lanes is None or lane in lanes):
            loops[bpmn_id] += 1
            loop_orders[bpmn_id].add(order_id)
        seen.add(bpmn_id)
        result.names[bpmn_id] = name
        previous = (order_id, bpmn_id)
    result.transitions, result.loops = dict(transitions.most_common()), dict(loops.most_common())
    result.transition_orders = {key: len(ids) for key, ids in transition_orders.items()}
    result.loop_orders = {key: len(ids) for key, ids in loop_orders.items()}
    return result


@dataclass(frozen=True)
class Money:
    month: date
    revenue: Decimal
    completed: int
    payments: Decimal
    paid: int


def money_by_month(filters: Filters) -> list[Money]:
    """Prices of the cohort's completed orders by the month they completed, and its payments by the month paid."""
    revenue: dict[date, list] = defaultdict(lambda: [Decimal(0), 0])
    hour = _utc_hour(Order.completed_at)  # summed per UTC hour by the database, the hours into company months here
    month_of = _Months()
    for moment, price, count in db.session.execute(
            select(hour, func.sum(Order.price), func.count()).where(
                *_in_cohort(filters), Order.status == OrderStatus.COMPLETED, Order.completed_at.is_not(None))
            .group_by(hour)):
        month = month_of.of(moment)
        revenue[month][0] += Decimal(price or 0)
        revenue[month][1] += count
    paid: dict[date, list] = defaultdict(lambda: [Decimal(0), 0])
    for paid_on, amount, count in db.session.execute(  # joined, not IN (…): SQLite 28 → 21 ms for a year's 35,000
            select(Payment.paid_on, func.sum(Payment.amount), func.count()).join(Order, Order.id == Payment.order_id)
            .where(*_in_cohort(filters)).group_by(Payment.paid_on)):
        paid[start_month(paid_on)][0] += Decimal(amount or 0)
        paid[start_month(paid_on)][1] += count
    months = sorted(set(revenue) | set(paid))
    return [Money(month, revenue[month][0], revenue[month][1], paid[month][0], paid[month][1]) for month in months]


def start_month(day: date) -> date:
    return day.replace(day=1)


def month_end(day: date) -> date:
    """The last day of the day's month."""
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
