"""The customer's side through the status link's token: the order and the customer's own tasks."""
from __future__ import annotations

from flask import jsonify, request, url_for
from sqlalchemy import select

from app.api import bp
from app.api.auth import AfterCommit, endpoint, json_body
from app.api.orders import load_order
from app.api.schemas import _iso, _money, task_detail_json
from app.errors import NotFound
from app.extensions import db
from app.models import HumanTask, Order
from app.services import customer_view, status_links
from app.services.inputs import body_object
from app.services.status_links import order_for_token, status_url
from app.usecases import tasks as task_cases
from app.web import limited


def _customer_tasks(order: Order) -> list[HumanTask]:
    return list(db.session.execute(select(HumanTask).where(HumanTask.order_id == order.id,
                                                           HumanTask.state == "open",
                                                           HumanTask.lane == customer_view.CUSTOMER_LANE)).scalars())


@bp.get("/status/<token>")
@limited
@endpoint("public")
def customer_status(_user, token):
    """What the status page shows, as JSON (for a mobile app or a chat bot); same link, same limits."""
    order = order_for_token(token)
    view = customer_view.view(order)
    manager = view.manager
    return jsonify({
        "number": order.number, "kind": order.kind, "kind_label": order.kind_label,
        "stage": order.stage, "status": order.status, "current": view.current_label, "now": view.now_text,
        "expected_at": _iso(view.expected_at), "next": view.next_label, "promised_date": _iso(order.promised_date),
        "estimated_on": _iso(view.estimated_on),
        "milestones": [{"code": m.code, "label": m.label, "state": m.state, "reached_at": _iso(m.reached_at)}
                       for m in view.milestones],
        "appointments": [{"label": a.label, "at": _iso(a.at), "specialist": a.person} for a in view.appointments],
        "documents": [{"kind": d.kind, "version": d.version, "filename": d.filename,
                       "url": url_for("status.document", token=token, document_id=d.id)} for d in view.documents],
        "price": _money(order.price), "paid": _money(view.paid), "balance": _money(view.balance),
        "payments": [{"date": _iso(p.paid_on), "amount": _money(p.amount)} for p in order.payments],
        "manager": {"name": manager.name, "phone": manager.phone, "email": manager.email} if manager else None,
        "claims": [{"text": c.text, "status": c.status, "state": customer_view.claim_state(c),
                    "filed_at": _iso(c.created_at), "resolved_at": _iso(c.resolved_at)} for c in view.claims],
        "tasks": [task_detail_json(t) for t in view.tasks]})


@bp.post("/status/<token>/tasks/<int:task_id>/complete")
@limited
@endpoint("public", write=True)
def customer_complete(_user, token, task_id):
    order = order_for_token(token)
    task = next((t for t in _customer_tasks(order) if t.id == task_id), None)
    if task is None:
        raise NotFound("Not found")
    task_cases.complete_task(task.id, body_object(json_body(), "data"), customer_view.customer_account())
    return AfterCommit(lambda: jsonify({"number": order.number, "stage": db.session.get(Order, order.id).stage}))


def _link_json(order: Order) -> dict:
    return {"number": order.number, "status_url": status_url(order) or None, "revoked": not order.status_key}


@bp.route("/orders/<number>/status-link", methods=["POST", "DELETE"])
@endpoint("orders.status_link", write=True)
def status_link(user, number):
    """POST: a new link for the customer (every earlier one answers 404 from now on); DELETE: revoke it."""
    order = load_order(user, number)
    (status_links.reissue if request.method == "POST" else status_links.revoke)(order, user)
    return AfterCommit(lambda: jsonify(_link_json(db.session.get(Order, order.id))))
