"""The business calendar SLA deadlines are counted on: working hours on working days.

Working days are the configured weekdays minus the country's public holidays (the `holidays`
package) and the company's extra days off, plus extra working days (Russia moves days off and
works some Saturdays). Times are reckoned in the company's time zone and returned in UTC.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import holidays as holidays_lib

from app import clock

if TYPE_CHECKING:
    from app.services.daily_stats import WorkingHours

MAX_DAYS = 3 * 366  # an SLA longer than this is a typo, not a deadline


def _dates(text: str) -> frozenset[date]:
    return frozenset(date.fromisoformat(part.strip()) for part in (text or "").split(",") if part.strip())


@dataclass
class BusinessCalendar:
    tz: ZoneInfo
    start: time = time(9)
    end: time = time(18)
    weekdays: frozenset[int] = frozenset(range(5))
    country: str | None = "RU"
    days_off: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    _public: holidays_lib.HolidayBase | None = field(default=None, repr=False)
    hours_table: WorkingHours | None = field(default=None, repr=False, compare=False)  # `WorkingHours.shared`'s

    @classmethod
    def from_config(cls, config) -> "BusinessCalendar":
        start, end = (time.fromisoformat(part.strip()) for part in config["WORK_HOURS"].split("-"))
        return cls(tz=ZoneInfo(config["TIMEZONE"]), start=start, end=end,
                   weekdays=frozenset(int(d) for d in config["WORK_DAYS"].split(",") if d.strip()),
                   country=config.get("HOLIDAYS_COUNTRY") or None,
                   days_off=_dates(config.get("EXTRA_HOLIDAYS", "")),
                   workdays=_dates(config.get("EXTRA_WORKDAYS", "")))

    def holiday_name(self, day: date) -> str | None:
        if self.country is None:
            return None
        if self._public is None:
            self._public = holidays_lib.country_holidays(self.country)
        return self._public.get(day)

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        if day in self.days_off or day.weekday() not in self.weekdays:
            return False
        return self.holiday_name(day) is None

    def is_working_time(self, moment: datetime, hours: float = 0) -> bool:
        """Whether `moment`, and the `hours` after it, fall within one working day's working hours."""
        local = moment.astimezone(self.tz) if moment.tzinfo else moment.replace(tzinfo=timezone.utc).astimezone(self.tz)
        if not self.is_working_day(local.date()):
            return False
        opens = datetime.combine(local.date(), self.start, self.tz)
        closes = datetime.combine(local.date(), self.end, self.tz)
        return opens <= local and local + timedelta(hours=float(hours)) <= closes

    def add(self, moment: datetime, hours: float) -> datetime:
        """The moment `hours` working hours after `moment` (which may itself fall out of hours)."""
        remaining = timedelta(hours=float(hours))
        local = moment.astimezone(self.tz)
        day = local.date()
        for _ in range(MAX_DAYS):
            if self.is_working_day(day):
                opens = datetime.combine(day, self.start, self.tz)
                closes = datetime.combine(day, self.end, self.tz)
                begin = max(local, opens)
                if begin < closes:
                    if begin + remaining <= closes:
                        return (begin + remaining).astimezone(timezone.utc)
                    remaining -= closes - begin
            day += timedelta(days=1)
            local = datetime.combine(day, time(0), self.tz)
        raise ValueError(f"no working time within {MAX_DAYS} days — check WORK_DAYS and WORK_HOURS")

    def working_hours_between(self, a: datetime, b: datetime) -> float:
        """Working hours from a to b (negative when b is earlier), for 'how late' figures."""
        if b < a:
            return -self.working_hours_between(b, a)
        total = timedelta()
        day, last = a.astimezone(self.tz).date(), b.astimezone(self.tz).date()
        while day <= last:
            if self.is_working_day(day):
                opens = max(datetime.combine(day, self.start, self.tz), a)
                closes = min(datetime.combine(day, self.end, self.tz), b)
                if closes > opens:
                    total += closes - opens
            day += timedelta(days=1)
        return total.total_seconds() / 3600


def sla_deadline(config, hours: float, fraction: float = 1.0, now: datetime | None = None) -> datetime:
    """When `fraction` of an SLA of `hours` working hours, started now, is used up.

    SLA_CALENDAR=continuous with a short SLA_HOUR_SECONDS is for demos and tests: the clock then
    runs straight through nights and weekends.
    """
    now = now or clock.now()
    if config.get("SLA_CALENDAR", "business") == "continuous":
        return now + timedelta(seconds=float(hours) * fraction * float(config["SLA_HOUR_SECONDS"]))
    calendar = config.get("_calendar")
    if calendar is None:
        calendar = BusinessCalendar.from_config(config)
    return calendar.add(now, float(hours) * fraction)


def company_tz() -> ZoneInfo:
    """The company's clock (TIMEZONE): documents, statements and periods are in its days."""
    from flask import current_app

    return ZoneInfo(current_app.config.get("TIMEZONE") or "Europe/Moscow")


def business_calendar() -> BusinessCalendar:
    """The app's business calendar (WORK_HOURS, WORK_DAYS, holidays), built once per app."""
    from flask import current_app

    calendar = current_app.extensions.get("bespoke.calendar")
    if calendar is None:
        calendar = current_app.extensions["bespoke.calendar"] = BusinessCalendar.from_config(current_app.config)
    return calendar


def working_time(moment: datetime, hours: float = 0) -> bool:
    """Whether a visit at `moment` lasting `hours` is on a working day within working hours (form rules use it)."""
    return business_calendar().is_working_time(moment, hours)
