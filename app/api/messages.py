"""Messages from outside (bank, 1C, integrations) delivered to an order's process by its number."""
from __future__ import annotations

from flask import jsonify

from app import policy
from app.api import bp
from app.api.auth import AfterCommit, endpoint, json_body
from app.errors import NotFound
from app.extensions import db
from app.models import Order
from app.services import orders as order_service
from app.services.inputs import body_object, body_text
from app.usecases.messages import deliver_message


@bp.post("/messages/<name>")
@endpoint("messages.send", write=True)
def send_message(user, name):
    policy.ensure(user, "messages.send", name)
    body = json_body()
    number = body_text(body, "order_number", max_length=20, required="required")
    payload = body_object(body, "payload")
    try:
        order = order_service.get_order(number)
    except NotFound:
        raise NotFound(f"No order {number} waits for message '{name}': the order does not exist") from None
    deliver_message(order, name, payload, user)
    order_id = order.id

    def respond():
        order = db.session.get(Order, order_id)
        response = jsonify({"accepted": True, "message": name, "order_number": order.number,
                            "stage": order.stage, "status": order.status})
        response.status_code = 202
        return response

    return AfterCommit(respond)
