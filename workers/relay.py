"""The outbox relay: moves jobs that are due (new, waiting out Redis, or retrying) to rq."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select

from app.extensions import db
from app.models import OutboxJob
from app.services.outbox import enqueue


def relay_pending(now: datetime | None = None, limit: int = 500) -> int:
    now = now or datetime.now(timezone.utc)
    ids = list(db.session.execute(select(OutboxJob.id).where(OutboxJob.status == "pending",
                                                             OutboxJob.run_after <= now)
                                  .order_by(OutboxJob.id).limit(limit)).scalars())
    db.session.rollback()
    return enqueue(ids) if ids else 0
