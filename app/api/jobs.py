"""Free jobs for crews: the deliveries waiting in the crews' queue, and taking one (two at once: one wins)."""
from __future__ import annotations

from flask import jsonify

from app.api import bp
from app.api.auth import AfterCommit, endpoint
from app.api.openapi import PATHS, _op, _path
from app.api.schemas import COMPONENTS, ID, STAMP, _iso, column_text, nullable, obj, ref
from app.extensions import db
from app.models import Customer, Order, User, Visit
from app.models.dispatch import VISIT_KINDS, VISIT_STATES
from app.usecases import crews


def job_json(visit: Visit, comment: str | None = None) -> dict:
    order = visit.order
    return {"id": visit.id, "kind": visit.kind, "status": visit.status,
            "starts_at": _iso(visit.starts_at), "ends_at": _iso(visit.ends_at), "hours": visit.hours,
            "crew": visit.user.login if visit.user is not None else None, "taken_at": _iso(visit.taken_at),
            "order_number": order.number, "order_kind": order.kind, "address": order.address,
            "customer": {"name": order.customer.name, "phone": order.customer.phone},
            "components": [{"name": c.name, "quantity": str(c.quantity.normalize()), "unit": c.unit,
                            "status": c.status} for c in order.components],
            "comment": comment}


@bp.get("/jobs")
@endpoint("jobs.take")
def free_jobs(user):
    rows = crews.free_jobs()
    return jsonify({"count": len(rows), "items": [job_json(job.visit, job.comment or None) for job in rows]})


@bp.post("/jobs/<int:visit_id>/take")
@endpoint("jobs.take", write=True)
def take_job(user, visit_id):
    crews.take(visit_id, user)
    return AfterCommit(lambda: jsonify(job_json(db.session.get_one(Visit, visit_id))))


COMPONENTS.update({
    "Job": obj({
        "id": ID, "kind": {"enum": list(VISIT_KINDS)}, "status": {"enum": list(VISIT_STATES)},
        "starts_at": STAMP, "ends_at": STAMP, "hours": {"type": "number", "exclusiveMinimum": 0},
        "crew": nullable(column_text(User.login, allow_null=False)), "taken_at": nullable(STAMP),
        "order_number": column_text(Order.number), "order_kind": {"type": "string"},
        "address": column_text(Order.address, allow_null=False),
        "customer": obj({"name": column_text(Customer.name), "phone": column_text(Customer.phone)}),
        "components": {"type": "array", "items": obj({
            "name": {"type": "string"}, "quantity": {"type": "string"}, "unit": {"type": "string"},
            "status": {"type": "string"}})},
        "comment": nullable({"type": "string", "description": "what the delivery dispatcher wrote for the crew"})}),
})
COMPONENTS["JobList"] = obj({"count": {"type": "integer", "minimum": 0},
                            "items": {"type": "array", "items": ref("Job")}})
VISIT_ID = _path("visit_id", ID)
PATHS["/jobs"] = {"get": _op(
    "Free jobs: deliveries in the crews' queue whose installation waits for a crew, soonest first",
    {200: ("free jobs", "JobList"), 403: "installer crews only"}, tag="jobs")}
PATHS["/jobs/{visit_id}/take"] = {"post": _op(
    "Take a free job: the visit, the order's crew and its installation task become the caller's",
    {200: ("taken: the job, now the caller's", "Job"), 403: "installer crews only", 404: "no such job",
     409: "already taken by another crew (`taken_by`), no longer waiting, or the caller is busy then"},
    params=[VISIT_ID], tag="jobs")}
