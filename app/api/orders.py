"""Orders: intake, lists, the order with its tasks and documents, history, cancellation."""
from __future__ import annotations

from flask import Response, jsonify, request
from sqlalchemy import func, or_, select

from app import policy
from app.api import bp
from app.api.auth import AfterCommit, created, endpoint, json_body
from app.api.schemas import _iso, order_json, order_summary_json
from app.errors import NotFound
from app.extensions import db
from app.models import AuditEvent, Document, Notification, Order, User
from app.services.inputs import FREE_TEXT_MAX, body_text, int_arg
from app.services.order_search import search_orders, sorted_by
from app.services.status_links import status_url
from app.usecases.messages import cancel_order as cancel_order_step
from app.usecases.orders import place_order

MAX_PER_PAGE = 200
PUBLIC_HISTORY = ("stage", "status", "field")  # what a partner may read: not tasks, jobs or messages
STAFF_FIELDS = ("note",)  # internal notes are logged as field events too


def load_order(user: User, number: str) -> Order:
    order = db.session.execute(policy.visible_orders(user).where(Order.number == number)).scalar_one_or_none()
    if order is None:
        raise NotFound(f"Order {number} does not exist")
    return order


@bp.post("/orders")
@endpoint("orders.intake", write=True)
def create_order(user):
    payload = json_body()
    if not policy.is_staff(user):
        policy.ensure(user, "partner.portal")  # a partner's account with its partner
        payload = {**payload, "partner": user.partner.code, "channel": "partner"}
    order_id = place_order(payload, user).id

    def respond():
        order = db.session.get_one(Order, order_id)
        return created({"number": order.number, "status": order.status, "stage": order.stage,
                        "status_url": status_url(order)}, f"/orders/{order.number}")

    return AfterCommit(respond)


@bp.get("/orders")
@endpoint("orders.view")
def list_orders(user):
    query = search_orders(user, request.args)
    page = int_arg(request.args, "page", 1, 1, 10**6)
    per_page = int_arg(request.args, "per_page", 50, 1, MAX_PER_PAGE)
    total = db.session.execute(select(func.count()).select_from(query.subquery())).scalar()
    rows = db.session.execute(sorted_by(query, {}).offset((page - 1) * per_page).limit(per_page)).scalars().all()
    return jsonify({"items": [order_summary_json(o) for o in rows], "page": page, "per_page": per_page,
                    "total": total, "pages": (total + per_page - 1) // per_page})


@bp.get("/orders/<number>")
@endpoint("orders.view")
def get_order(user, number):
    return jsonify(order_json(load_order(user, number)))


@bp.get("/orders/<number>/history")
@endpoint("orders.view")
def order_history(user, number):
    order = load_order(user, number)
    events = select(AuditEvent).where(AuditEvent.order_id == order.id)
    if not policy.is_staff(user):
        events = events.where(AuditEvent.kind.in_(PUBLIC_HISTORY), AuditEvent.entity != "note",
                              or_(AuditEvent.field.is_(None), AuditEvent.field.notin_(STAFF_FIELDS)))
    events = db.session.execute(events.order_by(AuditEvent.id)).scalars().all()
    return jsonify({"number": order.number, "items": [
        {"at": _iso(e.at), "kind": e.kind, "entity": e.entity, "entity_id": e.entity_id, "field": e.field,
         "old": e.old_value, "new": e.new_value, "actor": e.actor_label, "details": e.details} for e in events]})


@bp.get("/orders/<number>/notifications")
@endpoint("orders.notifications")  # messages carry the customer's and employees' addresses
def order_notifications(user, number):
    order = load_order(user, number)
    rows = db.session.execute(select(Notification).where(Notification.order_id == order.id)
                              .order_by(Notification.id)).scalars().all()
    return jsonify({"number": order.number, "items": [
        {"id": n.id, "event": n.event, "channel": n.channel, "recipient": n.recipient, "subject": n.subject,
         "body": n.body, "status": n.status, "error": n.error, "provider": n.provider,
         "provider_ref": n.provider_ref, "segments": n.segments, "locale": n.locale,
         "attachments": n.attachments or [], "created_at": _iso(n.created_at), "sent_at": _iso(n.sent_at)}
        for n in rows]})


@bp.get("/orders/<number>/documents/<int:document_id>")
@endpoint("orders.view")
def download_document(user, number, document_id):
    order = load_order(user, number)
    document = db.session.get(Document, document_id)
    if document is None or document.order_id != order.id:
        raise NotFound(f"Document {document_id} of order {number} does not exist")
    return Response(document.content, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{document.filename}"'})


@bp.post("/orders/<number>/cancel")
@endpoint("orders.cancel", write=True)
def cancel_order(user, number):
    order = load_order(user, number)
    cancel_order_step(order, body_text(json_body(), "reason", max_length=FREE_TEXT_MAX, multiline=True), user)
    return AfterCommit(lambda: jsonify(order_json(db.session.get(Order, order.id))))
