"""What time it is for the app: timers, SLA deadlines, the scheduler, leases and the calendar ask here.

Production reads the system clock. Tests move it instead of sleeping (`clock.advance(hours=5)`,
`clock.set(moment)`): the offset holds for the whole process, so the engine's timers, the SLA
deadlines, the scheduler and the rows' timestamps all see the same moved time, and it keeps flowing.
Worker processes started by a test keep the real time.
"""
from __future__ import annotations

import os
from datetime import date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo


class Clock:
    """The system clock plus an offset that only tests change."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self, tz: tzinfo | None = timezone.utc) -> datetime:
        return datetime.now(tz) + self.offset

    def advance(self, **delta: float) -> datetime:
        """Move time forward (`days=`, `hours=`, `minutes=`, `seconds=`); the new now."""
        self.offset += timedelta(**delta)
        return self.now()

    def set(self, moment: datetime) -> None:
        """Make it `moment` now (an aware datetime); time goes on from there."""
        self.offset = moment - datetime.now(timezone.utc)

    def reset(self) -> None:
        self.offset = timedelta(0)


clock = Clock()


def now(tz: tzinfo | None = timezone.utc) -> datetime:
    """The current moment (UTC unless `tz` says otherwise)."""
    return clock.now(tz)


def today(tz: tzinfo | None = None) -> date:
    """Today in the company's time zone (TIMEZONE): statements, documents and periods count its days.

    Outside an app (a test building form input, a script) the zone is the one TIMEZONE defaults to.
    """
    if tz is None:
        from flask import has_app_context

        from app.services.calendar import company_tz

        tz = company_tz() if has_app_context() else ZoneInfo(os.environ.get("TIMEZONE", "Europe/Moscow"))
    return clock.now(tz).date()
