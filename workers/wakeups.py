"""The rq entry point of a timer's wake-up with TIMER_WAKE=workers: the scheduler leased the instance and queued
`workers.wakeups.wake`; the wake-up itself is a use case (`app.usecases.timers.wake_leased`)."""
from __future__ import annotations

from datetime import datetime

from app.usecases.timers import wake_leased
from workers.jobs import in_app


def wake(instance_id: int, until: str) -> bool:
    """rq job: wake the instance if its lease (until `until`) is still the one the scheduler gave."""
    return in_app(wake_leased, instance_id, datetime.fromisoformat(until))
