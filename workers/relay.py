"""The outbox relay: moves jobs that are due (waiting out Redis, retrying, or lost on the way) to rq."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from rq.job import Job
from sqlalchemy import and_, or_, select

from app.extensions import db
from app.models import OutboxJob
from app.services.outbox import enqueue
from workers.queue import get_queue

LOST_AFTER = timedelta(minutes=5)


def relay_pending(now: datetime | None = None, limit: int = 500) -> int:
    """Push pending jobs that are due, and queued ones whose push never reached Redis."""
    now = now or datetime.now(timezone.utc)
    rows = db.session.execute(select(OutboxJob.id, OutboxJob.status).where(or_(
        and_(OutboxJob.status == "pending", OutboxJob.run_after <= now),
        and_(OutboxJob.status == "queued", OutboxJob.created_at <= now - LOST_AFTER),
    )).order_by(OutboxJob.id).limit(limit)).all()
    db.session.rollback()
    if not rows:
        return 0
    connection = get_queue().connection
    ids = [job_id for job_id, status in rows
           if status == "pending" or not Job.exists(f"outbox-{job_id}", connection=connection)]
    return enqueue(ids) if ids else 0
