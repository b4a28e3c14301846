"""The outbox relay: hands rq the jobs that are due — waiting out Redis, retrying after backoff, lost on
the way, or abandoned by a worker that died (its lease, renewed while the job runs, ran out).

A queued job lives in two places, its outbox row and Redis. Redis can lose its side (a restart without
persistence, the last second before a crash, a failover): the relay remembers which Redis server it last
saw (its run id) and, when that changes, checks every queued row against Redis at once and pushes the
ones Redis no longer holds. A second push of a job that did survive is harmless: the worker's claim in
the database lets exactly one run happen.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from redis import Redis
from rq.job import Job
from sqlalchemy import and_, func, or_, select, update

from app import clock
from app.extensions import db
from app.models import OutboxJob
from app.operators.registry import BULK_JOBS
from app.queue import get_queue
from app.services.outbox import rq_job_id
from app.usecases.uow import discard, enqueue, unit_of_work

# A queued row whose rq job was taken (status "started") yet never claimed: the worker died in between.
LOST_AFTER = timedelta(minutes=5)
WAITING = frozenset({b"queued", b"deferred", b"scheduled", b"created"})


class Relay:
    """One per scheduler process: `run` is a round; it keeps the Redis run id and the sweep's position."""

    def __init__(self, limit: int = 500) -> None:
        self.limit = limit
        self.redis_run_id: str | None = None  # None: not checked since this process started
        self.swept_to = 0  # the sweep of queued rows after a Redis change has checked ids up to here
        self.sweeping = False

    def redis_changed(self) -> bool:
        """Redis is not the server this relay last checked the queued jobs against (RedisError when away)."""
        return get_queue().connection.info("server")["run_id"] != self.redis_run_id

    def run(self, now: datetime | None = None) -> int:
        """Push due pending jobs, expired running ones and queued ones Redis does not hold; how many went."""
        now = now or clock.now()
        connection = get_queue().connection
        run_id = connection.info("server")["run_id"]  # RedisError while Redis is away: the caller waits
        if run_id != self.redis_run_id and not self.sweeping:
            self.sweeping, self.swept_to = True, 0
        rows = db.session.execute(select(OutboxJob.id, OutboxJob.attempts).where(or_(
            and_(OutboxJob.status == "pending", OutboxJob.run_after <= now),
            and_(OutboxJob.status == "running", OutboxJob.lease_until <= now),
        )).order_by(OutboxJob.id).limit(self.limit)).all()
        if self.sweeping:
            queued = db.session.execute(select(OutboxJob.id, OutboxJob.attempts, OutboxJob.run_after).where(
                OutboxJob.status == "queued", OutboxJob.id > self.swept_to).order_by(OutboxJob.id)
                .limit(self.limit)).all()
        else:
            queued = db.session.execute(select(OutboxJob.id, OutboxJob.attempts, OutboxJob.run_after).where(
                OutboxJob.status == "queued", OutboxJob.run_after <= now - LOST_AFTER)
                .order_by(OutboxJob.id).limit(self.limit)).all()
        discard()
        stranded = _lost(connection, queued, now)
        if self.sweeping:
            if len(queued) < self.limit:
                self.sweeping, self.redis_run_id = False, run_id  # every queued row checked against this Redis
            else:
                self.swept_to = queued[-1][0]
        due = list(rows) + stranded
        if not due:
            return 0
        # Marked queued before the push (a worker may pick the job up the moment it lands in Redis), and only
        # while still in the state it was found in: a job a worker claimed meanwhile is left to that worker.
        with unit_of_work():
            taken = db.session.execute(update(OutboxJob).where(OutboxJob.id.in_([job_id for job_id, _ in due]), or_(
                OutboxJob.status.in_(("pending", "queued")),
                and_(OutboxJob.status == "running", OutboxJob.lease_until <= now),
            )).values(status="queued", run_after=now, lease_until=None).returning(
                OutboxJob.id, OutboxJob.attempts, OutboxJob.operator)).all()
        return enqueue(sorted((job_id, attempts, operator in BULK_JOBS) for job_id, attempts, operator in taken))


def _lost(connection: Redis, queued: Sequence, now: datetime) -> list[tuple[int, int]]:
    """The queued rows Redis no longer holds for a worker to take (or whose worker died before its claim)."""
    if not queued:
        return []
    with connection.pipeline(transaction=False) as pipeline:
        for job_id, attempts, _ in queued:
            pipeline.hget(Job.key_for(rq_job_id(job_id, attempts)), "status")
        statuses = pipeline.execute()
    return [(job_id, attempts) for (job_id, attempts, queued_at), status in zip(queued, statuses, strict=True)
            if status is None or status not in WAITING and not (status == b"started" and queued_at > now - LOST_AFTER)]


def relay_pending(now: datetime | None = None, limit: int = 500) -> int:
    """One round of a fresh relay: every queued row is checked against Redis."""
    relay = Relay(limit)
    pushed = relay.run(now)
    while relay.sweeping:
        pushed += relay.run(now)
    return pushed


def next_due() -> datetime | None:
    """The earliest moment the relay has something to do (an indexed MIN per kind of wait)."""
    candidates = db.session.execute(select(
        select(func.min(OutboxJob.run_after)).where(OutboxJob.status == "pending").scalar_subquery(),
        select(func.min(OutboxJob.lease_until)).where(OutboxJob.status == "running").scalar_subquery(),
    )).one()
    discard()
    found = [c for c in candidates if c is not None]
    return min(found) if found else None
