"""Run a job's result back into the process: claim an outbox job, run its operator, complete its service task.

A run has three parts so that no external call happens inside a write transaction: claim the job
(running, attempt n, lease) → run the operator → record the result and complete the service task in
a new unit of work. An operator that refuses a person's data (`OperatorInputError`) is not retried:
the diagram's input-error boundary event sends the order back to that person's task, or, without
one, the job is an incident at once. A second delivery of a finished job is a no-op; a job whose
worker died is handed out again by the relay when its lease runs out, and its operator's own records
keep the side effect single. `workers.jobs.run` is the rq entry point; JOBS_INLINE runs jobs here.
"""
from __future__ import annotations

import logging
import traceback
from datetime import timedelta

from flask import current_app

from app import clock
from app.errors import OperatorInputError, ScriptError
from app.extensions import db
from app.models import OutboxJob
from app.operators.lease import first_lease, lease_kept
from app.operators.registry import OPERATORS, JobContext, OperatorError, operator
from app.services import audit
from app.usecases.process import complete_service_job, record_error, reject_service_job
from app.usecases.uow import unit_of_work, wake_scheduler

log = logging.getLogger(__name__)
FINISHED = ("done", "incident", "skipped", "rejected")
MAX_BACKOFF = timedelta(hours=1)


class _NoWayBack(Exception):
    """The diagram has no input-error boundary for this task: the refusal becomes an ordinary failure."""


def lease_seconds(name: str) -> float:
    configured = current_app.config.get("JOB_LEASE_SECONDS")
    return float(configured) if configured else OPERATORS[name].lease_seconds


def execute_job(job_id: int) -> str:
    """Run one outbox job to its end: "done", "failed", "rejected", "skipped" or "busy"."""
    ctx = _claim(job_id)
    if isinstance(ctx, str):
        return ctx
    limit = clock.now() + timedelta(seconds=lease_seconds(ctx.operator))
    with lease_kept(ctx.job_id, ctx.attempt, limit):  # renewed while this process lives, until the result is in
        return _run(job_id, ctx)


def _run(job_id: int, ctx: JobContext) -> str:
    try:
        result = operator(ctx.operator)(ctx)
    except OperatorInputError as exc:
        try:
            if _reject(job_id, exc):
                return "rejected"
        except Exception as step_exc:  # noqa: BLE001 - e.g. the instance changed under us: retried later
            _record_failure(job_id, step_exc)
            return "failed"
        _record_failure(job_id, exc)
        return "failed"
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the job, never lost
        _record_failure(job_id, exc)
        return "failed"
    try:
        return _finish(job_id, result)
    except ScriptError as exc:  # the result came, a later step of the diagram failed: running it again won't help
        _record_failure(job_id, exc, step_failed=True)
        return "failed"
    except Exception as exc:  # noqa: BLE001 - e.g. the instance changed under us: retried later
        _record_failure(job_id, exc)
        return "failed"


def _claim(job_id: int) -> JobContext | str:
    now = clock.now()
    with unit_of_work(fresh=True):
        job = db.session.get(OutboxJob, job_id, with_for_update=True)  # two deliveries of one job: one claim
        if job is None or job.status in FINISHED:
            return "skipped"
        if job.status == "running" and job.lease_until and job.lease_until > now:
            return "busy"  # another worker holds it
        job.status, job.attempts, job.started_at = "running", job.attempts + 1, now
        job.lease_until = first_lease(now, lease_seconds(job.operator))
        return JobContext(job_id=job.id, operator=job.operator, order_id=job.order_id,
                          params=dict(job.params or {}), attempt=job.attempts)


def _finish(job_id: int, result) -> str:
    with unit_of_work(fresh=True):
        job = db.session.get_one(OutboxJob, job_id)
        if job.status != "running":  # skipped or finished by someone else meanwhile
            return "skipped"
        job.status, job.result, job.last_error = "done", result, None
        job.finished_at, job.lease_until = clock.now(), None
        if job.task_guid:
            complete_service_job(job, result)
        return "done"


def _reject(job_id: int, exc: OperatorInputError) -> bool:
    """Hand the order back to the person whose data was refused; False when the diagram has no way back."""
    try:
        with unit_of_work(fresh=True):
            job = db.session.get_one(OutboxJob, job_id)
            if job.status != "running":
                return True  # skipped or finished by someone else meanwhile
            payload = reject_service_job(job, exc.message)
            if payload is None:
                raise _NoWayBack
            job.status, job.result, job.last_error = "rejected", {"rejected": exc.message}, exc.message
            job.finished_at, job.lease_until = clock.now(), None
            audit.record(job.order_id, "job", "worker", field=payload["service_name"], old=None,
                         new=f"{payload['title']}: {exc.message}", entity="job", entity_id=job.id,
                         details={"error": exc.message, "bpmn_id": job.bpmn_id, "operator": job.operator})
            log.info("job %s (%s) refused its input, order sent back: %s", job.id, job.operator, exc.message)
    except _NoWayBack:
        return False
    return True


def _record_failure(job_id: int, exc: Exception, *, step_failed: bool = False) -> None:
    """Retry later, or an incident once out of attempts. `step_failed`: the process failed on the job's result (it
    rolled back) — an incident at once, and the instance shows status "error" with the element that failed."""
    with unit_of_work(fresh=True):
        job = db.session.get_one(OutboxJob, job_id)
        if step_failed and job.instance_id is not None:
            record_error(job.instance_id, getattr(exc, "message", str(exc)), f"job:{job.operator}")
        if isinstance(exc, (OperatorError, OperatorInputError, ScriptError)):
            job.last_error = exc.message
        else:
            job.last_error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"
        job.lease_until = None
        if job.attempts >= job.max_attempts or step_failed or getattr(exc, "permanent", False):
            job.status = "incident"
            audit.record(job.order_id, "job", "worker", field=job.operator, new="incident",
                         entity="job", entity_id=job.id, details={"error": str(exc)[:500]})
        else:
            job.status = "pending"
            delay = min(timedelta(seconds=job.backoff_base ** job.attempts), MAX_BACKOFF)
            job.run_after = clock.now() + delay
        log.warning("job %s (%s) failed, attempt %s/%s: %s", job.id, job.operator, job.attempts,
                    job.max_attempts, exc)
        retry_at = job.run_after if job.status == "pending" else None
    if retry_at is not None:
        wake_scheduler(retry_at)
