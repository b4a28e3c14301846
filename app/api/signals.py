"""Signals from outside: `POST /api/v1/signals/{name}` throws one to every running instance waiting for it, or to
the one named by `instance_id`."""
from __future__ import annotations

from flask import jsonify

from app import policy
from app.api import bp
from app.api.auth import AfterCommit, endpoint, json_body
from app.api.openapi import PATHS, _op, _path
from app.api.schemas import COMPONENTS, ID, obj
from app.errors import ValidationError
from app.services.inputs import body_object
from app.usecases.signals import throw_signal


def _instance_id(body: dict) -> int | None:
    value = body.get("instance_id")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError("instance_id must be a positive integer",
                              fields={"instance_id": "a positive integer (an instance's id), or leave it out"})
    return value


@bp.post("/signals/<name>")
@endpoint("messages.send", write=True)
def send_signal(user, name):
    policy.ensure(user, "messages.send", name)
    body = json_body()
    if len(name) > 100:
        raise ValidationError("signal name is longer than 100 characters", fields={"name": "at most 100 characters"})
    caught = [i.id for i in throw_signal(name, body_object(body, "payload"), user, _instance_id(body))]

    def respond():
        response = jsonify({"accepted": True, "signal": name, "instances": caught})
        response.status_code = 202
        return response

    return AfterCommit(respond)


COMPONENTS.update({
    "Signal": {"type": "object", "additionalProperties": True, "properties": {
        "payload": {"type": "object", "description": "lands in the variable the diagram's signal names"},
        "instance_id": {"type": ["integer", "null"], "minimum": 1,
                        "description": "throw it to this instance only; without it, to every one waiting"}}},
    "SignalAccepted": obj({"accepted": {"const": True}, "signal": {"type": "string"},
                           "instances": {"type": "array", "items": ID, "description": "the instances that caught it"}}),
})
PATHS["/signals/{name}"] = {"post": _op(
    "Throw a signal into the running instances that wait for it (or into one)",
    {202: ("caught", "SignalAccepted"), 403: "your roles may not send this signal", 404: "no such instance",
     409: "no running instance waits for it now"},
    body="Signal", params=[_path("name", {"type": "string", "maxLength": 100})], tag="messages")}
