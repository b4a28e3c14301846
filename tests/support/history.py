"""Builders of an order history: finished and active orders that waited at given tasks at given moments."""
from __future__ import annotations

from datetime import date, datetime
from uuid import uuid4
from zoneinfo import ZoneInfo

MSK = ZoneInfo("Europe/Moscow")


def msk(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment of April 2027 in Moscow (no public holidays that month)."""
    return datetime(2027, 4, day, hour, minute, tzinfo=MSK)


def definition_id() -> int:
    """The deployed order lifecycle's version (the history's instances point at it)."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import ProcessDefinition

    return db.session.execute(select(ProcessDefinition.id).where(
        ProcessDefinition.process_id == "order_lifecycle")).scalars().first()


def make_order(kind: str, stages: list[tuple[str, datetime]], completed_at: datetime | None = None,
               promised: date | None = None, lane: str = "production"):
    """An order that waited at each (bpmn_id, entered) in turn: finished at `completed_at`, else still at the last."""
    from app.extensions import db
    from app.models import Customer, HumanTask, Order, OrderStatus, ProcessInstance

    customer = Customer(name="Петров Пётр")
    order = Order(number=f"T-{uuid4().hex[:12]}", kind=kind, channel="phone", customer=customer, stage=stages[-1][0],
                  status=OrderStatus.COMPLETED if completed_at else OrderStatus.ACTIVE, completed_at=completed_at,
                  promised_date=promised)
    instance = ProcessInstance(order=order, definition_id=definition_id(), state="",
                               status="completed" if completed_at else "running")
    db.session.add_all([order, instance])
    db.session.flush()
    for index, (bpmn_id, entered) in enumerate(stages):
        ends = completed_at if index == len(stages) - 1 else stages[index + 1][1]
        db.session.add(HumanTask(task_guid=str(uuid4()), instance_id=instance.id, order_id=order.id, bpmn_id=bpmn_id,
                                 name=bpmn_id, stage=bpmn_id, lane=lane, created_at=entered,
                                 state="open" if ends is None else "completed", completed_at=ends))
    db.session.flush()
    return order
