"""An order's process for integrations: its state on the diagram, and the admin's actions (suspend, resume, retry,
skip, send a message), each with a reason kept in the order's history."""
from __future__ import annotations

from flask import jsonify, request

from app import policy
from app.api import bp
from app.api.auth import AfterCommit, created, endpoint, json_body
from app.api.openapi import NUMBER, PATHS, PROCESS_ID, _op, _path, _query
from app.api.schemas import COMPONENTS, ID, STAMP, _iso, nullable, obj, ref, task_json
from app.errors import ValidationError
from app.extensions import db
from app.models import Order, ProcessDefinition, ProcessInstance, User
from app.services import orders as order_service
from app.services.inputs import FREE_TEXT_MAX, body_object, body_text, int_arg
from app.usecases import instances, runs

ACTIONS = ("suspend", "resume", "retry", "skip", "message")


def process_json(order: Order) -> dict:
    view = instances.instance_view(order, history=0)
    instance, definition = view.instance, view.instance.definition
    return {
        "order_number": order.number, "process_id": definition.process_id, "version": definition.version,
        "status": instance.status, "error": instance.error, "suspended_reason": view.suspended_reason,
        "elements": view.picture.elements, "flows": [list(pair) for pair in view.picture.flows],
        "timers": [{"bpmn_id": t.bpmn_id, "name": t.name, "attached_to": t.attached_to,
                    "due_at": t.due_at.isoformat() if t.due_at else None} for t in view.picture.timers],
        "messages": sorted({m.name for m in view.picture.messages}),
        "incidents": [{"job_id": job.id, "operator": job.operator, "bpmn_id": job.bpmn_id, "error": job.last_error}
                      for job in view.incidents],
    }


def _job_id(body: dict) -> int | None:
    value = body.get("job_id")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError("job_id must be a positive integer", fields={"job_id": "a positive integer"})
    return value


def _act(name: str, target: Order | ProcessInstance, user: User, body: dict) -> None:
    reason = body_text(body, "reason", max_length=FREE_TEXT_MAX, multiline=True)
    if name == "suspend":
        instances.suspend(target, user, reason)
    elif name == "resume":
        instances.resume(target, user, reason)
    elif name == "retry":
        instances.retry(target, user, reason, _job_id(body))
    elif name == "skip":
        result = body.get("result")
        if result is not None and not isinstance(result, dict):
            raise ValidationError("result must be a JSON object", fields={"result": "an object"})
        instances.skip(target, user, reason, _job_id(body), result)
    else:
        message = body_text(body, "message", max_length=100, required="required")
        instances.send_message(target, user, message, body_object(body, "payload"), reason)


@bp.get("/orders/<number>/process")
@endpoint("instances.view")
def order_process(user, number):
    return jsonify(process_json(order_service.get_order(number)))


def _rules(path: str):
    def register(view):
        for name in reversed(ACTIONS):
            view = bp.post(f"{path}/{name}", defaults={"name": name})(view)
        return view
    return register


@_rules("/orders/<number>/process")
@endpoint("instances.admin", write=True)
def order_process_action(user, number, name):
    order = order_service.get_order(number)
    _act(name, order, user, json_body())
    order_id = order.id
    return AfterCommit(lambda: jsonify(process_json(db.session.get_one(Order, order_id))))


COMPONENTS.update({
    "OrderProcess": obj({
        "order_number": {"type": "string"}, "process_id": {"type": "string"}, "version": {"type": "integer"},
        "status": {"enum": ["running", "suspended", "completed", "error"]}, "error": nullable({"type": "string"}),
        "suspended_reason": nullable({"type": "string"}),
        "elements": {"type": "object", "description": "BPMN id → done | active | waiting | error | cancelled",
                     "additionalProperties": {"enum": ["done", "active", "waiting", "error", "cancelled"]}},
        "flows": {"type": "array", "description": "sequence flows taken, as [source id, target id]",
                  "items": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2}},
        "timers": {"type": "array", "items": obj({"bpmn_id": {"type": "string"}, "name": {"type": "string"},
                                                  "attached_to": nullable({"type": "string"}),
                                                  "due_at": nullable(STAMP)})},
        "messages": {"type": "array", "items": {"type": "string"}, "description": "messages it waits for now"},
        "incidents": {"type": "array", "items": obj({"job_id": ID, "operator": {"type": "string"},
                                                     "bpmn_id": nullable({"type": "string"}),
                                                     "error": nullable({"type": "string"})})},
    }),
    "ProcessAction": {"type": "object", "required": ["reason"], "additionalProperties": True, "properties": {
        "reason": {"type": "string", "minLength": 1, "maxLength": FREE_TEXT_MAX, "pattern": r"\S",
                   "description": "why; kept in the order's history with who did it"},
        "job_id": {**ID, "description": "retry / skip: the order's incident job (retry without it: the step that "
                                        "left the instance in error)"},
        "result": {"type": "object", "description": "skip: the service task's result"},
        "message": {"type": "string", "maxLength": 100, "description": "message: its name (one it waits for)"},
        "payload": {"type": "object", "description": "message: its data"}}},
})
_ACTION_TEXT = {
    "suspend": "Suspend the order's process: its tasks, messages and timers wait; results of jobs that finish "
               "meanwhile are applied on resume",
    "resume": "Resume a suspended process; timers that fell due fire on the scheduler's next pass",
    "retry": "Run a failed step again (an incident job of the order, or the step that left it in error)",
    "skip": "Complete a failed service task by hand with an optional result; the process goes on",
    "message": "Send the process one of the messages it waits for, with a payload",
}
PATHS["/orders/{number}/process"] = {"get": _op(
    "The order's process on its diagram: element states, flows taken, timers, messages awaited, incidents",
    {200: ("process", "OrderProcess"), 403: "analysts, admins and the director", 404: "no such order or process"},
    params=[NUMBER], tag="processes")}
for _name, _text in _ACTION_TEXT.items():
    PATHS[f"/orders/{{number}}/process/{_name}"] = {"post": _op(
        _text, {200: ("the process after the action", "OrderProcess"), 403: "admins only",
                404: "no such order or process", 409: "not possible in the process's present state"},
        body="ProcessAction", params=[NUMBER], tag="processes")}


# -- processes no order started ---------------------------------------------------------------------------------

def instance_json(instance: ProcessInstance, *, detail: bool = True) -> dict:
    definition = instance.definition
    body = {
        "id": instance.id, "process_id": definition.process_id,
        "process_name": definition.name or definition.process_id,
        "version": definition.version, "status": instance.status, "error": instance.error,
        "order_number": instance.order.number if instance.order else None,
        "started_by": instance.started_by.login if instance.started_by else None,
        "created_at": _iso(instance.created_at), "finished_at": _iso(instance.finished_at),
    }
    if detail:
        body["tasks"] = [task_json(t) for t in runs.open_tasks(instance)]
        body["data"] = runs.instance_data(instance)
    return body


@bp.post("/processes/<process_id>/instances")
@endpoint("processes.start", write=True)
def start_instance(user, process_id):
    instance_id = runs.start(process_id, body_object(json_body(), "data"), user).id

    return AfterCommit(lambda: created(instance_json(db.session.get_one(ProcessInstance, instance_id)),
                                       f"/instances/{instance_id}"))


@bp.get("/instances")
@endpoint("instances.list")
def list_instances(user):
    query = policy.visible_instances(user).join(ProcessInstance.definition)
    if request.args.get("process_id"):
        query = query.where(ProcessDefinition.process_id == request.args["process_id"])
    status = request.args.get("status")
    if status:
        if status not in runs.STATUSES:
            raise ValidationError(f"status must be one of {', '.join(runs.STATUSES)}",
                                  fields={"status": "|".join(runs.STATUSES)})
        query = query.where(ProcessInstance.status == status)
    limit = int_arg(request.args, "limit", 100, 1, 500)
    rows = db.session.execute(query.order_by(ProcessInstance.id.desc()).limit(limit)).scalars().all()
    return jsonify({"count": len(rows), "items": [instance_json(i, detail=False) for i in rows]})


@bp.get("/instances/<int:instance_id>")
@endpoint("instances.list")
def get_instance(user, instance_id):
    return jsonify(instance_json(runs.get_instance(instance_id, user)))


@bp.get("/instances/<int:instance_id>/log")
@endpoint("instances.list")
def instance_log(user, instance_id):
    lines = runs.log(runs.get_instance(instance_id, user), int_arg(request.args, "limit", 1000, 1, 5000))
    return jsonify({"count": len(lines), "items": [
        {"at": _iso(e.at), "bpmn_id": e.field, "text": e.new_value or ""} for e in lines]})


@_rules("/instances/<int:instance_id>")
@endpoint("instances.admin", write=True)
def instance_action(user, instance_id, name):
    """The admin's hand on a process no order started, as on an order's (`order_process_action`)."""
    _act(name, runs.get_instance(instance_id, user), user, json_body())
    return AfterCommit(lambda: jsonify(instance_json(db.session.get_one(ProcessInstance, instance_id))))


@bp.post("/instances/<int:instance_id>/cancel")
@endpoint("instances.admin", write=True)
def cancel_instance(user, instance_id):
    reason = body_text(json_body(), "reason", max_length=FREE_TEXT_MAX, multiline=True)
    runs.cancel(instance_id, user, reason)
    return AfterCommit(lambda: jsonify(instance_json(db.session.get_one(ProcessInstance, instance_id))))


INSTANCE_STATUS = {"enum": list(runs.STATUSES)}
COMPONENTS.update({
    "InstanceSummary": obj({
        "id": ID, "process_id": {"type": "string"}, "process_name": {"type": "string"}, "version": {"type": "integer"},
        "status": INSTANCE_STATUS, "error": nullable({"type": "string"}),
        "order_number": nullable({"type": "string"}), "started_by": nullable({"type": "string"}),
        "created_at": STAMP, "finished_at": nullable(STAMP)}),
    "StartInstance": {"type": "object", "additionalProperties": False, "properties": {
        "data": {"type": "object", "description": "start data: the start form's fields when the diagram has one"}}},
    "InstanceCancel": {"type": "object", "required": ["reason"], "properties": {
        "reason": {"type": "string", "minLength": 1, "maxLength": FREE_TEXT_MAX, "pattern": r"\S"}}},
})
COMPONENTS["Instance"] = {"allOf": [ref("InstanceSummary"), obj({
    "tasks": {"type": "array", "items": ref("Task"), "description": "its open tasks"},
    "data": {"type": "object", "description": "the process's data now (at its end: what it finished with)"}})]}
COMPONENTS["InstanceList"] = obj({"count": {"type": "integer", "minimum": 0},
                                  "items": {"type": "array", "items": ref("InstanceSummary")}})
COMPONENTS["InstanceLog"] = obj({"count": {"type": "integer", "minimum": 0}, "items": {"type": "array", "items": obj({
    "at": STAMP, "bpmn_id": {"type": "string", "description": "the element whose script printed it"},
    "text": {"type": "string", "maxLength": 2000}})}})
INSTANCE_ID = _path("instance_id", ID)
PATHS["/processes/{process_id}/instances"] = {"post": _op(
    "Start an instance of a deployed process (not the order lifecycle: an order starts that) with start data",
    {201: ("started and run to its first wait", "Instance"), 403: "roles the process does not let start it",
     404: "no such process", 409: "the order lifecycle, started by creating an order"},
    body="StartInstance", params=[PROCESS_ID], tag="instances")}
PATHS["/instances"] = {"get": _op(
    "Process instances no order started that the caller may see (readers all; others what they started or work)",
    {200: ("newest first", "InstanceList"), 403: "employees only"},
    params=[_query("process_id", {"type": "string", "maxLength": 100}), _query("status", INSTANCE_STATUS),
            _query("limit", {"type": "integer", "minimum": 1, "maximum": 500})],
    tag="instances")}
PATHS["/instances/{instance_id}"] = {"get": _op(
    "One instance with its open tasks and data",
    {200: ("the instance", "Instance"), 403: "employees only", 404: "no such instance, or not one the caller sees"},
    params=[INSTANCE_ID], tag="instances")}
PATHS["/instances/{instance_id}/log"] = {"get": _op(
    "What the instance's scripts printed (script tasks, pre- and post-scripts), a line each, newest last",
    {200: ("the last `limit` lines", "InstanceLog"), 403: "staff only", 404: "no such instance"},
    params=[INSTANCE_ID, _query("limit", {"type": "integer", "minimum": 1, "maximum": 5000})], tag="instances")}
for _name, _text in _ACTION_TEXT.items():
    PATHS[f"/instances/{{instance_id}}/{_name}"] = {"post": _op(
        _text.replace("the order's", "the instance's").replace("of the order", "of the instance"), {
            200: ("the instance after the action", "Instance"), 403: "admins only", 404: "no such instance",
            409: "not possible in the process's present state"},
        body="ProcessAction", params=[INSTANCE_ID], tag="instances")}
PATHS["/instances/{instance_id}/cancel"] = {"post": _op(
    "Cancel a process no order started; its open tasks are cancelled", {
        200: ("cancelled", "Instance"), 403: "admins only", 404: "no such instance",
        409: "an order's process, or one already finished"},
    body="InstanceCancel", params=[INSTANCE_ID], tag="instances")}
