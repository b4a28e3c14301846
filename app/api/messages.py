"""Messages from outside (bank, 1C, integrations) delivered to a process: an order's by its number, an instance by
its id, or the instance(s) waiting for the message whose correlation values match."""
from __future__ import annotations

from flask import jsonify

from app.api import bp
from app.api.auth import AfterCommit, endpoint, json_body
from app.errors import ValidationError
from app.extensions import db
from app.models import Order, ProcessInstance
from app.services.inputs import body_object, body_text
from app.usecases.messages import send

MAX_ID = 2**31 - 1  # the key columns are INTEGER on PostgreSQL


@bp.post("/messages/<name>")
@endpoint("messages.send", write=True)
def send_message(user, name):
    body = json_body()
    number = body_text(body, "order_number", max_length=20) or None
    instance_id = body.get("instance_id")
    if instance_id is not None and (not isinstance(instance_id, int) or isinstance(instance_id, bool)
                                    or not 1 <= instance_id <= MAX_ID):
        raise ValidationError("'instance_id' must be a positive integer", fields={"instance_id": "Ожидается число"})
    correlation = body_object(body, "correlation")
    delivery = send(name, body_object(body, "payload"), user, order_number=number, instance_id=instance_id,
                    correlation=correlation)

    def respond():
        instance = db.session.get_one(ProcessInstance, delivery.instance_ids[0])
        order = db.session.get(Order, instance.order_id) if instance.order_id else None
        response = jsonify({"accepted": True, "message": name, "instance_id": instance.id,
                            "instance_ids": delivery.instance_ids, "order_number": order.number if order else None,
                            "stage": order.stage if order else None,
                            "status": order.status if order else instance.status})
        response.status_code = 202
        return response

    return AfterCommit(respond)
