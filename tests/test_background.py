"""The background side under faults: Redis away, workers dying, timers and the relay."""
from __future__ import annotations

import os
import time

from sqlalchemy import func, select

from app.extensions import db
from app.models import Notification, OutboxJob
from tests.support.api import Api
from tests.support.services import RedisServer
from tests.support.workers import run_burst
from workers.scheduler import Scheduler


def _queue_name() -> str:
    return f"bespoke-test-{os.getpid()}-{time.monotonic_ns()}"


def _statuses(app) -> dict[str, int]:
    with app.app_context():
        rows = db.session.execute(select(OutboxJob.status, func.count()).group_by(OutboxJob.status)).all()
        return dict(rows)


def test_with_redis_stopped_the_web_answers_and_jobs_flow_once_it_returns(make_app):
    redis = RedisServer()
    try:
        app = make_app(JOBS_INLINE=False, REDIS_URL=redis.url, RQ_QUEUE=_queue_name())
        api = Api(app, app.test_client())
        redis.pause()
        numbers = [api.create_order() for _ in range(3)]  # each answers 201 (asserted by the helper)
        api.step(numbers[0], "new_order")  # people keep working: the next task opens at once
        assert api.open_task(numbers[0])["bpmn_id"] == "plan_measurement"
        assert _statuses(app) == {"pending": 3}  # one "order received" event per order waits in the outbox
        with app.app_context():
            assert Scheduler().run_once()["relayed"] == 0  # the relay waits too, without failing

        redis.resume()
        with app.app_context():
            assert Scheduler().run_once()["relayed"] == 3
        worker = run_burst(app)
        assert worker.returncode == 0, worker.stderr[-2000:]
        # Each event fanned out to e-mail and SMS for its customer; all of it went out after Redis came back.
        assert _statuses(app) == {"done": 9}
        with app.app_context():
            sent = db.session.execute(select(Notification.channel, func.count()).where(
                Notification.event == "order_received", Notification.status == "sent")
                .group_by(Notification.channel)).all()
        assert dict(sent) == {"email": 3, "sms": 3}
    finally:
        redis.stop()
