"""Predicted completion dates: how long finished orders took from each stage to the end, and what that says of
the active ones.

The figures (`refresh_stats`): for every task a finished order ever waited at, the working hours from the
task's creation (entering the stage) to the order's completion, grouped by (order kind, the task's bpmn_id) and
also across kinds (kind `ALL_KINDS`); p50 / p80 / mean go into `ForecastStat`. Re-entries count too, so loops
and waits are in the figures.

An active order (`predict`): now + p50 (p80) working hours of its kind at the stage it waits at ("history");
a kind with fewer than PREDICTION_MIN_SAMPLES there borrows every kind's figures ("history-all-kinds");
without those either, the naive «SLA sum» ("sla"): the stage's norm from its deadline on, then the norms of
the stages on the diagram's typical path (`app.engine.paths`), from the order's `sla` process data. An order at
several tasks at once is as late as its slowest one. docs/PREDICTION.md has the method and its accuracy.
"""
from __future__ import annotations

import datetime as dt
from array import array
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Iterable

from flask import current_app
from sqlalchemy import delete, select

from app import clock
from app.engine import engine
from app.engine.paths import typical_path
from app.extensions import db
from app.models import ForecastStat, HumanTask, Order, OrderStatus
from app.services import audit
from app.services.calendar import BusinessCalendar, business_calendar

ALL_KINDS = "*"  # ForecastStat.kind of the figures across every kind
HISTORY, HISTORY_ALL_KINDS, SLA = "history", "history-all-kinds", "sla"
ORIGIN = date(2000, 1, 1)  # working hours are counted from here (`WorkingClock`)


@dataclass(frozen=True)
class Prediction:
    date: dt.date
    p80_date: dt.date
    method: str  # HISTORY, HISTORY_ALL_KINDS or SLA
    stage: str | None = None  # the bpmn_id of the (slowest) task it was counted from


@dataclass(frozen=True)
class Figures:
    samples: int
    p50_hours: float
    p80_hours: float
    mean_hours: float


class WorkingClock:
    """Working hours since ORIGIN, one running total per day: the hours between two moments is a subtraction,
    so a hundred thousand orders' history needs no walk over each order's days."""

    def __init__(self, calendar: BusinessCalendar) -> None:
        self.calendar = calendar
        self.opens = calendar.start.hour + calendar.start.minute / 60 + calendar.start.second / 3600
        self.day_hours = (datetime.combine(ORIGIN, calendar.end) - datetime.combine(ORIGIN, calendar.start)
                          ).total_seconds() / 3600
        self.totals = array("d", [0.0])  # totals[i]: working hours before day ORIGIN + i

    def _extend(self, index: int) -> None:
        while len(self.totals) <= index:
            current = ORIGIN + timedelta(days=len(self.totals) - 1)
            self.totals.append(self.totals[-1] + (self.day_hours if self.calendar.is_working_day(current) else 0))

    def hours_at(self, moment: datetime) -> float:
        local = moment.astimezone(self.calendar.tz)
        index = (local.date() - ORIGIN).days
        if index < 0:
            return -self.calendar.working_hours_between(moment, datetime.combine(ORIGIN, self.calendar.start,
                                                                                   self.calendar.tz))
        if len(self.totals) <= index + 1:
            self._extend(index + 1)
        before, after = self.totals[index], self.totals[index + 1]
        if after == before:  # a day off
            return before
        worked = local.hour + local.minute / 60 + local.second / 3600 - self.opens
        return before + min(max(worked, 0.0), self.day_hours)

    def between(self, start: datetime, end: datetime) -> float:
        return self.hours_at(end) - self.hours_at(start)


def percentile(ordered: list[float] | array, q: float) -> float:
    """The q-quantile of sorted values, interpolated between the two nearest (numpy's default)."""
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def figures(values: Iterable[float]) -> Figures:
    ordered = sorted(values)
    return Figures(len(ordered), percentile(ordered, 0.5), percentile(ordered, 0.8), sum(ordered) / len(ordered))


def count_stats() -> list[tuple[str, str, Figures]]:
    """The figures by (kind, stage) recounted from the finished orders: reads only, so on SQLite the recount (seconds
    at 100,000 orders) holds no write lock; `store_stats` then writes them in a moment.

    The entries come ordered by stage and are streamed, so memory holds one stage's samples at a time.
    """
    working = WorkingClock(business_calendar())
    entries = (select(HumanTask.bpmn_id, Order.kind, HumanTask.created_at, Order.completed_at)
               .join(Order, Order.id == HumanTask.order_id)
               .where(Order.status == OrderStatus.COMPLETED, Order.completed_at.is_not(None),
                      HumanTask.created_at <= Order.completed_at)
               .order_by(HumanTask.bpmn_id, Order.kind)
               .execution_options(yield_per=5000))
    counted: list[tuple[str, str, Figures]] = []
    stage: str | None = None
    by_kind: dict[str, array] = {}

    def close_stage() -> None:
        if stage is None:
            return
        everyone = array("d")
        for kind, values in by_kind.items():
            counted.append((kind, stage, figures(values)))
            everyone.extend(values)
        counted.append((ALL_KINDS, stage, figures(everyone)))

    for bpmn_id, kind, entered, completed in db.session.execute(entries):
        if bpmn_id != stage:
            close_stage()
            stage, by_kind = bpmn_id, {}
        by_kind.setdefault(kind, array("d")).append(max(0.0, working.between(entered, completed)))
    close_stage()
    return counted


def store_stats(counted: list[tuple[str, str, Figures]]) -> int:
    """Replace `ForecastStat` with what `count_stats` counted (staged, not committed); the number of rows."""
    db.session.execute(delete(ForecastStat))
    db.session.add_all(ForecastStat(kind=kind, stage=stage, samples=found.samples, p50_hours=found.p50_hours,
                                    p80_hours=found.p80_hours, mean_hours=found.mean_hours)
                       for kind, stage, found in counted)
    db.session.flush()
    return len(counted)


def refresh_stats() -> int:
    """Recount `ForecastStat` from the finished orders (staged, not committed); the number of rows written."""
    return store_stats(count_stats())


def load_stats(kind: str | None = None, stages: Iterable[str] | None = None) -> dict[tuple[str, str], Figures]:
    """The figures by (kind, stage): all of them (a few hundred rows, read once per batch of orders), or only
    what one order of `kind` at `stages` needs."""
    query = select(ForecastStat)
    if kind is not None:
        query = query.where(ForecastStat.kind.in_((kind, ALL_KINDS)))
    if stages is not None:
        query = query.where(ForecastStat.stage.in_(list(stages)))
    return {(row.kind, row.stage): Figures(row.samples, row.p50_hours, row.p80_hours, row.mean_hours)
            for row in db.session.execute(query).scalars()}


def from_history(stats: dict[tuple[str, str], Figures], kind: str, stage: str,
                 min_samples: int) -> tuple[Figures, str] | None:
    """The figures an order of `kind` at `stage` is forecast from, and the method's name; None: too little."""
    own = stats.get((kind, stage))
    if own is not None and own.samples >= min_samples:
        return own, HISTORY
    every = stats.get((ALL_KINDS, stage))
    if every is not None and every.samples >= min_samples:
        return every, HISTORY_ALL_KINDS
    return None


def sla_finish(calendar: BusinessCalendar, now: datetime, stage: str, due_at: datetime | None, path: list[str],
               sla: dict) -> datetime | None:
    """The naive «SLA sum»: the stage ends at its deadline (or its norm from now), the later stages on the path
    take their norms; None when the order has no norms."""
    if not sla:
        return None
    here = float(sla.get(stage) or 0)
    begin = max(now, due_at) if due_at is not None else calendar.add(now, here)
    rest = sum(float(sla.get(later) or 0) for later in path if later != stage)
    return calendar.add(begin, rest)


def _local_date(moment: datetime, calendar: BusinessCalendar) -> date:
    return moment.astimezone(calendar.tz).date()


def order_sla(order: Order) -> dict:
    """The order's stage norms (`sla`, hours by task id) as its process holds them; {} without a process."""
    instance = order.instance
    if instance is None or not instance.state:
        return {}
    definition = instance.definition
    specs = engine().specs(definition.id, definition.checksum, lambda: definition.spec_json)
    data = engine().workflow_data(engine().load(specs, instance.state))
    sla = data.get("sla")
    return sla if isinstance(sla, dict) else {}


def order_path(order: Order, stage: str) -> list[str]:
    """The tasks on the diagram's typical path from `stage` (itself first), for the order's version."""
    instance = order.instance
    if instance is None:
        return [stage]
    definition = instance.definition
    paths = engine().version_cached(definition.id, definition.checksum, "typical paths", dict)  # one entry a version
    if stage not in paths:
        specs = engine().specs(definition.id, definition.checksum, lambda: definition.spec_json)
        paths[stage] = typical_path(specs, stage) or [stage]
    return paths[stage]


def _waiting_at(order: Order, open_tasks: list[tuple[str, datetime | None]] | None = None
                ) -> list[tuple[str, datetime | None]]:
    """(bpmn_id, due_at) of the tasks the order waits at; between tasks (a timer, a worker), its newest task.

    `open_tasks`: the caller knows them (the step that just projected them); they are not read back.
    """
    if open_tasks is None:
        open_tasks = [(row.bpmn_id, row.due_at) for row in db.session.execute(
            select(HumanTask.bpmn_id, HumanTask.due_at).where(
                HumanTask.order_id == order.id, HumanTask.state == "open").order_by(HumanTask.id))]
    if open_tasks:
        return open_tasks
    newest = db.session.execute(select(HumanTask.bpmn_id).where(HumanTask.order_id == order.id)
                                .order_by(HumanTask.id.desc()).limit(1)).scalar_one_or_none()
    return [(newest, None)] if newest else []


def predict(order: Order, now: datetime | None = None, *, stats: dict[tuple[str, str], Figures] | None = None,
            sla: dict | None = None, waiting: list[tuple[str, datetime | None]] | None = None) -> Prediction | None:
    """When the order will likely be done (p50) and done at the latest 4 times in 5 (p80); None once finished.

    `stats` (`load_stats`) saves a read per order in a batch; `sla` saves loading the order's workflow when
    the caller holds its data already; `waiting`, (bpmn_id, due_at) of its open tasks oldest first, reading them.
    """
    if order.status != OrderStatus.ACTIVE:
        return None
    now = now or clock.now()
    calendar = business_calendar()
    waiting = _waiting_at(order, waiting)
    stats = load_stats(order.kind, [stage for stage, _ in waiting]) if stats is None else stats
    min_samples = int(current_app.config.get("PREDICTION_MIN_SAMPLES", 20))
    slowest: tuple[datetime, datetime, str, str] | None = None
    for stage, due_at in waiting:
        found = from_history(stats, order.kind, stage, min_samples)
        if found is not None:
            numbers, method = found
            p50, p80 = calendar.add(now, numbers.p50_hours), calendar.add(now, numbers.p80_hours)
        else:
            if sla is None:
                sla = order_sla(order)
            finish = sla_finish(calendar, now, stage, due_at, order_path(order, stage), sla)
            if finish is None:
                continue
            p50 = p80 = finish
            method = SLA
        if slowest is None or p50 > slowest[0]:
            slowest = (p50, p80, method, stage)
    if slowest is None:
        return None
    p50, p80, method, stage = slowest
    return Prediction(_local_date(p50, calendar), _local_date(p80, calendar), method, stage)


def refresh_order(order: Order, now: datetime | None = None, *, stats: dict[tuple[str, str], Figures] | None = None,
                  sla: dict | None = None, waiting: list[tuple[str, datetime | None]] | None = None
                  ) -> Prediction | None:
    """Write the order's prediction into its columns (cleared once it is finished: nor is it at risk then).

    Given `waiting` (a step's projection), the rest it reads — the figures, the newest task — is nothing the
    unit of work has staged: it reads without flushing, and the order is written once, at the commit.
    """
    if waiting is not None:
        with db.session.no_autoflush:
            found = predict(order, now, stats=stats, sla=sla, waiting=waiting)
    else:
        found = predict(order, now, stats=stats, sla=sla)
    order.predicted_on = found.date if found else None
    order.predicted_p80_on = found.p80_date if found else None
    order.prediction_method = found.method if found else None
    if order.status != OrderStatus.ACTIVE and order.at_risk:
        order.at_risk = False
        audit.record(order.id, "risk", "scheduler", field="at_risk", old=True, new=False,
                     details={"reason": order.status})
    return found


def refresh_active(limit: int = 500, after: int = 0, now: datetime | None = None) -> tuple[int, int | None]:
    """Refresh the next `limit` active orders after id `after`: (how many, the last id, None once all are done)."""
    orders = db.session.execute(select(Order).where(Order.status == OrderStatus.ACTIVE, Order.id > after)
                                .order_by(Order.id).limit(limit)).scalars().all()
    stats = load_stats()
    for order in orders:
        refresh_order(order, now, stats=stats)
    db.session.flush()
    return len(orders), (orders[-1].id if len(orders) == limit else None)
