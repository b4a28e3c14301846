"""The customer's side through the status link's token: the order and the customer's own tasks."""
from __future__ import annotations

from flask import jsonify
from sqlalchemy import select

from app.api import bp
from app.api.auth import AfterCommit, endpoint, json_body
from app.api.orders import load_order
from app.api.schemas import task_detail_json
from app.engine import steps
from app.errors import NotFound
from app.extensions import db
from app.models import HumanTask, Order, User
from app.orders.status_link import LINK_KEEPERS
from app.services import status_links
from app.services.notifications import status_url
from app.services.status_links import order_for_token
from app.status.routes import limited

CUSTOMER_LANE = "customer"


def _customer_tasks(order: Order) -> list[HumanTask]:
    return list(db.session.execute(select(HumanTask).where(HumanTask.order_id == order.id,
                                                           HumanTask.state == "open",
                                                           HumanTask.lane == CUSTOMER_LANE)).scalars())


@bp.get("/status/<token>")
@limited
@endpoint(public=True)
def customer_status(_user, token):
    order = order_for_token(token)
    return jsonify({"number": order.number, "kind": order.kind, "kind_label": order.kind_label,
                    "stage": order.stage, "status": order.status,
                    "tasks": [task_detail_json(t) for t in _customer_tasks(order)]})


@bp.post("/status/<token>/tasks/<int:task_id>/complete")
@limited
@endpoint(write=True, public=True)
def customer_complete(_user, token, task_id):
    order = order_for_token(token)
    task = next((t for t in _customer_tasks(order) if t.id == task_id), None)
    if task is None:
        raise NotFound("Not found")
    steps.complete_task(task.id, json_body().get("data", {}), customer_actor())
    return AfterCommit(lambda: jsonify({"number": order.number, "stage": db.session.get(Order, order.id).stage}))


def customer_actor() -> User:
    """The built-in account that stands for customers acting through their status link."""
    user = db.session.execute(select(User).where(User.login == "customer")).scalar_one_or_none()
    if user is None:
        raise NotFound("Customer actions are not enabled (no 'customer' account)")
    return user


def _link_json(order: Order) -> dict:
    return {"number": order.number, "status_url": status_url(order) or None, "revoked": not order.status_key}


@bp.post("/orders/<number>/status-link")
@endpoint(write=True, roles=LINK_KEEPERS)
def reissue_status_link(user, number):
    """A new link for the customer; every earlier one answers 404 from now on."""
    order = load_order(user, number)
    status_links.reissue(order, user)
    return AfterCommit(lambda: jsonify(_link_json(db.session.get(Order, order.id))))


@bp.delete("/orders/<number>/status-link")
@endpoint(write=True, roles=LINK_KEEPERS)
def revoke_status_link(user, number):
    order = load_order(user, number)
    status_links.revoke(order, user)
    return AfterCommit(lambda: jsonify(_link_json(db.session.get(Order, order.id))))
