"""The unit of work: the one place that commits, and after the commit hands the new outbox jobs on.

    with unit_of_work():
        ...  # stage changes; add_job(...) writes outbox rows in the same transaction

commits on leaving the block (rolls back on an exception) and then dispatches the jobs it wrote — run
inline (JOBS_INLINE, tests and the demo) or pushed to rq — and wakes the scheduler when the step set a
timer nearer than the one it sleeps towards. A unit of work opened inside another one joins it: only
the outermost commits, so a use case may call another use case. A unit of work that rolls back also
removes the uploaded files it stored, so a failed request leaves no file without its row.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from pathlib import Path
from typing import Iterator

from flask import after_this_request, current_app, g, has_request_context
from redis.exceptions import RedisError
from sqlalchemy import update

from app.engine import engine
from app.extensions import begin_write, db
from app.models import OutboxJob
from app.queue import get_queue
from app.services.outbox import handed_on, rq_job_id, wake_channel

log = logging.getLogger(__name__)
_open: ContextVar[bool] = ContextVar("unit_of_work_open", default=False)
_inline_queue: ContextVar[list | None] = ContextVar("inline_queue", default=None)
AHEAD_PER_REQUEST = 4  # a request that stepped more instances (a broadcast signal) loads the last few ahead


@contextmanager
def unit_of_work(*, fresh: bool = False) -> Iterator[None]:
    """One transaction as a writer; `fresh` first drops whatever the session read before (a new snapshot)."""
    if _open.get():
        yield  # joins the unit of work already open
        return
    if fresh:
        discard()
    begin_write()
    token = _open.set(True)
    try:
        yield
    except BaseException:
        discard()
        raise
    finally:
        _open.reset(token)
    _commit()


@contextmanager
def savepoint() -> Iterator[None]:
    """Part of a unit of work that an exception undoes alone, with the outbox jobs and timers it asked for."""
    jobs = list(db.session.info.get("new_jobs", []))
    timer_at = db.session.info.get("timer_at")
    files = len(db.session.info.get("stored_files", []))
    written = len(db.session.info.get(WRITTEN, []))
    try:
        with db.session.begin_nested():
            yield
    except BaseException:
        db.session.info["new_jobs"] = jobs
        db.session.info["timer_at"] = timer_at
        stored = db.session.info.get("stored_files", [])
        _remove(stored[files:])
        del stored[files:]
        rows = db.session.info.get(WRITTEN, [])
        for row in rows[written:]:  # read again as the database holds them once more
            db.session.expire(row)
        del rows[written:]
        raise


WRITTEN = "written_by_statement"


def written_by_statement(row) -> None:
    """`row` was written by a statement of its own, not by the flush, and its object holds what was written: a
    savepoint that rolls back expires it, as the session expires what its flush wrote there."""
    db.session.info.setdefault(WRITTEN, []).append(row)


def discard() -> None:
    """Roll back what the session holds (a read that is over, or a unit of work that failed)."""
    db.session.info.pop(WRITTEN, None)
    db.session.info.pop("new_jobs", None)
    db.session.info.pop("timer_at", None)
    db.session.info.pop("saved_states", None)
    _remove(db.session.info.pop("stored_files", []))
    db.session.rollback()


def _remove(files: list[Path]) -> None:
    """Files stored for rows that were rolled back (app.services.attachments.save_upload lists them)."""
    for path in files:
        path.unlink(missing_ok=True)


def _commit() -> None:
    db.session.info.pop(WRITTEN, None)
    staged = db.session.info.pop("new_jobs", [])
    timer_at = db.session.info.pop("timer_at", None)
    saved = db.session.info.pop("saved_states", {})
    try:
        if staged:  # the jobs get their ids in the commit's own flush; the commit then expires them
            db.session.flush()
        jobs = handed_on(staged)
        db.session.commit()
    except BaseException:  # e.g. a stale version counter found while flushing: nothing of the unit stays
        discard()
        raise
    db.session.info.pop("stored_files", None)
    load_ahead(saved)  # before the jobs run inline: a state they save after this one replaces it
    dispatch(jobs, wake=timer_at)


def load_ahead(saved: dict[int, tuple[tuple, str]]) -> None:
    """After a request's answer has gone out, load the workflows its units of work saved (the last state of each:
    jobs run inline commit after the step), for their next step in this process (`ProcessEngine.load_ahead`).
    A worker's job has no answer to wait for: nothing is loaded."""
    if not saved or not has_request_context():
        return
    pending = g.get("load_ahead")
    if pending is None:
        pending = g.load_ahead = {}
        eng = engine()

        def load() -> None:
            for instance_id, (specs, state) in list(pending.items())[-AHEAD_PER_REQUEST:]:
                try:
                    eng.load_ahead(instance_id, specs, state)
                except Exception:  # noqa: BLE001 - an optimisation: the next step parses the state itself
                    log.exception("Loading instance %s ahead failed", instance_id)

        @after_this_request
        def when_sent(response):
            response.call_on_close(load)
            return response

    for instance_id, entry in saved.items():
        pending.pop(instance_id, None)
        pending[instance_id] = entry  # the newest last


def dispatch(jobs: list[tuple[int, bool]], *, wake: datetime | None = None) -> None:
    """Hand committed jobs (id, bulk) on: run them here (JOBS_INLINE) or push them to rq; then wake the scheduler
    for a timer nearer than the one it sleeps towards (pushed with the jobs: one round trip to Redis)."""
    if current_app.config["JOBS_INLINE"]:
        if jobs:
            _run_inline([job_id for job_id, _ in jobs])
        if wake is not None:
            wake_scheduler(wake)
    elif jobs:
        enqueue([(job_id, 0, bulk) for job_id, bulk in jobs], wake=wake)
    elif wake is not None:
        wake_scheduler(wake)


def _run_inline(job_ids: list[int]) -> None:
    # Jobs started by an inline job join the same loop instead of recursing.
    queue = _inline_queue.get()
    if queue is not None:
        queue.extend(job_ids)
        return
    from app.usecases.jobs import execute_job  # here, not at the top: app.usecases.jobs imports this module

    queue = list(job_ids)
    token = _inline_queue.set(queue)
    try:
        while queue:
            execute_job(queue.pop(0))
    finally:
        _inline_queue.reset(token)


def enqueue(jobs: list[tuple[int, int, bool]], *, wake: datetime | None = None) -> int:
    """Push committed jobs (id, attempts so far, bulk) to their rq queue — and the scheduler's wake-up (`wake`) —
    in one Redis transaction, one round trip; when Redis is unreachable they wait as 'pending'."""
    try:
        with get_queue().connection.pipeline() as pipe:
            for job_id, attempts, bulk in jobs:
                get_queue(bulk).enqueue("workers.jobs.run", job_id, job_id=rq_job_id(job_id, attempts),
                                        result_ttl=3600, failure_ttl=7 * 24 * 3600, pipeline=pipe)
            if wake is not None:
                pipe.publish(wake_channel(), wake.isoformat())
            pipe.execute()
    except RedisError as exc:
        waiting = [job_id for job_id, _, _ in jobs]
        log.warning("Redis unavailable, %d job(s) wait in the outbox: %s", len(waiting), exc)
        with unit_of_work(fresh=True):
            db.session.execute(update(OutboxJob).where(OutboxJob.id.in_(waiting), OutboxJob.status == "queued")
                               .values(status="pending"))
        return 0
    return len(jobs)


def wake_scheduler(when: datetime) -> None:
    """Tell a sleeping scheduler about a timer or retry that may be nearer than the one it waits for."""
    try:
        get_queue().connection.publish(wake_channel(), when.isoformat())
    except RedisError:
        pass  # the scheduler also wakes on its own within SCHEDULER_MAX_SLEEP
