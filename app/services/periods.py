"""Periods asked for in query strings (?from=&to=), in the company's days: statements, lists, exports."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Mapping

from flask_babel import gettext as _

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


YEARS = (1900, 2999)  # the years a period may name


def parse_day(raw: str) -> date:
    """A day typed as YYYY-MM-DD within YEARS (9999-12-31 has no next day to count up to, year 1 no UTC);
    ValueError otherwise."""
    day = date.fromisoformat(raw.strip())
    if not YEARS[0] <= day.year <= YEARS[1]:
        raise ValueError(raw)
    return day


def parse_period(raw_from: str | None, raw_to: str | None, default: tuple[date | None, date | None]
                 ) -> tuple[date | None, date | None]:
    """Dates from the query string (YYYY-MM-DD): absent → the default, empty → open-ended.

    Raises ValueError naming the bad parameter ("from" or "to": not a date, or outside YEARS), or "period" when it
    runs backwards.
    """
    bounds = []
    for name, raw, fallback in (("from", raw_from, default[0]), ("to", raw_to, default[1])):
        if raw is None:
            bounds.append(fallback)
        elif not raw.strip():
            bounds.append(None)
        else:
            try:
                bounds.append(parse_day(raw))
            except ValueError:
                raise ValueError(name) from None
    if bounds[0] and bounds[1] and bounds[0] > bounds[1]:
        raise ValueError("period")
    return bounds[0], bounds[1]


def period_from(args: Mapping[str, str], default: tuple[date | None, date | None], errors: dict[str, str]
                ) -> tuple[date | None, date | None]:
    """`parse_period` for a list's filters: an unreadable period is the default, and `errors` gets a message
    for the field to show beside it ("from", "to" or "period")."""
    try:
        return parse_period(args.get("from"), args.get("to"), default)
    except ValueError as exc:
        problem = str(exc)
        errors[problem] = (_("Период: начало позже конца") if problem == "period" else
                           _("Дата «%(value)s» не распознана: укажите её в виде ГГГГ-ММ-ДД",
                             value=args.get(problem, "")[:40]))
        return default


def within(column, first: date | None, last: date | None) -> list:
    """Conditions keeping a stored moment within the company's days first..last (either end open)."""
    kept = []
    if first:
        kept.append(column >= start_of(first))
    if last:
        kept.append(column < start_of(last + timedelta(days=1)))
    return kept
