"""Incidents: jobs out of attempts (or refused for good), and what an admin may do about them (retry, skip)."""
from __future__ import annotations

from sqlalchemy import select

from app import clock
from app.errors import Conflict, NotFound, ValidationError
from app.extensions import db
from app.models import Notification, OutboxJob, User
from app.services import audit
from app.services.outbox import hand_on
from app.usecases.process import complete_service_job
from app.usecases.uow import unit_of_work


def list_incidents(limit: int = 200) -> list[OutboxJob]:
    return list(db.session.execute(select(OutboxJob).where(OutboxJob.status == "incident")
                                   .order_by(OutboxJob.finished_at.desc().nulls_last(), OutboxJob.id.desc())
                                   .limit(limit)).scalars())


def _incident(job_id: int) -> OutboxJob:
    job = db.session.get(OutboxJob, job_id)
    if job is None:
        raise NotFound(f"Задание {job_id} не найдено")
    if job.status != "incident":
        raise Conflict(f"Задание {job_id} не в статусе инцидента (сейчас: {job.status})", status=job.status)
    return job


@unit_of_work()
def retry_incident(job_id: int, user: User, reason: str | None = None) -> OutboxJob:
    """Give the job a fresh set of attempts; it goes out after the commit (`reason`: why, kept in the history)."""
    job = _incident(job_id)
    job.status, job.attempts, job.run_after, job.lease_until = "queued", 0, clock.now(), None
    job.resolved_by_id = user.id
    if job.operator in ("sms.send", "email.send"):
        # The admin decided: a message whose fate was unknown is sent again.
        job.params = {**(job.params or {}), "resend": True}
        note = db.session.get(Notification, (job.params or {}).get("notification_id"))
        if note is not None and note.status != "sent":
            note.status, note.error = "queued", None
    audit.record(job.order_id, "job", user, field=job.operator, old="incident", new="retry", entity="job",
                 entity_id=job.id, details={"reason": reason} if reason else None)
    hand_on(job)
    return job


@unit_of_work()
def skip_incident(job_id: int, user: User, result: dict | None, reason: str) -> OutboxJob:
    """Finish the job by hand with the given result, so the order moves on without it."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("Укажите, почему задание пропускается",
                              fields={"reason": "Укажите, почему задание пропускается"})
    if result is not None and not isinstance(result, dict):
        raise ValidationError("Результат должен быть объектом JSON", fields={"result": "Ожидается объект"})
    job = _incident(job_id)
    job.status, job.result = "skipped", {**(result or {}), "skipped": True, "reason": reason}
    job.finished_at, job.resolved_by_id = clock.now(), user.id
    if job.operator in ("sms.send", "email.send"):
        note = db.session.get(Notification, (job.params or {}).get("notification_id"))
        if note is not None and note.status != "sent":
            note.status, note.error = "failed", f"Пропущено: {reason}"
    if job.task_guid:
        complete_service_job(job, job.result)
    audit.record(job.order_id, "job", user, field=job.operator, old="incident", new="skipped", entity="job",
                 entity_id=job.id, details={"reason": reason})
    return job
