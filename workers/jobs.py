"""The rq entry point: run one outbox job's operator and complete its service task."""
from __future__ import annotations

import logging
import traceback
from datetime import datetime, timedelta, timezone

from app.engine.steps import complete_service_job
from app.extensions import begin_write, db
from app.models import Order, OutboxJob
from app.services import audit
from app.services.outbox import commit, rollback
from workers.registry import JobContext, operator

log = logging.getLogger(__name__)
_app = None


def run(job_id: int) -> str:
    """rq job: takes an id, loads everything inside an app context."""
    global _app
    if _app is None:
        from app import create_app

        _app = create_app()
    with _app.app_context():
        return execute_job(job_id)


def execute_job(job_id: int) -> str:
    """Run the operator and complete the task in one unit of work; idempotent per job."""
    begin_write()
    job = db.session.get(OutboxJob, job_id)
    if job is None or job.status in ("done", "incident", "skipped"):
        rollback()
        return "skipped"
    try:
        order = db.session.get(Order, job.order_id) if job.order_id else None
        result = operator(job.operator)(JobContext(job=job, order=order, params=dict(job.params or {})))
        job.attempts += 1
        job.status, job.result, job.last_error = "done", result, None
        job.finished_at = datetime.now(timezone.utc)
        if job.task_guid:
            complete_service_job(job, result)
        commit()
        return "done"
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the job, never lost
        rollback()
        _record_failure(job_id, exc)
        return "failed"


def _record_failure(job_id: int, exc: Exception) -> None:
    begin_write()
    job = db.session.get(OutboxJob, job_id)
    job.attempts += 1
    job.last_error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"
    if job.attempts >= job.max_attempts:
        job.status = "incident"
        audit.record(job.order_id, "job", "worker", field=job.operator, new="incident",
                     entity="job", entity_id=job.id, details={"error": str(exc)})
    else:
        job.status = "pending"
        job.run_after = datetime.now(timezone.utc) + timedelta(seconds=job.backoff_base ** job.attempts)
    log.warning("job %s (%s) failed, attempt %s/%s: %s", job.id, job.operator, job.attempts,
                job.max_attempts, exc)
    db.session.commit()
