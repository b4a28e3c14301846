"""The load chart's figures: hours booked per specialist per day against the hours they work that day.

Booked hours are the visits (booked and done, on active and completed orders) summed by person and by the
company's day a visit starts on, in one grouped query however many visits there are. Capacity is the business
calendar's working day (WORK_HOURS) on working days and nothing on days off and holidays, the same for everyone.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import case, cast, func, literal_column, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Date, Float

from app.extensions import db
from app.models import Order, OrderStatus, User, Visit
from app.models.users import user_roles
from app.services.calendar import BusinessCalendar
from app.services.visits import KINDS

MAX_DAYS = 62  # a longer period does not fit a table of days; two months is what a dispatcher plans ahead
COUNTED_VISITS = ("booked", "done")
COUNTED_ORDERS = (OrderStatus.ACTIVE, OrderStatus.COMPLETED)


class _Hours(FunctionElement):
    """Hours from the first timestamp to the second, in SQL."""

    type = Float()
    inherit_cache = True


@compiles(_Hours, "sqlite")
def _hours_sqlite(element, compiler, **kw):
    starts, ends = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"((julianday({ends}) - julianday({starts})) * 24.0)"


@compiles(_Hours, "postgresql")
def _hours_postgresql(element, compiler, **kw):
    starts, ends = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"(EXTRACT(EPOCH FROM ({ends} - {starts})) / 3600.0)"


class _ShiftedDate(FunctionElement):
    """The date of a UTC timestamp moved by a number of minutes (SQLite keeps timestamps as naive UTC text)."""

    type = Date()
    inherit_cache = True


@compiles(_ShiftedDate, "sqlite")
def _shifted_date_sqlite(element, compiler, **kw):
    moment, minutes = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"date({moment}, ({minutes}) || ' minutes')"


def _local_day(column, tz: ZoneInfo, first: date, last: date):
    """The company's date of a UTC timestamp column. PostgreSQL converts by the zone's rules itself; on SQLite
    the period is cut where the zone's offset changes (summer time), each piece shifted by its own offset."""
    if db.session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone(_zone_literal(tz), column), Date)
    pieces: list[tuple[datetime, int]] = []  # (UTC moment the offset starts, offset in minutes)
    day = first - timedelta(days=1)
    while day <= last + timedelta(days=1):
        local_midnight = datetime.combine(day, time(0), tz)
        offset = int(local_midnight.utcoffset().total_seconds() // 60)  # type: ignore[union-attr]
        if not pieces or pieces[-1][1] != offset:
            pieces.append((local_midnight, offset))
        day += timedelta(days=1)
    if len(pieces) == 1:
        return _ShiftedDate(column, literal_column(str(pieces[0][1])))
    whens = [(column < starts, _ShiftedDate(column, literal_column(str(previous))))
             for (starts, _), (_, previous) in zip(pieces[1:], pieces[:-1], strict=True)]
    return case(*whens, else_=_ShiftedDate(column, literal_column(str(pieces[-1][1]))))


def _zone_literal(tz: ZoneInfo):
    """The zone's name written into the statement: a bound parameter would make the grouped expression differ
    from the selected one, which PostgreSQL refuses."""
    if not re.fullmatch(r"[A-Za-z0-9_+\-/]+", tz.key):
        raise ValueError(f"unexpected time zone name {tz.key!r}")
    return literal_column(f"'{tz.key}'")


@dataclass(frozen=True)
class Cell:
    """One person's day: hours booked on how many visits, against the hours they work."""

    booked: float
    capacity: float
    visits: int = 0

    @property
    def over(self) -> bool:
        return self.booked > self.capacity + 1e-9

    @property
    def share(self) -> float | None:
        """Booked hours as a share of the day's working hours (none on a day off)."""
        return self.booked / self.capacity if self.capacity else None


@dataclass
class Load:
    kind: str
    days: list[date]
    capacity: dict[date, float]
    people: list[User]
    booked: dict[tuple[int, date], tuple[float, int]] = field(default_factory=dict)  # (user, day) → hours, visits

    def cell(self, user_id: int, day: date) -> Cell:
        hours, visits = self.booked.get((user_id, day), (0.0, 0))
        return Cell(round(hours, 2), self.capacity[day], visits)

    def total(self, user_id: int) -> Cell:
        return Cell(round(sum(self.cell(user_id, day).booked for day in self.days), 2),
                    sum(self.capacity.values()), sum(self.cell(user_id, day).visits for day in self.days))

    @property
    def overbooked(self) -> int:
        """How many person-days are booked beyond their working hours."""
        return sum(1 for person in self.people for day in self.days if self.cell(person.id, day).over)


def day_capacity(calendar: BusinessCalendar, day: date) -> float:
    """A person's working hours that day: the working day's length, 0 on a day off."""
    if not calendar.is_working_day(day):
        return 0.0
    opens, closes = datetime.combine(day, calendar.start), datetime.combine(day, calendar.end)
    return max(0.0, (closes - opens).total_seconds() / 3600)


def workload(kind: str, first: date, last: date, calendar: BusinessCalendar) -> Load:
    """Booked hours per person of the kind's role per day from `first` to `last` (the company's days)."""
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    tz = calendar.tz
    window_start = datetime.combine(first, time(0), tz)
    window_end = datetime.combine(last + timedelta(days=1), time(0), tz)
    day = _local_day(Visit.starts_at, tz, first, last).label("day")
    rows = db.session.execute(
        select(Visit.user_id, day, func.sum(_Hours(Visit.starts_at, Visit.ends_at)), func.count(Visit.id))
        .join(Order, Visit.order_id == Order.id)
        .where(Visit.kind == kind, Visit.user_id.is_not(None), Visit.status.in_(COUNTED_VISITS),
               Order.status.in_(COUNTED_ORDERS), Visit.starts_at >= window_start, Visit.starts_at < window_end)
        .group_by(Visit.user_id, day)).all()
    booked = {(user_id, _as_date(on)): (float(hours or 0), int(count)) for user_id, on, hours, count in rows}
    role = KINDS[kind].role
    with_visits = {user_id for user_id, _day in booked}
    people = db.session.execute(
        select(User).where((User.active.is_(True) & User.id.in_(select(user_roles.c.user_id)
                                                                .where(user_roles.c.role_code == role)))
                           | User.id.in_(with_visits or {0}))
        .order_by(User.name, User.id)).scalars().all()
    return Load(kind, days, {d: day_capacity(calendar, d) for d in days}, list(people), booked)


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
