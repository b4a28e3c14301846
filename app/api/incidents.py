"""Incidents: background jobs that ran out of attempts — listed for admins, retried or skipped with a result."""
from __future__ import annotations

from flask import jsonify

from app.api import bp
from app.api.auth import AfterCommit, endpoint, json_body
from app.api.schemas import _iso
from app.extensions import db
from app.models import OutboxJob
from app.services.inputs import FREE_TEXT_MAX, body_text
from app.usecases.incidents import list_incidents, retry_incident, skip_incident


def incident_json(job: OutboxJob) -> dict:
    return {"id": job.id, "order_number": job.order.number if job.order else None, "operator": job.operator,
            "bpmn_id": job.bpmn_id, "status": job.status, "attempts": job.attempts, "max_attempts": job.max_attempts,
            "error": job.last_error, "params": job.params, "result": job.result, "created_at": _iso(job.created_at),
            "started_at": _iso(job.started_at), "finished_at": _iso(job.finished_at),
            # An incident keeps no finished_at (the worker only stops trying): its last attempt is when it changed.
            "updated_at": _iso(job.finished_at or job.started_at or job.created_at)}


@bp.get("/incidents")
@endpoint("incidents.view")
def incidents(user):
    rows = list_incidents()
    return jsonify({"count": len(rows), "items": [incident_json(job) for job in rows]})


@bp.post("/incidents/<int:job_id>/retry")
@endpoint("incidents.resolve", write=True)
def retry(user, job_id):
    retry_incident(job_id, user)
    return AfterCommit(lambda: jsonify(incident_json(db.session.get(OutboxJob, job_id))))


@bp.post("/incidents/<int:job_id>/skip")
@endpoint("incidents.resolve", write=True)
def skip(user, job_id):
    body = json_body()  # a list or a bare string is a 422 like a missing reason, not a crash
    reason = body_text(body, "reason", max_length=FREE_TEXT_MAX, multiline=True)
    skip_incident(job_id, user, body.get("result"), reason)
    return AfterCommit(lambda: jsonify(incident_json(db.session.get(OutboxJob, job_id))))
