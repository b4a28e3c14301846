"""The unit of work's end: commit, then hand the jobs it wrote to the queue."""
from __future__ import annotations

import logging
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Iterator

from flask import current_app
from sqlalchemy import update

from app.extensions import db
from app.models import OutboxJob

log = logging.getLogger(__name__)
_inline_queue: ContextVar[list | None] = ContextVar("inline_queue", default=None)


def add_job(operator: str, params: dict, *, order_id: int | None = None, max_attempts: int | None = None,
            backoff_base: int | None = None, **fields) -> OutboxJob:
    """Write a job into the current unit of work; it is handed to rq after the commit."""
    from workers.registry import OPERATORS

    spec = OPERATORS[operator]
    job = OutboxJob(operator=operator, params=params, order_id=order_id, status="queued",
                    max_attempts=max_attempts or spec.max_attempts, backoff_base=backoff_base or spec.backoff_base,
                    **fields)
    db.session.add(job)
    db.session.flush()
    db.session.info.setdefault("new_jobs", []).append(job.id)
    return job


@contextmanager
def write_unit() -> Iterator[None]:
    """A short unit of work of its own: commit on success (dispatching its jobs), roll back on error."""
    from app.extensions import begin_write

    rollback()
    begin_write()
    try:
        yield
    except BaseException:
        rollback()
        raise
    commit()


def commit() -> None:
    """Commit the current unit of work; afterwards dispatch the outbox rows it created."""
    job_ids = db.session.info.pop("new_jobs", [])
    timer_at = db.session.info.pop("timer_at", None)
    db.session.commit()
    dispatch(job_ids)
    if timer_at is not None:
        wake_scheduler(timer_at)


def rollback() -> None:
    db.session.info.pop("new_jobs", None)
    db.session.info.pop("timer_at", None)
    db.session.rollback()


def dispatch(job_ids: list[int]) -> None:
    if not job_ids:
        return
    if current_app.config["JOBS_INLINE"]:
        _run_inline(job_ids)
    else:
        enqueue([(job_id, 0) for job_id in job_ids])


def _run_inline(job_ids: list[int]) -> None:
    # Jobs started by an inline job join the same loop instead of recursing.
    queue = _inline_queue.get()
    if queue is not None:
        queue.extend(job_ids)
        return
    from workers.jobs import execute_job

    queue = list(job_ids)
    token = _inline_queue.set(queue)
    try:
        while queue:
            execute_job(queue.pop(0))
    finally:
        _inline_queue.reset(token)


def rq_job_id(job_id: int, attempts: int) -> str:
    """One rq job per delivery attempt, so a re-delivery never collides with a dead worker's job."""
    return f"outbox-{job_id}-{attempts}"


def enqueue(jobs: list[tuple[int, int]]) -> int:
    """Push committed jobs (id, attempts so far) to rq; when Redis is unreachable they wait as 'pending'."""
    from redis.exceptions import RedisError

    from workers.queue import get_queue

    pushed: list[int] = []
    try:
        queue = get_queue()
        for job_id, attempts in jobs:
            queue.enqueue("workers.jobs.run", job_id, job_id=rq_job_id(job_id, attempts), result_ttl=3600,
                          failure_ttl=7 * 24 * 3600)
            pushed.append(job_id)
    except RedisError as exc:
        waiting = [job_id for job_id, _ in jobs if job_id not in pushed]
        log.warning("Redis unavailable, %d job(s) wait in the outbox: %s", len(waiting), exc)
        db.session.rollback()
        db.session.execute(update(OutboxJob).where(OutboxJob.id.in_(waiting), OutboxJob.status == "queued")
                           .values(status="pending"))
        db.session.commit()
    return len(pushed)


def wake_channel() -> str:
    return f"{current_app.config['RQ_QUEUE']}:scheduler"


def wake_scheduler(when: datetime) -> None:
    """Tell a sleeping scheduler about a timer or retry that may be nearer than the one it waits for."""
    from redis.exceptions import RedisError

    from workers.queue import get_queue

    try:
        get_queue().connection.publish(wake_channel(), when.isoformat())
    except RedisError:
        pass  # the scheduler also wakes on its own within SCHEDULER_MAX_SLEEP
