"""The Gantt of active orders across their stages: for each order the tasks it went through or waits at, planned
(created → the SLA deadline) against actual (created → completed, or now while open), with the predicted
completion and the promised date beside them."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Mapping

from flask_babel import gettext as _
from sqlalchemy import Select, select

from app import clock
from app.extensions import db
from app.models import ORDER_KINDS, HumanTask, Order, OrderStatus
from app.services.inputs import int_arg
from app.services.periods import period_from, within

SHOWN_STATES = ("open", "completed")  # a cancelled task (an interrupted branch) was no stage the order went


@dataclass(frozen=True)
class GanttFilters:
    kind: str = ""
    stage: str = ""
    date_from: date | None = None  # orders created in [date_from, date_to]; open-ended when None
    date_to: date | None = None
    at_risk: bool = False
    page: int = 1

    def args(self) -> dict[str, str]:
        return {"kind": self.kind, "stage": self.stage, "from": self.date_from.isoformat() if self.date_from else "",
                "to": self.date_to.isoformat() if self.date_to else "", "at_risk": "1" if self.at_risk else ""}


@dataclass(frozen=True)
class StageBar:
    """One task of the order: when it started, when it was done (None while open), and its SLA deadline."""

    task_id: int
    name: str
    stage: str
    started_at: datetime
    finished_at: datetime | None
    due_at: datetime | None
    now: datetime

    @property
    def is_open(self) -> bool:
        return self.finished_at is None

    @property
    def ends_at(self) -> datetime:
        return self.finished_at or self.now

    @property
    def late(self) -> bool:
        """Finished after its deadline, or still open past it."""
        return self.due_at is not None and self.ends_at > self.due_at


@dataclass
class OrderLine:
    order: Order
    stages: list[StageBar] = field(default_factory=list)

    @property
    def late_stages(self) -> int:
        return sum(stage.late for stage in self.stages)

    @property
    def predicted_late(self) -> bool:
        """The predicted completion falls after the promised date."""
        return bool(self.order.predicted_on and self.order.promised_date
                    and self.order.predicted_on > self.order.promised_date)


def stages() -> list[str]:
    """The stages active orders are at: the stage filter's choices."""
    return sorted(set(db.session.execute(select(Order.stage).where(Order.status == OrderStatus.ACTIVE)
                                         .distinct()).scalars()) - {""})


def parse_filters(args: Mapping[str, str]) -> tuple[GanttFilters, dict[str, str]]:
    """The filters from a query string and a message per field it could not read (that filter is left out)."""
    errors: dict[str, str] = {}
    date_from, date_to = period_from(args, (None, None), errors)
    kind = args.get("kind") or ""
    if kind and kind not in ORDER_KINDS:
        errors["kind"], kind = _("Вид заказа «%(value)s» неизвестен", value=kind[:60]), ""
    stage = args.get("stage") or ""
    if stage and stage not in stages():
        errors["stage"], stage = _("Этапа «%(value)s» нет у активных заказов", value=stage[:120]), ""
    at_risk = (args.get("at_risk") or "") not in ("", "0")
    page = int_arg(args, "page", 1, 1, 10**6, strict=False)
    return GanttFilters(kind, stage, date_from, date_to, at_risk, page), errors


def orders_query(filters: GanttFilters) -> Select:
    """Active orders kept by the filters, oldest first."""
    query = select(Order).where(Order.status == OrderStatus.ACTIVE)
    if filters.kind:
        query = query.where(Order.kind == filters.kind)
    if filters.stage:
        query = query.where(Order.stage == filters.stage)
    query = query.where(*within(Order.created_at, filters.date_from, filters.date_to))
    if filters.at_risk:
        query = query.where(Order.at_risk.is_(True))
    return query.order_by(Order.created_at, Order.id)


def order_lines(orders: list[Order]) -> list[OrderLine]:
    """Each order with its stages in the order they began (one query for all their tasks)."""
    now = clock.now()
    lines = {order.id: OrderLine(order) for order in orders}
    tasks = db.session.execute(select(HumanTask).where(HumanTask.order_id.in_(list(lines) or [0]),
                                                       HumanTask.state.in_(SHOWN_STATES))
                               .order_by(HumanTask.created_at, HumanTask.id)).scalars()
    for task in tasks:
        if task.order_id is not None and task.created_at is not None:
            lines[task.order_id].stages.append(StageBar(
                task.id, task.name, task.stage, task.created_at,
                task.completed_at if task.state == "completed" else None, task.due_at, now))
    return list(lines.values())


def chart_tasks(lines: list[OrderLine], tz) -> list[dict]:
    """The rows frappe-gantt draws: per order a summary bar, per stage a planned and an actual bar, and the
    predicted and promised dates as bars of their own; times on the company's clock. A bar's `custom_class` is
    one token (frappe-gantt adds it as one): gantt-actual / gantt-late, with "-open" while the task is open."""

    def stamp(moment: datetime) -> str:
        return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")

    def span(start: datetime, end: datetime) -> tuple[str, str]:
        return stamp(start), stamp(max(end, start + timedelta(hours=1)))  # a bar needs a length to be seen

    rows: list[dict] = []
    for line in lines:
        order = line.order
        end = max([stage.ends_at for stage in line.stages] + [order.created_at])
        start, finish = span(order.created_at, end)
        rows.append({"id": f"order-{order.id}", "name": f"№ {order.number} · {order.kind_label}", "start": start,
                     "end": finish, "progress": 0,
                     "custom_class": "gantt-order-risk" if order.at_risk else "gantt-order"})
        for stage in line.stages:
            if stage.due_at is not None:
                start, finish = span(stage.started_at, stage.due_at)
                rows.append({"id": f"plan-{stage.task_id}", "name": _("%(stage)s — план", stage=stage.name),
                             "start": start, "end": finish, "progress": 0, "custom_class": "gantt-planned"})
            start, finish = span(stage.started_at, stage.ends_at)
            rows.append({"id": f"fact-{stage.task_id}", "name": _("%(stage)s — факт", stage=stage.name),
                         "start": start, "end": finish, "progress": 0,
                         "custom_class": ("gantt-late" if stage.late else "gantt-actual")
                         + ("-open" if stage.is_open else "")})
        if order.predicted_on:
            last = order.predicted_p80_on or order.predicted_on
            rows.append({"id": f"predicted-{order.id}", "name": _("прогноз завершения"),
                         "start": order.predicted_on.isoformat(),
                         "end": max(last, order.predicted_on + timedelta(days=1)).isoformat(), "progress": 0,
                         "custom_class": "gantt-predicted-late" if line.predicted_late else "gantt-predicted"})
        if order.promised_date:
            rows.append({"id": f"promised-{order.id}", "name": _("обещано заказчику"),
                         "start": order.promised_date.isoformat(),
                         "end": (order.promised_date + timedelta(days=1)).isoformat(), "progress": 0,
                         "custom_class": "gantt-promised"})
    return rows
