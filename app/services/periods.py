"""Periods asked for in query strings (?from=&to=), in the company's days: statements, lists, exports."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

from app import clock
from app.services.calendar import company_tz


def local_today() -> date:
    """Today in the company's days, on the app's clock (tests move it)."""
    return clock.today(company_tz())


def this_month() -> tuple[date, date]:
    today = local_today()
    first = today.replace(day=1)
    return first, (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def this_week(today: date | None = None) -> tuple[date, date]:
    """Monday to Sunday of the week holding `today` (the company's today by default)."""
    today = today or local_today()
    monday = today - timedelta(days=today.weekday())
    return monday, monday + timedelta(days=6)


def start_of(day: date) -> datetime:
    """The first moment of the company's day (aware), to compare with stored times."""
    return datetime.combine(day, time.min, company_tz())


def parse_period(raw_from: str | None, raw_to: str | None, default: tuple[date | None, date | None]
                 ) -> tuple[date | None, date | None]:
    """Dates from the query string (YYYY-MM-DD): absent → the default, empty → open-ended.

    Raises ValueError naming the bad parameter ("from" or "to"), or "period" when it runs backwards.
    """
    bounds = []
    for name, raw, fallback in (("from", raw_from, default[0]), ("to", raw_to, default[1])):
        if raw is None:
            bounds.append(fallback)
        elif not raw.strip():
            bounds.append(None)
        else:
            try:
                bounds.append(date.fromisoformat(raw.strip()))
            except ValueError:
                raise ValueError(name) from None
    if bounds[0] and bounds[1] and bounds[0] > bounds[1]:
        raise ValueError("period")
    return bounds[0], bounds[1]
