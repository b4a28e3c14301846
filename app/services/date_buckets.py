"""Periods a report groups dates by — day, ISO week, month, quarter, year — counted in the company's time zone.

The bucket is computed in SQL, so grouping, ordering and the row limit stay in the database. PostgreSQL converts a
stored UTC moment with `timezone(zone, column)`. SQLite knows no zones: the moment is shifted by the zone's UTC
offset, written as a CASE over the offset changes (daylight saving, law changes) between the earliest and the
latest moment the report reads — for Moscow since 2014 a single constant. Each bucket is keyed by its first day.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import format_date, get_locale
from sqlalchemy import Date, DateTime, Integer, Select, case, cast, func, literal_column

from app.extensions import db

BUCKETS = ("day", "week", "month", "quarter", "year")
QUARTERS = ("I", "II", "III", "IV")
STEP = timedelta(days=7)  # zones change their offset months apart: a weekly walk finds each change, then bisects
Span = tuple[datetime | None, datetime | None]  # the earliest and latest stored moment (SQLite's zone offsets)


def needs_span(kind: str) -> bool:
    """Whether `expression` must know the moments' span first: a date-time on SQLite."""
    return kind == "datetime" and db.session.get_bind().dialect.name == "sqlite"


def span(query: Select, column: Any) -> Span:
    """The earliest and latest value of `column` among the rows `query` reads."""
    first, last = db.session.execute(query.add_columns(func.min(column), func.max(column))).one()
    return first, last


def expression(column: Any, kind: str, bucket: str, tz: ZoneInfo, moments: Span = (None, None)) -> Any:
    """The first day of the company-zone `bucket` holding `column` (a "date" or "datetime" column)."""
    if bucket not in BUCKETS:
        raise ValueError(bucket)
    if db.session.get_bind().dialect.name == "postgresql":
        local = (func.timezone(_quoted(tz.key), column) if kind == "datetime" else cast(column, DateTime()))
        return cast(func.date_trunc(_quoted(bucket), local), Date)
    local = func.datetime(column, _sqlite_offset(column, tz, moments)) if kind == "datetime" else func.date(column)
    if bucket == "day":
        return func.date(local)
    if bucket == "week":  # the Monday on or before: forward to Sunday, back six days
        return func.date(local, "weekday 0", "-6 days")
    if bucket == "month":
        return func.strftime("%Y-%m-01", local)
    if bucket == "year":
        return func.strftime("%Y-01-01", local)
    first_month = (cast(func.strftime("%m", local), Integer) - 1) // 3 * 3 + 1
    return func.printf("%s-%02d-01", func.strftime("%Y", local), first_month)


def first_day(value: Any) -> date | None:
    """A bucket's key as a date (SQLite hands back text)."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def label(day: date | None, bucket: str) -> str | None:
    """The bucket as people name it: «март 2027», «2027-W11», «I кв. 2027» (English in English)."""
    if day is None:
        return None
    russian = str(get_locale()) == "ru"
    if bucket == "day":
        return day.strftime("%d.%m.%Y")
    if bucket == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if bucket == "month":
        return format_date(day, "LLLL yyyy")
    if bucket == "quarter":
        quarter = (day.month - 1) // 3
        return f"{QUARTERS[quarter]} кв. {day.year}" if russian else f"Q{quarter + 1} {day.year}"
    return str(day.year)


def _quoted(text: str) -> Any:
    """A whitelisted word (a bucket, a zone's name) inlined as an SQL string: PostgreSQL must see the very same
    expression in SELECT, GROUP BY and ORDER BY, which two bound parameters would not be."""
    return literal_column("'" + text.replace("'", "''") + "'")


def _sqlite_offset(column: Any, tz: ZoneInfo, moments: Span) -> Any:
    """SQLite's date modifier shifting a stored UTC moment to the zone's wall clock, e.g. '+180 minutes'."""
    changes = offset_changes(tz, *moments)
    if len(changes) == 1:
        return _modifier(changes[0][1])
    whens = [(column < start, _modifier(minutes))
             for (_, minutes), (start, _) in zip(changes, changes[1:], strict=False)]
    return case(*whens, else_=_modifier(changes[-1][1]))


def _modifier(minutes: int) -> str:
    return f"{minutes:+d} minutes"


def offset_changes(tz: ZoneInfo, first: datetime | None, last: datetime | None) -> list[tuple[datetime, int]]:
    """The zone's UTC offset (in minutes) from `first` on, and each moment up to `last` it changes at."""
    start = first or datetime.now(timezone.utc)
    end = last or start
    changes = [(start, _minutes(tz, start))]
    moment = start
    while moment < end:
        step = min(moment + STEP, end)
        if _minutes(tz, step) != changes[-1][1]:
            changes.append(_change_between(tz, moment, step))
        moment = step
    return changes


def _change_between(tz: ZoneInfo, before: datetime, after: datetime) -> tuple[datetime, int]:
    """The first whole second the offset differs from the one at `before`."""
    offset = _minutes(tz, before)
    low, high = int(before.timestamp()), int(after.timestamp()) + 1
    while high - low > 1:
        middle = (low + high) // 2
        if _minutes(tz, _moment(middle)) == offset:
            low = middle
        else:
            high = middle
    return _moment(high), _minutes(tz, _moment(high))


def _moment(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)


def _minutes(tz: ZoneInfo, moment: datetime) -> int:
    offset = moment.astimezone(tz).utcoffset()
    return int(offset.total_seconds() // 60) if offset else 0
