"""While an SMS gateway takes its time to answer, the worker sending through it holds no database transaction open:
on PostgreSQL no connection sits «idle in transaction» (holding back vacuum and a pool slot), on SQLite no read
snapshot keeps the write-ahead log from being checkpointed."""
from __future__ import annotations

import sqlite3
import threading
import time

from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from app.extensions import db
from app.models import Notification, OutboxJob
from app.usecases.jobs import execute_job
from tests.support.api import Api
from tests.support.fake_sms import SEND_PATHS, FakeSmsGateway


def open_transactions(app) -> int:
    """Transactions other connections hold open right now (a checkpoint's «busy» on SQLite)."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() == "sqlite":
        probe = sqlite3.connect(url.database, timeout=0)  # no waiting: a reader in the way answers busy at once
        try:
            return probe.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        finally:
            probe.close()
    with app.app_context():
        count = db.session.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()")).scalar_one()
        db.session.remove()
        return count


def test_the_worker_holds_no_transaction_while_the_gateway_answers(make_app):
    with FakeSmsGateway() as gateway:
        app = make_app(JOBS_INLINE=False, SMS_TIMEOUT=30, **gateway.config("smsc"))
        api = Api(app, app.test_client())
        api.create_order()
        with app.app_context():  # the worker's other jobs first: the order's notifications are written
            while ids := db.session.execute(select(OutboxJob.id).where(
                    OutboxJob.status == "queued", OutboxJob.operator != "sms.send")).scalars().all():
                for job_id in ids:
                    execute_job(job_id)
            sms_job = db.session.execute(select(OutboxJob.id).where(
                OutboxJob.operator == "sms.send", OutboxJob.status == "queued").limit(1)).scalar_one()
            db.session.remove()
        gateway.delay = 2.0  # the gateway takes the message and holds its answer
        outcome: list[str] = []

        def worker() -> None:
            with app.app_context():
                outcome.append(execute_job(sms_job))
                db.session.remove()

        thread = threading.Thread(target=worker)
        thread.start()
        deadline = time.monotonic() + 20
        while not any(path in SEND_PATHS for path, _ in gateway.calls) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert any(path in SEND_PATHS for path, _ in gateway.calls), "the worker never reached the gateway"
        held = open_transactions(app)  # the gateway holds its answer now
        thread.join(30)
        assert outcome == ["done"]
        assert held == 0
        with app.app_context():
            sent = db.session.execute(select(Notification).where(Notification.channel == "sms",
                                                                 Notification.status == "sent")).scalars().all()
            assert sent and sent[0].provider_ref  # sent once, the gateway's id kept
