"""Alembic migrations match the models; a real rq worker process runs the jobs."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import create_engine, select

from app.extensions import db
from app.models import Notification, OutboxJob
from app.models.search import is_search_table
from tests.support.api import Api
from tests.support.workers import run_burst

ROOT = Path(__file__).resolve().parent.parent


def searched_apart(name, type_, _parents) -> bool:
    """The FTS tables are no model's (app/models/search.py builds them): left out of the comparison."""
    return not (type_ == "table" and is_search_table(name))


@pytest.mark.sqlite_only
def test_migrations_build_the_schema_the_models_describe(tmp_path):
    from app import create_app

    url = f"sqlite:///{tmp_path / 'migrated.sqlite3'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        engine = create_engine(url)
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": False, "include_name": searched_apart})
            diff = compare_metadata(context, db.metadata)
        engine.dispose()
        db.engine.dispose()
    assert diff == []


@pytest.mark.parametrize("mode", [(), ("--fork",)], ids=["warm", "fork"])
def test_a_real_rq_worker_runs_the_jobs(make_app, redis_server, tmp_path, mode):
    queue = f"bespoke-test-{os.getpid()}-{time.monotonic_ns()}"
    app = make_app(JOBS_INLINE=False, RQ_QUEUE=queue)
    api = Api(app, app.test_client())
    number = api.create_order()
    with app.app_context():
        job = db.session.execute(select(OutboxJob)).scalar_one()
        assert job.operator == "notify" and job.status == "queued"  # pushed to Redis after the commit
    # The manager's task is open before any worker ran: the notification goes in parallel.
    assert api.order(number)["stage"] == "Новый заказ" and api.open_task(number)["bpmn_id"] == "new_order"
    worker = run_burst(app, *mode)  # `flask worker --burst`, its own process
    assert worker.returncode == 0, worker.stderr[-2000:]
    with app.app_context():
        jobs = db.session.execute(select(OutboxJob.operator, OutboxJob.status).order_by(OutboxJob.id)).all()
        # The event's job wrote one delivery job per channel; the same worker ran them all.
        assert jobs == [("notify", "done"), ("email.send", "done"), ("sms.send", "done")]
        sent = db.session.execute(select(Notification.event, Notification.channel, Notification.recipient,
                                         Notification.status).order_by(Notification.id)).all()
        assert sent == [("order_received", "email", "maria@example.com", "sent"),
                        ("order_received", "sms", "+79161234567", "sent")]
    assert api.order(number)["stage"] == "Новый заказ"
