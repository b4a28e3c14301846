"""The outbox relay: hands rq the jobs that are due — waiting out Redis, retrying after backoff, lost on
the way, or abandoned by a worker that died (its lease ran out)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from rq.job import Job
from sqlalchemy import and_, func, or_, select, update

from app.extensions import begin_write, db
from app.models import OutboxJob
from app.services.outbox import enqueue, rq_job_id
from workers.queue import get_queue

LOST_AFTER = timedelta(minutes=5)


def relay_pending(now: datetime | None = None, limit: int = 500) -> int:
    """Push due pending jobs, queued ones whose push never reached Redis, and expired running ones."""
    now = now or datetime.now(timezone.utc)
    rows = db.session.execute(select(OutboxJob.id, OutboxJob.status, OutboxJob.attempts).where(or_(
        and_(OutboxJob.status == "pending", OutboxJob.run_after <= now),
        and_(OutboxJob.status == "running", OutboxJob.lease_until <= now),
        and_(OutboxJob.status == "queued", OutboxJob.run_after <= now - LOST_AFTER),
    )).order_by(OutboxJob.id).limit(limit)).all()
    db.session.rollback()
    if not rows:
        return 0
    connection = get_queue().connection
    due = [(job_id, attempts) for job_id, status, attempts in rows
           if status != "queued" or not Job.exists(rq_job_id(job_id, attempts), connection=connection)]
    if not due:
        return 0
    begin_write()
    # Marked queued before the push: a worker may pick the job up the moment it lands in Redis.
    db.session.execute(update(OutboxJob).where(OutboxJob.id.in_([job_id for job_id, _ in due]),
                                               OutboxJob.status.in_(("pending", "running", "queued")))
                       .values(status="queued", run_after=now, lease_until=None))
    db.session.commit()
    return enqueue(due)


def next_due() -> datetime | None:
    """The earliest moment the relay has something to do (an indexed MIN per kind of wait)."""
    candidates = db.session.execute(select(
        select(func.min(OutboxJob.run_after)).where(OutboxJob.status == "pending").scalar_subquery(),
        select(func.min(OutboxJob.lease_until)).where(OutboxJob.status == "running").scalar_subquery(),
    )).one()
    db.session.rollback()
    found = [c for c in candidates if c is not None]
    return min(found) if found else None
