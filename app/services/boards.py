"""Department boards: the figures a head watches — work in progress per person, late tasks, SLA compliance, the
oldest waiting work and, on the workshops' boards, the components of active orders and the orders they hold up.

Each figure is one aggregate or one bounded list query, mostly on the open tasks of the department's lane (the
(state, lane) index): no per-row queries, so a board costs about the same with a hundred orders or 100,000.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import and_, case, func, or_, select, text
from sqlalchemy.orm import defer, joinedload, lazyload

from app import clock
from app.extensions import db
from app.models import Component, Department, HumanTask, Order, OrderComponentCount, OrderStatus, User
from app.models.component_counts import ARRIVED, WAITING
from app.models.users import user_roles
from app.policy import MANAGEMENT
from app.services.analytics import WorkingHours
from app.services.calendar import business_calendar, company_tz

# The workshops' boards also show components and the orders waiting for them: procurement buys, production builds.
WORKSHOP_LANES = ("procurement", "production")
# A component's status, as the boards group it: not ordered yet, ordered, arrived (at the warehouse or the workshop).
COMPONENT_GROUPS = {"missing": ("needed",), "ordered": ("ordered",), "arrived": ARRIVED}
NOT_ARRIVED = COMPONENT_GROUPS["missing"] + COMPONENT_GROUPS["ordered"]
LIST_LIMIT = 50  # rows in a list; the total is counted beside it
OLDEST_LIMIT = 10


@dataclass(frozen=True)
class Workload:
    """One person's open tasks of the lane (`person` None: the lane's queue, taken by nobody)."""

    person: User | None
    open: int
    overdue: int
    oldest: datetime | None


@dataclass(frozen=True)
class LateTask:
    """An open task past its deadline, past its 75 % warning, or of an order whose prediction misses its date."""

    task: HumanTask
    overdue: bool
    at_risk: bool  # the order's predicted completion passes its promised date
    late_hours: float | None  # working hours past due_at; negative: still that many ahead


@dataclass(frozen=True)
class Compliance:
    """Tasks of the lane completed since `since` that had a deadline, and how many of them met it."""

    since: datetime
    on_time: int
    total: int

    @property
    def since_day(self) -> date:
        """The period's first day, in the company's time zone."""
        return self.since.astimezone(company_tz()).date()

    @property
    def percent(self) -> float | None:
        return None if not self.total else round(100 * self.on_time / self.total, 1)


@dataclass(frozen=True)
class HeldOrder:
    """An active order at a workshop stage with components not yet arrived."""

    task: HumanTask
    waiting: int  # components still needed or ordered
    waited: timedelta  # since the stage's task opened


@dataclass
class Board:
    department: Department
    now: datetime
    workload: list[Workload]
    stages: list[tuple[str, int]]  # the lane's open tasks per stage
    late: list[LateTask]
    late_total: int
    week: Compliance
    month: Compliance
    oldest: list[HumanTask]
    workshop: bool = False
    components: dict[str, int] = field(default_factory=dict)  # group -> count
    component_lists: dict[str, list[tuple[Component, str]]] = field(default_factory=dict)  # group -> (row, number)
    held: list[HeldOrder] = field(default_factory=list)
    held_total: int = 0

    @property
    def open_total(self) -> int:
        return sum(row.open for row in self.workload)

    @property
    def overdue_total(self) -> int:
        return sum(row.overdue for row in self.workload)


# -- who opens which board ----------------------------------------------------------------------------------

def departments() -> list[Department]:
    return list(db.session.execute(select(Department).order_by(Department.name)).scalars())


def department(code: str) -> Department | None:
    return db.session.execute(select(Department).where(Department.code == code)).scalar_one_or_none()


def boards_of(user: User) -> list[Department]:
    """The boards `user` may open: every department for the director and admins, the ones they head otherwise."""
    if user.role_codes & MANAGEMENT:
        return departments()
    return list(db.session.execute(select(Department).where(Department.head_id == user.id)
                                   .order_by(Department.name)).scalars())


def lane_counts() -> dict[str, tuple[int, int]]:
    """Open and overdue tasks per lane, for the list of boards (one aggregate over the open tasks)."""
    overdue = func.sum(case((HumanTask.due_at < clock.now(), 1), else_=0))
    rows = db.session.execute(select(HumanTask.lane, func.count(), overdue).where(HumanTask.state == "open")
                              .group_by(HumanTask.lane))
    return {lane: (count, int(late or 0)) for lane, count, late in rows}


# -- the board ----------------------------------------------------------------------------------------------

def board(dept: Department, now: datetime | None = None) -> Board:
    """Every figure of the department's board at `now` (default: the clock's now)."""
    now = now or clock.now()
    lane = dept.role_code  # None: a department without a lane has no tasks (never the lane-less "" ones)
    oldest_ids = oldest(lane)
    late_ids, late_total = late_tasks(lane, now)
    workshop = lane in WORKSHOP_LANES
    waiting = Waiting.read() if workshop else Waiting()
    held, held_total = held_orders(waiting) if workshop else ({}, 0)
    tasks = _tasks([*oldest_ids, *late_ids, *held])  # the three lists' rows, in one query

    def listed(ids) -> list[HumanTask]:
        return [tasks[task_id] for task_id in ids if task_id in tasks]

    week, month = compliance(lane, (week_start(now), month_start(now)), now)
    result = Board(department=dept, now=now, workload=workload(dept, now), stages=stages(lane),
                   late=late_rows(listed(late_ids), now), late_total=late_total, week=week, month=month,
                   oldest=listed(oldest_ids))
    if workshop:
        result.workshop = True
        result.components = {**waiting.counts(), "arrived": arrived_count()}
        result.component_lists = {**waiting.lists(), "arrived": arrived_list()}
        result.held = [HeldOrder(task=task, waiting=held[task.id], waited=now - task.created_at)
                       for task in listed(held)]
        result.held_total = held_total
    return result


def _tasks(ids: list[int]) -> dict[int, HumanTask]:
    """The tasks of these ids, each with its order: the board's lists are sorted and cut on the tasks' ids first, so
    only their rows are joined — not every open task of the lane before the cut. The board shows no form data and
    no order's customer or partner: neither is read (nor the partners' commissions after them)."""
    return {task.id: task for task in db.session.execute(
        select(HumanTask).options(joinedload(HumanTask.order).lazyload(Order.customer),
                                  joinedload(HumanTask.order).lazyload(Order.partner), defer(HumanTask.data))
        .where(HumanTask.id.in_(ids or [0]))).scalars()}


def _open(lane: str | None):
    return and_(HumanTask.state == "open", HumanTask.lane == lane)


def workload(dept: Department, now: datetime) -> list[Workload]:
    """Each member (the lane's role or the department, active) and anyone else holding the lane's tasks, with
    their open tasks; the queue first, then the busiest."""
    lane = dept.role_code
    overdue = func.sum(case((HumanTask.due_at < now, 1), else_=0))
    # grouped by `assignee_id + 0`: by the column itself SQLite would walk every open task of every lane in the
    # (state, assignee) index to save a sort of a few rows; so it reads the lane's entries of the board's index
    person = (HumanTask.assignee_id + 0).label("person")
    counts = {assignee: (count, int(late or 0), oldest) for assignee, count, oldest, late in db.session.execute(
        select(person, func.count(), func.min(HumanTask.created_at), overdue)
        .where(_open(lane)).group_by(person))}
    holders = [user_id for user_id in counts if user_id is not None]
    in_lane = select(user_roles.c.user_id).where(user_roles.c.role_code == lane)
    people = db.session.execute(select(User).where(or_(
        and_(User.active.is_(True), or_(User.department_id == dept.id, User.id.in_(in_lane))),
        User.id.in_(holders or [0]))).order_by(User.name).options(lazyload(User.roles))).scalars().all()
    rows = [Workload(person, *counts.get(person.id, (0, 0, None))) for person in people]
    rows.sort(key=lambda row: (-row.open, -row.overdue))
    return [Workload(None, *counts.get(None, (0, 0, None))), *rows]


def stages(lane: str | None) -> list[tuple[str, int]]:
    rows = db.session.execute(select(HumanTask.stage, func.count()).where(_open(lane))
                              .group_by(HumanTask.stage).order_by(func.count().desc(), HumanTask.stage))
    return [(stage, count) for stage, count in rows]


def late_tasks(lane: str | None, now: datetime, limit: int = LIST_LIMIT) -> tuple[list[int], int]:
    """Open tasks of the lane overdue, past their 75 % warning, or of an at-risk order: the ids of the most overdue
    first (at most `limit`), and how many there are."""
    # the at-risk orders by their index, not each of the lane's tasks joined with its order (PostgreSQL hashed all
    # 100,000 orders for a lane of 1,000 tasks)
    at_risk = select(Order.id).where(Order.at_risk.is_(True))
    late = or_(HumanTask.due_at < now, HumanTask.sla_level.is_not(None), HumanTask.order_id.in_(at_risk))
    rows = db.session.execute(select(HumanTask.id, func.count().over()).where(_open(lane), late)  # how many, too
                              .order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.id)
                              .limit(limit)).all()
    return [task_id for task_id, _total in rows], rows[0][1] if rows else 0


def late_rows(tasks: list[HumanTask], now: datetime) -> list[LateTask]:
    """The late tasks as the board lists them: overdue or not, the order at risk, working hours late or left."""
    # the working days between the deadlines and now summed once and kept, not walked per task (two years late: 500
    # days each) nor per request
    hours = WorkingHours.shared(business_calendar(), [task.due_at for task in tasks if task.due_at is not None] + [now])

    def late_by(due: datetime) -> float:
        return hours.between(due, now) if due <= now else -hours.between(now, due)

    return [LateTask(task=task, overdue=task.due_at is not None and task.due_at < now,
                     at_risk=bool(task.order is not None and task.order.at_risk),
                     late_hours=None if task.due_at is None else late_by(task.due_at))
            for task in tasks]


def week_start(now: datetime) -> datetime:
    """Monday 00:00 of this week in the company's time zone."""
    today = now.astimezone(company_tz()).date()
    return _midnight(today - timedelta(days=today.weekday()))


def month_start(now: datetime) -> datetime:
    return _midnight(now.astimezone(company_tz()).date().replace(day=1))


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), company_tz()).astimezone(timezone.utc)


def compliance(lane: str | None, starts: tuple[datetime, ...], now: datetime) -> list[Compliance]:
    """Completed since each of `starts` with a deadline: how many by their deadline (every period in one pass over
    the earliest one's tasks)."""
    completed = HumanTask.completed_at
    on_time = completed <= HumanTask.due_at
    figures = []
    for since in starts:
        figures += [func.count().filter(completed >= since), func.count().filter(and_(completed >= since, on_time))]
    row = db.session.execute(select(*figures).where(
        HumanTask.state == "completed", HumanTask.lane == lane, HumanTask.due_at.is_not(None),
        completed >= min(starts), completed <= now)).one()
    return [Compliance(since=since, total=row[2 * i], on_time=row[2 * i + 1]) for i, since in enumerate(starts)]


def oldest(lane: str | None, limit: int = OLDEST_LIMIT) -> list[int]:
    """The ids of the lane's open tasks waiting longest (read from the board index alone)."""
    return list(db.session.execute(select(HumanTask.id).where(_open(lane))
                                   .order_by(HumanTask.created_at, HumanTask.id).limit(limit)).scalars())


# -- components in the workshops --------------------------------------------------------------------------

def _active_components():
    return select(Component).join(Order, Component.order_id == Order.id).where(Order.status == OrderStatus.ACTIVE)


@dataclass
class Waiting:
    """The active orders still waiting for components (needed or ordered), about a thousand of 100,000: read from
    the counts kept beside each order (app/models/component_counts.py) by their partial index, for the two groups'
    counts and lists and the held orders. Joining the waiting components with their orders instead cost SQLite
    8–19 ms and PostgreSQL a hash of every active order; asked for a group's first 50 components, the planners walk
    every order from the oldest."""

    orders: list = field(default_factory=list)  # (order id, needed, ordered), the oldest orders first

    @classmethod
    def read(cls) -> Waiting:
        # each order's date read by its primary key to sort on (joined, PostgreSQL hashed all 100,000 orders for
        # these thousand) and left in the database (made into datetimes, a thousand cost more than the query)
        created = select(Order.created_at).where(Order.id == OrderComponentCount.order_id).scalar_subquery()
        return cls([tuple(row) for row in db.session.execute(
            select(OrderComponentCount.order_id, OrderComponentCount.needed, OrderComponentCount.ordered)
            .where(text(WAITING)).order_by(created, OrderComponentCount.order_id))])

    def counts(self) -> dict[str, int]:
        return {"missing": sum(row[1] for row in self.orders), "ordered": sum(row[2] for row in self.orders)}

    def per_order(self) -> dict[int, int]:
        """order id → its components waiting."""
        return {order_id: needed + ordered for order_id, needed, ordered in self.orders}

    def lists(self, limit: int = LIST_LIMIT) -> dict[str, list[tuple[Component, str]]]:
        """Each group's first `limit` (component, order number), the oldest orders first, then by position: only the
        components of the first orders that hold `limit` of the group are read."""
        first: dict[str, list[int]] = {}
        for group, column in (("missing", 1), ("ordered", 2)):
            first[group], held = [], 0
            for row in self.orders:
                if held >= limit:
                    break
                if row[column]:
                    first[group].append(row[0])
                    held += row[column]
        rank = {row[0]: place for place, row in enumerate(self.orders)}
        rows = sorted(db.session.execute(
            select(Component, Order.number).join(Order, Component.order_id == Order.id)
            .where(Component.order_id.in_([*first["missing"], *first["ordered"]] or [0]),
                   Component.status.in_(NOT_ARRIVED))),
            key=lambda row: (rank[row[0].order_id], row[0].position, row[0].id))
        return {group: [(component, number) for component, number in rows
                        if component.status in COMPONENT_GROUPS[group] and component.order_id in first[group]][:limit]
                for group in ("missing", "ordered")}


def arrived_count() -> int:
    """Components of active orders arrived (received or in the workshop): the active orders' counts added up, each
    kept beside its order by the database (app/models/component_counts.py)."""
    return db.session.execute(select(func.coalesce(func.sum(OrderComponentCount.arrived), 0))
                              .where(OrderComponentCount.active.is_(True))).scalar_one()


def arrived_list(limit: int = LIST_LIMIT) -> list[tuple[Component, str]]:
    """(component, order number) of the arrived group, the oldest orders first: most components of every active
    order have arrived, so the oldest orders' are found at once."""
    rows = db.session.execute(_active_components().add_columns(Order.number)
                              .where(Component.status.in_(COMPONENT_GROUPS["arrived"]))
                              .order_by(Order.created_at, Order.id, Component.position).limit(limit))
    return [(component, number) for component, number in rows]


def held_orders(waiting: Waiting | None = None, limit: int = LIST_LIMIT) -> tuple[dict[int, int], int]:
    """Active orders at a workshop stage (procurement or production) with a component not yet arrived: their
    stage's task id → components still waiting, the longest waiting first (at most `limit`), and how many there
    are."""
    per_order = (waiting or Waiting.read()).per_order()
    # the open workshop tasks (the board index's entries of two lanes), the oldest first, kept when their order waits
    held = [(task_id, per_order[order_id]) for task_id, order_id in db.session.execute(
        select(HumanTask.id, HumanTask.order_id).where(HumanTask.state == "open", HumanTask.lane.in_(WORKSHOP_LANES))
        .order_by(HumanTask.created_at, HumanTask.id)) if order_id in per_order]
    return dict(held[:limit]), len(held)
