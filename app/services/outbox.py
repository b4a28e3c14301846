"""The outbox: jobs written in a unit of work, handed to the queue by `app.usecases.uow` after its commit."""
from __future__ import annotations

from flask import current_app

from app.extensions import db
from app.models import OutboxJob


def add_job(operator: str, params: dict, *, order_id: int | None = None, max_attempts: int | None = None,
            backoff_base: int | None = None, flush: bool = True, **fields) -> OutboxJob:
    """Write a job into the current unit of work; it is handed to rq after the commit.

    `flush=False` leaves the row to the commit's flush (a process step's jobs: no flush in the middle of a step);
    the job then has no id until the commit.
    """
    from app.operators.registry import OPERATORS

    spec = OPERATORS[operator]
    job = OutboxJob(operator=operator, params=params, order_id=order_id, status="queued",
                    max_attempts=max_attempts or spec.max_attempts, backoff_base=backoff_base or spec.backoff_base,
                    **fields)
    db.session.add(job)
    if flush:
        db.session.flush()
    hand_on(job)
    return job


def hand_on(job: OutboxJob) -> None:
    """Have the unit of work push the job to its queue once it commits (`app.usecases.uow.dispatch`)."""
    db.session.info.setdefault("new_jobs", []).append(job)


def handed_on(jobs: list[OutboxJob]) -> list[tuple[int, bool]]:
    """(id, bulk) of the jobs handed on, once flushed: the unit of work reads them before its commit expires them."""
    from app.operators.registry import BULK_JOBS

    return [(job.id, job.operator in BULK_JOBS) for job in jobs]


def rq_job_id(job_id: int, attempts: int) -> str:
    """One rq job per delivery attempt, so a re-delivery never collides with a dead worker's job."""
    return f"outbox-{job_id}-{attempts}"


def wake_channel() -> str:
    return f"{current_app.config['RQ_QUEUE']}:scheduler"
