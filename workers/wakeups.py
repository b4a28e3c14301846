"""The rq entry point of a timer's wake-up with TIMER_WAKE=workers: the scheduler leased the instance and queued
`workers.wakeups.wake`; the wake-up itself is a use case (`app.usecases.timers.wake_leased`)."""
from __future__ import annotations

from datetime import datetime

from flask import Flask, has_app_context

from app.usecases.timers import wake_leased

_app: Flask | None = None


def wake(instance_id: int, until: str) -> bool:
    """rq job: wake the instance if its lease (until `until`) is still the one the scheduler gave."""
    if has_app_context():
        return wake_leased(instance_id, datetime.fromisoformat(until))
    global _app
    if _app is None:
        from app import create_app

        _app = create_app()
    with _app.app_context():
        return wake_leased(instance_id, datetime.fromisoformat(until))
