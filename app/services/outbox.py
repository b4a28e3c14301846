"""The outbox: jobs written in a unit of work, handed to the queue by `app.usecases.uow` after its commit."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from typing import Iterator

from flask import current_app

from app.extensions import db
from app.models import OutboxJob


def add_job(operator: str, params: dict, *, order_id: int | None = None, max_attempts: int | None = None,
            backoff_base: int | None = None, **fields) -> OutboxJob:
    """Write a job into the current unit of work; it is handed to rq after the commit."""
    from app.operators.registry import OPERATORS

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
    """A short unit of work of its own (transition: callers move to `app.usecases.uow.unit_of_work`)."""
    from app.usecases.uow import unit_of_work

    with unit_of_work(fresh=True):
        yield


def commit() -> None:
    """Transition: the end of a unit of work opened without the context manager."""
    from app.usecases.uow import _commit

    _commit()


def rollback() -> None:
    from app.usecases.uow import discard

    discard()


def rq_job_id(job_id: int, attempts: int) -> str:
    """One rq job per delivery attempt, so a re-delivery never collides with a dead worker's job."""
    return f"outbox-{job_id}-{attempts}"


def enqueue(jobs: list[tuple[int, int]]) -> int:
    from app.usecases.uow import enqueue as push

    return push(jobs)


def wake_channel() -> str:
    return f"{current_app.config['RQ_QUEUE']}:scheduler"


def wake_scheduler(when: datetime) -> None:
    from app.usecases.uow import wake_scheduler as wake

    wake(when)
