"""A running job's lease, renewed while its worker lives: a worker killed mid-job (kill -9, a lost host)
stops renewing, and the relay hands the job out again within JOB_HEARTBEAT_SECONDS instead of waiting
out the job's whole time limit."""
from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Iterator

from flask import current_app
from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError

from app import clock
from app.extensions import WRITE_OPTION, db
from app.models import OutboxJob

log = logging.getLogger(__name__)


def heartbeat_seconds() -> float:
    """How long one renewal of a lease lasts; it is renewed every third of that."""
    return float(current_app.config.get("JOB_HEARTBEAT_SECONDS") or 10.0)


def first_lease(now: datetime, limit_seconds: float) -> datetime:
    """The lease a claim takes: one heartbeat, or the job's whole time limit when that is shorter."""
    return now + timedelta(seconds=min(heartbeat_seconds(), limit_seconds))


@contextmanager
def lease_kept(job_id: int, attempt: int, until: datetime) -> Iterator[None]:
    """Renew the lease of attempt `attempt` of job `job_id` while the block runs, never past `until`."""
    beat = heartbeat_seconds()
    engine = db.engine
    done = threading.Event()

    def renew() -> None:
        while not done.wait(beat / 3):
            lease = min(clock.now() + timedelta(seconds=beat), until)
            try:
                with engine.connect() as connection:
                    connection.execution_options(**{WRITE_OPTION: True})
                    with connection.begin():
                        connection.execute(update(OutboxJob).where(
                            OutboxJob.id == job_id, OutboxJob.status == "running", OutboxJob.attempts == attempt)
                            .values(lease_until=lease))
            except SQLAlchemyError as exc:  # the database away for a moment: the next beat tries again
                log.warning("could not renew the lease of job %s: %s", job_id, exc)
            if lease >= until:
                return  # the job's time limit: past it the job is presumed stuck and handed out again

    keeper = threading.Thread(target=renew, name=f"lease-{job_id}", daemon=True)
    keeper.start()
    try:
        yield
    finally:
        done.set()
        keeper.join()
