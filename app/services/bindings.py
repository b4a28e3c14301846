"""The app's questions about bindings, answered by the version each order runs on.

"Which of this order's tasks records the payment", "which open tasks of all orders do": a running order
keeps the bindings of its own version, so every answer goes through the order's process definition.
"""
from __future__ import annotations

from flask import current_app
from sqlalchemy import and_, false, or_, select
from sqlalchemy.sql.elements import ColumnElement

from app.engine.bindings import Bindings
from app.extensions import db
from app.models import HumanTask, Order, ProcessDefinition, ProcessInstance


def definition_bindings(definition: ProcessDefinition) -> Bindings:
    """A version's bindings (cached with the version: it never changes)."""
    engine = current_app.extensions["bespoke.engine"]
    return engine.bindings(definition.id, definition.checksum, lambda: definition.spec_json)


def order_bindings(order: Order) -> Bindings:
    """The bindings of the version the order runs on (none before its process starts)."""
    instance = order.instance
    return definition_bindings(instance.definition) if instance is not None else Bindings()


def order_tasks(order: Order, name: str, value: str | None = None) -> ColumnElement[bool]:
    """A condition on HumanTask: a task of this order whose element carries the binding."""
    return and_(HumanTask.order_id == order.id,
                HumanTask.bpmn_id.in_(order_bindings(order).elements(name, value)))


def bound_tasks(name: str, value: str | None = None) -> ColumnElement[bool]:
    """A condition on HumanTask, across orders: its element carries the binding in its order's version."""
    versions_by_ids: dict[tuple[str, ...], list[int]] = {}
    for definition in db.session.execute(select(ProcessDefinition).order_by(ProcessDefinition.id)).scalars():
        ids = tuple(definition_bindings(definition).elements(name, value))
        if ids:
            versions_by_ids.setdefault(ids, []).append(definition.id)
    if not versions_by_ids:
        return false()
    return or_(*(and_(HumanTask.bpmn_id.in_(ids), HumanTask.instance_id.in_(
        select(ProcessInstance.id).where(ProcessInstance.definition_id.in_(versions))))
        for ids, versions in versions_by_ids.items()))
