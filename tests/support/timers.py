"""Waiting for a timer in tests: sleep until a moment after a task was created, then one scheduler pass."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone


def wake_at(app, created: datetime, seconds: float) -> int:
    """Sleep until `seconds` after `created`, then wake the due timers once; how many instances woke."""
    from app.usecases.timers import wake_timers

    delay = (created + timedelta(seconds=seconds) - datetime.now(timezone.utc)).total_seconds()
    if delay > 0:
        time.sleep(delay)
    with app.app_context():
        return wake_timers()


def fast_sla_order(make_app):
    """An app whose SLA hour lasts 0.5 s (the 4-hour new-order SLA warns at 1.5 s, is due at 2 s and doubly
    late at 4 s) and one new order in it: (app, api, order number, open task, when the task was created)."""
    from app.extensions import db
    from app.models import HumanTask
    from tests.support.api import Api

    app = make_app(SLA_CALENDAR="continuous", SLA_HOUR_SECONDS=0.5)
    api = Api(app, app.test_client())
    number = api.create_order()
    task = api.open_task(number)
    with app.app_context():
        created = db.session.get(HumanTask, task["id"]).created_at
    return app, api, number, task, created
