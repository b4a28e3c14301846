"""Appending to the audit log: one function per kind of change.

An event is written at once, as a plain insert on the unit of work's connection: nothing in the request reads the
row back as an object, so it costs no ORM object and no part of a flush, and it does not flush what the unit of
work has staged (a step's writes go out together at the commit). It still rolls back with the unit of work.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert

from app.extensions import db
from app.models import AuditEvent, User


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, (date, Decimal)):
        return str(value)
    if hasattr(value, "login"):
        return value.login
    return str(value)


def _actor(actor: User | str | None) -> dict:
    if isinstance(actor, User):
        return {"actor_id": actor.id, "actor_label": actor.login}
    return {"actor_id": None, "actor_label": actor or "system"}


def record(order_id: int | None, kind: str, actor: User | str | None, *, field: str | None = None,
           old: Any = None, new: Any = None, entity: str = "order", entity_id: Any = None,
           details: dict | None = None, instance_id: int | None = None) -> None:
    """Write one audit event in the current unit of work (`instance_id`: the process it happened in)."""
    db.session.connection().execute(_INSERT, {
        "order_id": order_id, "instance_id": instance_id, "kind": kind, "entity": entity,
        "entity_id": None if entity_id is None else str(entity_id), "field": field, "old_value": _text(old),
        "new_value": _text(new), "details": details, **_actor(actor)})


_INSERT = insert(AuditEvent)


def set_field(obj, field: str, value: Any, actor: User | str | None, order_id: int | None,
              entity: str = "order") -> bool:
    """Set an attribute and log old → new when it really changes."""
    old = getattr(obj, field)
    if _text(old) == _text(value):
        return False
    setattr(obj, field, value)
    record(order_id, "field", actor, field=field, old=old, new=value, entity=entity,
           entity_id=getattr(obj, "id", None))
    return True
