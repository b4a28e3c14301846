"""Human tasks: lists by scope, one task with its form, claim/assign, complete."""
from __future__ import annotations

from flask import jsonify, request
from sqlalchemy import Select, and_, bindparam, or_

from app import clock, policy
from app.api import bp
from app.api.auth import AfterCommit, endpoint, json_body
from app.api.schemas import task_detail_json, task_json, task_row_json, task_rows
from app.errors import ValidationError
from app.extensions import db, plain
from app.models import HumanTask, Order, ProcessInstance, User
from app.services.inputs import body_object, body_text
from app.usecases import tasks as task_cases


def load_task(user: User, task_id: int) -> HumanTask:
    task = task_cases.get_task(task_id)
    policy.ensure(user, "tasks.view", task.order, task)
    return task


@bp.get("/tasks")
@endpoint("tasks.inbox")
def list_tasks(user):
    scope = request.args.get("scope", "mine")
    if scope not in ("mine", "queue", "all"):
        raise ValidationError("scope must be mine, queue or all", fields={"scope": "mine|queue|all"})
    state = request.args.get("state", "open")
    query = policy.task_scope(user, scope, None if state == "any" else state)
    if request.args.get("order"):
        query = query.where(Order.number == request.args["order"])
    if request.args.get("stage"):
        query = query.where(HumanTask.stage == request.args["stage"])
    if request.args.get("lane"):
        query = query.where(HumanTask.lane == request.args["lane"])
    if request.args.get("overdue") in ("1", "true", "yes"):
        query = query.where(HumanTask.due_at < clock.now())
    rows = db.session.execute(query.order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.id)
                              .limit(500)).scalars().all()
    return jsonify({"scope": scope, "count": len(rows), "items": [task_json(t) for t in rows]})


@bp.get("/tasks/<int:task_id>")
@endpoint("tasks.view")
def get_task(user, task_id):
    return jsonify(task_detail_json(load_task(user, task_id)))


@bp.post("/tasks/<int:task_id>/claim")
@endpoint("tasks.claim", write=True)
def claim(user, task_id):
    return jsonify(task_json(task_cases.claim_task(task_id, user)))


@bp.post("/tasks/<int:task_id>/unclaim")
@endpoint("tasks.unclaim", write=True)
def unclaim(user, task_id):
    return jsonify(task_json(task_cases.unclaim_task(task_id, user)))


@bp.post("/tasks/<int:task_id>/assign")
@endpoint("tasks.assign", write=True)
def assign(user, task_id):
    login = body_text(json_body(), "user", max_length=80)
    return jsonify(task_json(task_cases.assign_task(task_id, login, user)))


# The answer to a completion, one statement for each kind of owner (built once): the task (:task_id) and the open
# tasks of its order or process (:owner) as plain rows, with the order's number, stage and status and the instance's
# status — not the instance's state, no ORM objects.
_ANSWERS: dict[bool, Select] = {}


def _answer(by_order: bool) -> Select:
    statement = _ANSWERS.get(by_order)
    if statement is None:
        owner = HumanTask.order_id if by_order else HumanTask.instance_id
        statement = _ANSWERS[by_order] = task_rows(or_(
            HumanTask.id == bindparam("task_id"), and_(owner == bindparam("owner"), HumanTask.state == "open"))
        ).add_columns(Order.stage.label("order_stage"), Order.status.label("order_status"),
                      ProcessInstance.status.label("instance_status")).order_by(HumanTask.id)
    return statement


def _shown(row) -> dict:
    return task_row_json(row, row.order_number, row.process_id, row.process_name, row.assignee_login)


@bp.post("/tasks/<int:task_id>/complete")
@endpoint("tasks.complete", write=True)
def complete(user, task_id):
    body = json_body()
    task = task_cases.complete_task(task_id, body_object(body, "data"), user)
    task_id, order_id, instance_id = task.id, task.order_id, task.instance_id

    def respond():  # one plain query after the commit
        rows = plain(_answer(order_id is not None), {
            "task_id": task_id, "owner": instance_id if order_id is None else order_id}).all()
        done = next(row for row in rows if row.id == task_id)
        body = {"task": _shown(done), "instance": {"id": instance_id, "status": done.instance_status},
                "order": None, "tasks": [_shown(row) for row in rows if row.state == "open"]}
        if order_id is not None:
            body["order"] = {"number": done.order_number, "stage": done.order_stage, "status": done.order_status}
        return jsonify(body)

    return AfterCommit(respond)
