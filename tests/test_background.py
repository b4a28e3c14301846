"""The background side under faults: Redis away, workers dying, timers and the relay."""
from __future__ import annotations

import os
import signal
import threading
import time
from datetime import datetime, timezone

from sqlalchemy import func, select

from app.extensions import db
from app.models import Notification, OutboxJob
from app.usecases.jobs import execute_job
from app.usecases.uow import wake_scheduler
from tests.support.api import Api
from tests.support.fake_sms import FakeSmsGateway
from tests.support.services import RedisServer
from tests.support.workers import run_burst, start_worker
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


def test_a_worker_killed_in_the_middle_of_sending_an_sms_leaves_exactly_one_sms(make_app, redis_server, clock):
    with FakeSmsGateway() as gateway:
        gateway.delay = 30  # the gateway takes the message, then keeps the worker waiting for its answer
        app = make_app(JOBS_INLINE=False, RQ_QUEUE=_queue_name(), JOB_LEASE_SECONDS=2, SMS_TIMEOUT=60,
                       **gateway.config("smsc"))
        number = Api(app, app.test_client()).create_order()
        worker = start_worker(app)
        try:
            deadline = time.monotonic() + 60
            while not gateway.accepted and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(gateway.accepted) == 1
            worker.send_signal(signal.SIGKILL)  # mid-job: the SMS left, our record of it did not
            worker.wait(10)
        finally:
            if worker.poll() is None:
                worker.kill()
        gateway.delay = 0
        with app.app_context():
            note = db.session.execute(select(Notification).where(Notification.channel == "sms")).scalar_one()
            assert note.status == "sending"
            job = db.session.get(OutboxJob, note.delivery_job_id)
            assert job.status == "running"
        clock.advance(seconds=2.1)  # the dead worker's lease runs out
        with app.app_context():
            assert Scheduler().run_once()["relayed"] == 1
        rerun = run_burst(app)
        assert rerun.returncode == 0, rerun.stderr[-2000:]
        with app.app_context():
            note = db.session.get(Notification, note.id)
            job = db.session.get(OutboxJob, job.id)
            assert (note.status, job.status, job.attempts) == ("sent", "done", 2)
            assert note.provider_ref and note.recipient == "+79161234567"
        assert len(gateway.accepted) == 1  # asked again by our id: SMSC had it, nothing was sent twice
        assert gateway.accepted[0].text.startswith("Здравствуйте") and number in gateway.accepted[0].text


def test_notifications_never_hold_the_next_persons_task(make_app):
    # No worker runs at all: every stage's notification waits in the queue, yet each next task opens at once.
    app = make_app(JOBS_INLINE=False, RQ_QUEUE=_queue_name())
    api = Api(app, app.test_client())
    number = api.create_order()
    for stage in ("new_order", "plan_measurement", "measurement"):
        api.step(number, stage)
    assert api.open_task(number)["bpmn_id"] == "prepare_contract"
    with app.app_context():
        waiting = db.session.execute(select(OutboxJob.params).where(OutboxJob.operator == "notify",
                                                                    OutboxJob.status == "queued")
                                      .order_by(OutboxJob.id)).scalars().all()
        assert [p["event"] for p in waiting] == ["order_received", "visit_booked"]
        # History credits the person who moved the order, not a background job.
        stages = api.get(f"/orders/{number}/history").get_json()["items"]
    movers = [e["actor"] for e in stages if e["field"] == "stage"]
    assert movers and not any(str(actor).startswith("job:") for actor in movers), movers


def test_retries_follow_the_diagram_or_the_operator_and_back_off_exponentially(make_app):
    with FakeSmsGateway() as gateway:
        gateway.outage = 2  # the gateway answers 503 twice
        app = make_app(**gateway.config("smsc"))
        Api(app, app.test_client()).create_order()
        with app.app_context():
            notify = db.session.execute(select(OutboxJob).where(OutboxJob.operator == "notify")).scalar_one()
            sms = db.session.execute(select(OutboxJob).where(OutboxJob.operator == "sms.send")).scalar_one()
            # spiffworkflow:retry retries="5" backoff_base="2" in the diagram; sms.send's own defaults otherwise.
            assert (notify.max_attempts, notify.backoff_base) == (6, 2)
            assert (sms.max_attempts, sms.backoff_base) == (5, 3)
            assert (sms.status, sms.attempts) == ("pending", 1)
            first_wait = (sms.run_after - sms.started_at).total_seconds()
            assert 2.5 < first_wait < 4  # 3 ** 1 seconds
            job_id = sms.id
            assert execute_job(job_id) == "failed"  # the second 503
            sms = db.session.get(OutboxJob, job_id)
            assert sms.attempts == 2 and 8 < (sms.run_after - sms.started_at).total_seconds() < 10  # 3 ** 2
            assert execute_job(job_id) == "done"
        assert len(gateway.accepted) == 1


def test_a_sleeping_scheduler_is_woken_by_a_nearer_timer_and_fires_it_on_time(make_app):
    app = make_app(SLA_CALENDAR="continuous", SLA_HOUR_SECONDS=0.5, RQ_QUEUE=_queue_name())
    fired: list[tuple[datetime, datetime]] = []
    stop = threading.Event()

    def serve():
        with app.app_context():
            # Nothing is due yet: left alone it would sleep the full 30 s.
            Scheduler(max_sleep=30, on_wake=lambda _id, due, woken: fired.append((due, woken))).serve(stop.is_set)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    time.sleep(0.5)  # asleep by now
    Api(app, app.test_client()).create_order()  # its 75 % timer is due in 1.5 s
    deadline = time.monotonic() + 10
    while not fired and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    with app.app_context():
        wake_scheduler(datetime.now(timezone.utc))
    thread.join(10)
    assert fired, "the timer did not fire within 10 s"
    due, woken = fired[0]
    assert (woken - due).total_seconds() < 2.0  # not the 30 s it would have slept: woken, then on time


def test_an_import_waits_in_the_bulk_queue_behind_a_customers_notification(make_app):
    """An import's jobs go to the bulk queue: a worker takes them only when nothing else waits, so an order
    placed after a 10,000-row upload still gets its SMS at once."""
    from tests.test_imports import GOOD, upload, workbook

    app = make_app(JOBS_INLINE=False, RQ_QUEUE=_queue_name())
    api = Api(app, app.test_client())
    assert upload(api, workbook(GOOD), dry_run="false").status_code == 202  # its job is pushed first
    number = api.create_order()
    worker = run_burst(app)
    assert worker.returncode == 0, worker.stderr[-2000:]
    with app.app_context():
        started = dict(db.session.execute(select(OutboxJob.operator, func.min(OutboxJob.started_at))
                                          .group_by(OutboxJob.operator)).all())
        assert set(started) >= {"notify", "imports.orders", "imports.start"}
        assert started["notify"] < started["imports.orders"] < started["imports.start"]
        assert db.session.execute(select(func.count()).where(OutboxJob.status != "done")).scalar() == 0
    assert api.get(f"/orders/{number}", as_="sales").status_code == 200
    progress = api.get("/imports/1", as_="sales").get_json()
    assert (progress["created"], progress["started"]) == (3, 3)
