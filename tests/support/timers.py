"""Timers in tests: move the app's clock past a moment, then one scheduler pass — no sleeping."""
from __future__ import annotations

from datetime import datetime, timedelta

from app.clock import clock


def wake_at(app, created: datetime, **after: float) -> int:
    """Move the clock to `after` (hours=, minutes=, …) past `created`, wake the due timers once; how many woke."""
    from app.usecases.timers import wake_timers

    moment = created + timedelta(**after)
    if moment > clock.now():
        clock.set(moment)
    with app.app_context():
        return wake_timers()


def sla_order(make_app):
    """An app whose SLA runs round the clock (hours are real hours: the 4-hour new-order SLA warns at 3 h, is
    due at 4 h and doubly late at 8 h) and one new order in it: (app, api, number, open task, when it was created)."""
    from app.extensions import db
    from app.models import HumanTask
    from tests.support.api import Api

    app = make_app(SLA_CALENDAR="continuous")
    api = Api(app, app.test_client())
    number = api.create_order()
    task = api.open_task(number)
    with app.app_context():
        created = db.session.get(HumanTask, task["id"]).created_at
    return app, api, number, task, created
