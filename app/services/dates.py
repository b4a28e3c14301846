"""Dates and moments as they arrive — ISO text from forms, the API, 1C and process data — and the browser's
local date-time fields.

Like `money.py`: `parse_*` is strict (ValueError for the field's message), `to_*` is lenient (None when the
value is blank or not a date). A moment without an offset is UTC, as the order row reads it; what a person
types into a datetime-local field is in the company's time zone.
"""
from __future__ import annotations

from datetime import date, datetime, timezone, tzinfo
from typing import Any

LOCAL_INPUT = "%Y-%m-%dT%H:%M"  # the value of <input type="datetime-local">


def parse_datetime(value: str) -> datetime:
    """ISO date-time text («…Z» too) as an aware datetime; one without an offset is UTC."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def to_datetime(value: Any) -> datetime | None:
    """A received date-time (text or datetime) as an aware datetime; None when blank or not one."""
    if not value:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    try:
        return parse_datetime(str(value))
    except ValueError:
        return None


def parse_date(value: str) -> date:
    """An ISO date («2026-12-01»), exactly; ValueError otherwise."""
    return date.fromisoformat(value)


def to_date(value: Any) -> date | None:
    """The day a received value names (a date, a datetime, or text starting «YYYY-MM-DD»); None otherwise."""
    if not value:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def to_local_input(value: str, tz: tzinfo) -> str:
    """A stored ISO date-time → the browser's datetime-local value in `tz`; text that is not one is shown as typed."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value  # what the user typed, kept for correction
    if moment.tzinfo is None:
        return moment.strftime(LOCAL_INPUT)
    return moment.astimezone(tz).strftime(LOCAL_INPUT)


def from_local_input(raw: str, tz: tzinfo) -> str:
    """The browser's datetime-local value (in `tz`) → ISO in UTC; anything unparsable is returned as typed."""
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return raw
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(timezone.utc).isoformat(timespec="minutes")
