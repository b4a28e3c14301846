"""TIMER_WAKE=workers: the scheduler leases due instances and the workers wake them — once, even when a wake-up
job runs twice, again after a worker died in the middle of one, and the oldest due first."""
from __future__ import annotations

import os
import signal
import time
from collections import Counter
from datetime import datetime, timedelta

from rq.registry import StartedJobRegistry
from sqlalchemy import select, text, update

from app import clock
from app.extensions import db
from app.models import Escalation, OutboxJob, ProcessInstance
from app.queue import timer_queue
from app.usecases.timers import wake_leased
from tests.support.api import Api
from tests.support.workers import run_burst, start_worker
from workers.scheduler import Scheduler


def _queue_name() -> str:
    return f"bespoke-leases-{os.getpid()}-{time.monotonic_ns()}"


def _escalations(app) -> Counter:
    with app.app_context():
        levels = Counter(db.session.execute(select(Escalation.level)).scalars())
        db.session.rollback()
        return levels


def _instance(app) -> ProcessInstance:
    with app.app_context():
        instance = db.session.execute(select(ProcessInstance).where(ProcessInstance.order_id.is_not(None))).scalar_one()
        db.session.expunge(instance)
        return instance


def _handed_out(app) -> list[tuple[int, datetime]]:
    """The wake-up jobs waiting in the queue: (instance id, end of its lease)."""
    with app.app_context():
        return [(job.args[0], datetime.fromisoformat(job.args[1])) for job in timer_queue().jobs
                if job.func_name == "workers.wakeups.wake"]


def test_a_due_timer_handed_to_the_workers_fires_once_even_if_its_wake_up_runs_twice(make_app, redis_server, clock):
    app = make_app(JOBS_INLINE=False, RQ_QUEUE=_queue_name(), SLA_CALENDAR="continuous", TIMER_WAKE="workers")
    Api(app, app.test_client()).create_order()
    due = _instance(app).next_timer_at  # the 75 % warning, 3 h on
    clock.set(due + timedelta(minutes=1))
    with app.app_context():
        assert Scheduler().run_once()["woken"] == 1  # handed out: leased and queued, not woken by the scheduler
        assert Scheduler().run_once()["woken"] == 0  # leased: not due again while its worker has it
    [(instance_id, until)] = _handed_out(app)
    assert _instance(app).next_timer_at == until > clock.now()
    assert _escalations(app) == Counter()

    with app.app_context():
        assert wake_leased(instance_id, until) is True  # one worker wakes it …
        assert wake_leased(instance_id, until) is False  # … the same wake-up run again finds nothing to do
    worker = run_burst(app)  # the queued job, a third run, in a real worker; then the escalation job itself
    assert worker.returncode == 0, worker.stderr[-2000:]
    assert _escalations(app) == Counter({"warning": 1})
    with app.app_context():
        jobs = db.session.execute(select(OutboxJob.operator, OutboxJob.status)
                                  .where(OutboxJob.operator == "sla.escalate")).all()
        assert [tuple(j) for j in jobs] == [("sla.escalate", "done")]
    after = _instance(app).next_timer_at - due  # the next timer: the 100 % one, an hour after the 75 %
    assert timedelta(minutes=59) < after < timedelta(minutes=61)


def test_a_worker_killed_in_the_middle_of_a_wake_up_leaves_it_to_be_handed_out_again(make_app, redis_server):
    # Real time: the worker is another process. An SLA hour of 0.5 s warns 1.5 s after the order comes in.
    app = make_app(JOBS_INLINE=False, RQ_QUEUE=_queue_name(), SLA_CALENDAR="continuous", SLA_HOUR_SECONDS=0.5,
                   TIMER_WAKE="workers", TIMER_LEASE_SECONDS=3)
    Api(app, app.test_client()).create_order()
    instance = _instance(app)
    time.sleep(max(0.0, (instance.next_timer_at - datetime.now(instance.next_timer_at.tzinfo)).total_seconds()) + 0.1)
    with app.app_context():
        assert Scheduler().run_once()["woken"] == 1
        queue = timer_queue()
    [(_, until)] = _handed_out(app)

    with app.app_context():
        holder = db.engine.connect()  # another writer holds the instance: the worker's wake-up stops mid-way
        holder.execute(text("UPDATE process_instances SET lock_version = lock_version WHERE id = :id"),
                       {"id": instance.id})
    worker = start_worker(app)
    try:
        deadline = time.monotonic() + 60
        with app.app_context():
            while StartedJobRegistry(queue=queue).count == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert StartedJobRegistry(queue=queue).count == 1  # the worker took the wake-up …
        time.sleep(0.5)
        worker.send_signal(signal.SIGKILL)  # … and died before it could commit
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
        holder.rollback()
        holder.close()
    assert _instance(app).next_timer_at == until and _escalations(app) == Counter()  # nothing of it stayed

    time.sleep(max(0.0, (until - datetime.now(until.tzinfo)).total_seconds()) + 0.1)
    with app.app_context():
        assert Scheduler().run_once()["woken"] == 1  # the lease ran out: handed out again
    rerun = run_burst(app)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    levels = _escalations(app)
    assert levels["warning"] == 1 and set(levels.values()) == {1}, levels  # each timer fired exactly once
    assert _instance(app).next_timer_at != until  # its next timer (or none: all three fired), not a lease


def test_wake_ups_wait_oldest_due_first_however_many_rounds_handed_them_out(make_app, redis_server, clock):
    # Pushed to the front of the jobs' queue, each newer round of due timers went ahead of the older ones still
    # waiting: in a burst the first timers due fired last (at 50 a second, ~30 s late).
    app = make_app(JOBS_INLINE=False, RQ_QUEUE=_queue_name(), SLA_CALENDAR="continuous", TIMER_WAKE="workers",
                   TIMER_LEASE_SECONDS=3600)  # the first round's lease still holds when the clock jumps to the second
    api = Api(app, app.test_client())
    for _ in range(3):
        api.create_order()
        clock.advance(minutes=10)  # each order's warning 10 minutes after the one before
    with app.app_context():
        dues = dict(db.session.execute(select(ProcessInstance.id, ProcessInstance.next_timer_at)
                                       .where(ProcessInstance.order_id.is_not(None))).all())
        db.session.rollback()
    first, *later = sorted(dues, key=dues.__getitem__)
    clock.set(dues[first] + timedelta(seconds=1))
    with app.app_context():
        assert Scheduler().run_once()["woken"] == 1  # the first round: the oldest alone
    clock.set(max(dues.values()) + timedelta(seconds=1))
    with app.app_context():
        assert Scheduler().run_once()["woken"] == 2  # the second round: the two after it
    assert [instance_id for instance_id, _ in _handed_out(app)] == [first, *later]  # what a worker takes first
    with app.app_context():
        for instance_id, until in _handed_out(app):
            assert wake_leased(instance_id, until) is True
        escalating = db.session.execute(select(OutboxJob.instance_id).where(OutboxJob.operator == "sla.escalate")
                                        .order_by(OutboxJob.id)).scalars().all()
        db.session.rollback()
    assert escalating == [first, *later]  # each warned once, in the order they were due


def test_re_predicting_the_orders_stops_for_a_timer_that_is_due(make_app):
    """The scheduler re-predicts the active orders a slice per round; a timer due meanwhile waits behind one chunk of
    the slice, not the whole of it (at 100,000 orders the slices were most of a due timer's lateness)."""
    app = make_app()
    api = Api(app, app.test_client())
    for _ in range(4):
        api.create_order()
    scheduler = Scheduler()
    with app.app_context():
        app.config["PREDICTION_BATCH"] = 1  # the refresh starts (figures recounted) with one order: it is under way
        started = scheduler.refresh_predictions(clock.now())
        assert started is not None and started["orders"] == 1 and scheduler.predicted_after is not None
        app.config["PREDICTION_BATCH"] = 200
        due = db.session.execute(select(ProcessInstance.id).order_by(ProcessInstance.id).limit(1)).scalar_one()
        db.session.execute(update(ProcessInstance).where(ProcessInstance.id == due)
                           .values(next_timer_at=clock.now() - timedelta(seconds=1)))
        db.session.commit()
        scheduler.prediction_chunk = 1
        cut = scheduler.refresh_predictions(clock.now())
        assert cut is not None and cut["orders"] == 1  # one chunk, then the due timer's turn
        assert scheduler.predicted_after is not None  # the refresh goes on next round
        db.session.execute(update(ProcessInstance).values(next_timer_at=None))
        db.session.commit()
        rest = 0
        while scheduler.predicted_after is not None:
            rest += scheduler.refresh_predictions(clock.now())["orders"]
        assert rest == 2  # all done, then swept


def test_on_sqlite_the_scheduler_gathers_the_query_planner_s_figures_at_start_and_daily(make_app):
    """Nothing else runs ANALYZE on SQLite, and without its figures the lists and analytics get poor plans at
    100,000 orders (the orders list 106 ms instead of 25). PostgreSQL's autovacuum keeps its own."""
    app = make_app()
    Api(app, app.test_client()).create_order()
    scheduler = Scheduler()
    with app.app_context():
        sqlite = db.engine.dialect.name == "sqlite"
        if sqlite:
            db.session.execute(text("DROP TABLE IF EXISTS sqlite_stat1"))
            db.session.commit()
        now = clock.now()
        assert scheduler.run_once(now)["analyzed"] is sqlite
        if sqlite:
            figures = db.session.execute(text("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'human_tasks'")).scalar()
            db.session.rollback()
            assert figures > 0
        assert scheduler.run_once(now + timedelta(hours=23))["analyzed"] is False
        assert scheduler.run_once(now + timedelta(hours=25))["analyzed"] is sqlite
