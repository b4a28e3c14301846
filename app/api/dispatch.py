"""Visits for integrations: the booked measurements and deliveries in a period, planning an order waiting at a
planning task, and moving a booked visit — the calendar's own use cases (`app.usecases.dispatch`)."""
from __future__ import annotations

from datetime import timedelta

from flask import jsonify, request
from sqlalchemy import select

from app import clock
from app.api import bp
from app.api.auth import AfterCommit, endpoint, json_body
from app.api.openapi import PATHS, _op, _path, _query
from app.api.schemas import COMPONENTS, ID, STAMP, nullable, obj, ref
from app.errors import NotFound, ValidationError
from app.extensions import db
from app.models import User, Visit
from app.models.dispatch import VISIT_KINDS, VISIT_STATES
from app.services import dispatch_calendar as board
from app.services.calendar import company_tz
from app.usecases import dispatch

MAX_RANGE = timedelta(days=62)


def visit_json(visit: Visit) -> dict:
    tz = company_tz()
    return {"id": visit.id, "kind": visit.kind, "order_number": visit.order.number, "status": visit.status,
            "user": visit.user.login if visit.user is not None else None,
            "user_name": visit.user.name if visit.user is not None else None,
            "starts_at": visit.starts_at.astimezone(tz).isoformat(timespec="seconds"),
            "ends_at": visit.ends_at.astimezone(tz).isoformat(timespec="seconds"), "hours": visit.hours,
            "address": visit.order.address or ""}


def _answer(visit_id: int) -> AfterCommit:
    return AfterCommit(lambda: jsonify(visit_json(db.session.get_one(Visit, visit_id))))


@bp.get("/visits")
@endpoint("dispatch.view")
def list_visits(_user):
    start = (dispatch.parse_moment(request.args["from"], "from") if request.args.get("from")
             else clock.now())
    end = dispatch.parse_moment(request.args["to"], "to") if request.args.get("to") else start + timedelta(days=14)
    end = min(end, start + MAX_RANGE)  # a longer period is cut: ask again from where it ended
    kind = request.args.get("kind")
    if kind not in (None, "", *VISIT_KINDS):
        dispatch.parse_kind(kind)
    person = None
    if request.args.get("user"):
        person = db.session.execute(select(User).where(User.login == request.args["user"])).scalar_one_or_none()
        if person is None:
            message = f"No user '{request.args['user'][:80]}'"
            raise NotFound(message, fields={"user": message})
    items = board.visits_between(start, end, board.kinds_of(kind), person)
    return jsonify({"count": len(items), "items": [visit_json(v) for v in items]})


@bp.post("/dispatch/plan")
@endpoint("dispatch.plan", write=True)
def plan_visit(user):
    body = json_body()
    starts_at = dispatch.parse_moment(body.get("starts_at"))
    visit = dispatch.plan(body.get("kind"), body.get("order_number"), body.get("user"), starts_at, body.get("hours"),
                          user)
    return _answer(visit.id)


@bp.post("/visits/<int:visit_id>/move")
@endpoint("dispatch.plan", write=True)
def move_visit(user, visit_id):
    body = json_body()
    starts_at = dispatch.parse_moment(body.get("starts_at"))
    expected = body.get("expected")
    if expected is not None and not isinstance(expected, dict):
        raise ValidationError("'expected' is an object: the visit's user, starts_at and hours as last seen",
                              fields={"expected": "an object"})
    visit = dispatch.move(visit_id, body.get("user"), starts_at, body.get("hours"), user, expected)
    return _answer(visit.id)


KIND = {"enum": list(VISIT_KINDS), "description": "measurement, or delivery (and installation)"}
OFFSET_STAMP = {"type": "string", "format": "date-time", "description": "ISO 8601 with its offset"}
HOURS = {"type": "number", "exclusiveMinimum": 0, "maximum": 24, "description": "the visit's length; default: the "
         "kind's (measurement 2, delivery 4)"}
COMPONENTS.update({
    "Visit": obj({"id": ID, "kind": KIND, "order_number": {"type": "string"}, "status": {"enum": list(VISIT_STATES)},
                  "user": nullable({"type": "string"}), "user_name": nullable({"type": "string"}),
                  "starts_at": STAMP, "ends_at": STAMP, "hours": {"type": "number"}, "address": {"type": "string"}}),
    "PlanVisit": {"type": "object", "required": ["kind", "order_number", "user", "starts_at"], "properties": {
        "kind": KIND, "order_number": {"type": "string", "maxLength": 20}, "user": {
            "type": "string", "description": "the measurer's or crew's login"},
        "starts_at": OFFSET_STAMP, "hours": HOURS}},
    "MoveVisit": {"type": "object", "required": ["user", "starts_at"], "properties": {
        "user": {"type": "string"}, "starts_at": OFFSET_STAMP, "hours": HOURS,
        "expected": {"type": "object", "description": "where the caller saw the visit (user, starts_at, hours): "
                     "409 when someone moved it since", "properties": {
                         "user": nullable({"type": "string"}), "starts_at": OFFSET_STAMP, "hours": HOURS}}}},
})
COMPONENTS["VisitList"] = obj({"count": {"type": "integer", "minimum": 0},
                               "items": {"type": "array", "items": ref("Visit")}})
PATHS["/visits"] = {"get": _op(
    "Booked visits of active orders overlapping a period (default: the next 14 days; at most 62 days from `from`)",
    {200: ("by start time", "VisitList"), 403: "dispatchers and management only", 404: "no user with that login"},
    params=[_query("from", OFFSET_STAMP), _query("to", OFFSET_STAMP), _query("kind", KIND),
            _query("user", {"type": "string", "maxLength": 80}, "a measurer's or crew's login")], tag="dispatch")}
PATHS["/dispatch/plan"] = {"post": _op(
    "Plan an order waiting at its planning task: complete that task with this person, time and length (the "
    "planning form's rules apply: the future, working hours, nobody booked twice)",
    {200: ("the booked visit", "Visit"), 403: "not the dispatcher of this kind", 404: "no such order",
     409: "the order is not waiting to be planned"}, body="PlanVisit", tag="dispatch")}
PATHS["/visits/{visit_id}/move"] = {"post": _op(
    "Move a booked visit to another time, person or length; the customer is told the new time",
    {200: ("the visit where it is now", "Visit"), 403: "not the dispatcher of this kind", 404: "no such visit",
     409: "the visit is no longer booked, or someone moved it first"},
    body="MoveVisit", params=[_path("visit_id", ID)], tag="dispatch")}
