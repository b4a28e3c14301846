"""A small fixed history for the ratings' tests: three measurers' tasks in April 2027 with known outcomes."""
from __future__ import annotations

from uuid import uuid4

from sqlalchemy import select

from app.extensions import db
from app.models import Claim, Customer, Feedback, HumanTask, Order, OrderStatus, ProcessInstance, User
from tests.support.history import definition_id, msk


def order() -> Order:
    placed = Order(number=f"R-{uuid4().hex[:10]}", kind="wardrobe", channel="phone",
                   customer=Customer(name="Петров Пётр"), status=OrderStatus.ACTIVE)
    db.session.add_all([placed, ProcessInstance(order=placed, definition_id=definition_id(), state="")])
    db.session.flush()
    return placed


def done(by: str, on: Order, created, completed, due=None, bpmn_id: str = "measurement", lane: str = "measurer"):
    """A task of `on` that `by` completed (`due`: its deadline)."""
    user = db.session.execute(select(User).where(User.login == by)).scalar_one()
    db.session.add(HumanTask(task_guid=str(uuid4()), instance_id=_instance(on), order_id=on.id, bpmn_id=bpmn_id,
                             name=bpmn_id, stage=bpmn_id,
                             lane=lane, created_at=created, due_at=due, state="completed", completed_at=completed,
                             completed_by_id=user.id))
    db.session.flush()


def _instance(on: Order) -> int:
    return db.session.execute(select(ProcessInstance.id).where(ProcessInstance.order_id == on.id)).scalar_one()


def measurers_april() -> None:
    """Three measurers in April 2027.

    measurer (Игорь Замеров): A on time, then A came back to measurement (rework); B on time, with a claim and a
    rating of 3; C without a deadline, rated 5. measurer2 (Олег Рулеткин): A again, late; D on time, rated 5.
    head_measurer (Вадим Метров): E, late. A March task of measurer's and a designer's task on A do not count.
    """
    a, b, c, d, e, march = (order() for _ in range(6))
    done("measurer", a, msk(5, 9), msk(5, 11), due=msk(6, 18))
    done("designer", a, msk(5, 11), msk(7, 12), bpmn_id="design", lane="designer")
    done("measurer2", a, msk(8, 9), msk(9, 12), due=msk(9, 10))
    done("measurer", b, msk(6, 9), msk(6, 15), due=msk(7, 18))
    done("measurer", c, msk(7, 9), msk(7, 10))
    done("measurer2", d, msk(12, 9), msk(12, 11), due=msk(12, 18))
    done("head_measurer", e, msk(13, 9), msk(15, 9), due=msk(14, 9))
    done("measurer", march, msk(1, 9).replace(month=3), msk(2, 9).replace(month=3), due=msk(3, 9).replace(month=3))
    db.session.add_all([Claim(order_id=b.id, text="Размеры не сошлись"),
                        Feedback(order_id=b.id, kind="rating", rating=3),
                        Feedback(order_id=c.id, kind="rating", rating=5),
                        Feedback(order_id=d.id, kind="rating", rating=5),
                        Feedback(order_id=e.id, kind="praise", rating=None, comment="Спасибо")])
