"""A workflow loaded ahead after an answer went out (`ProcessEngine.load_ahead`) is taken by the instance's next
step only while the database still holds the state it was loaded from: two server processes on one database,
each stepping the order in turn, never act on a workflow the other has moved on since."""
from __future__ import annotations

from sqlalchemy import select

from app.engine import engine
from app.extensions import db
from app.models import Order
from tests.support.api import HAPPY_CASH, Api


def loaded_ahead(app, number: str) -> bool:
    """Whether this process holds the order's workflow loaded ahead (and of the state it has now)."""
    with app.app_context():
        order = db.session.execute(select(Order).where(Order.number == number)).scalar_one()
        return engine().holds_ahead(order.instance.id, order.instance.state)


def test_two_processes_stepping_one_order_each_take_only_the_state_the_database_holds(make_app):
    one, two = make_app(RQ_QUEUE="one"), make_app(RQ_QUEUE="two")  # two processes' apps, one database
    apis = {"one": Api(one, one.test_client()), "two": Api(two, two.test_client())}
    number = apis["one"].create_order()
    # Runs of the same process (its own state ahead: taken) and changes of process (the other's state is older
    # than the database's: the step must load the database's, or its task is no longer waiting there).
    turns = ["one", "one", "two", "one", "two", "two", "one", "two", "two"]
    for bpmn_id, turn in zip(HAPPY_CASH, turns, strict=True):
        other = "two" if turn == "one" else "one"
        apis[turn].step(number, bpmn_id)
        assert loaded_ahead(apis[turn].app, number), bpmn_id  # the answer went out: loaded for the next step
        assert not loaded_ahead(apis[other].app, number), bpmn_id
    order = apis["two"].order(number)
    assert order["status"] == "completed", order
    done = [e["details"]["bpmn_id"] for e in apis["one"].get(f"/orders/{number}/history").get_json()["items"]
            if e["kind"] == "task" and e["new"] == "completed"]
    assert done[:len(HAPPY_CASH)] == HAPPY_CASH  # each task once, in order: no step acted on an older workflow
