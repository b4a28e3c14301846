"""Waiting for a timer in tests: sleep until a moment after a task was created, then one scheduler pass."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone


def wake_at(app, created: datetime, seconds: float) -> int:
    """Sleep until `seconds` after `created`, then wake the due timers once; how many instances woke."""
    from workers.scheduler import wake_timers

    delay = (created + timedelta(seconds=seconds) - datetime.now(timezone.utc)).total_seconds()
    if delay > 0:
        time.sleep(delay)
    with app.app_context():
        return wake_timers()
