"""Notifications run beside the main path: the next person's task never waits for a message to go out."""
from __future__ import annotations

import os
import time
from pathlib import Path

from lxml import etree
from sqlalchemy import select

from app.extensions import db
from app.models import Notification, OutboxJob
from tests.support.api import HAPPY_CASH, Api
from tests.support.workers import run_burst

DIAGRAM = Path(__file__).resolve().parent.parent / "processes" / "order_lifecycle.bpmn"
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
      "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
      "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core"}


def _diagram():
    tree = etree.parse(str(DIAGRAM))
    nodes = {n.get("id"): n for n in tree.xpath("//bpmn:process//*[bpmn:incoming or bpmn:outgoing]", namespaces=NS)}
    flows = {f.get("id"): f for f in tree.xpath("//bpmn:sequenceFlow", namespaces=NS)}
    return tree, nodes, flows


def test_every_notification_is_on_a_branch_of_its_own_that_reaches_no_one():
    tree, nodes, flows = _diagram()
    notifications = tree.xpath("//bpmn:serviceTask[.//spiffworkflow:serviceTaskOperator[@id='notify']]",
                               namespaces=NS)
    assert len(notifications) == 12
    for task in notifications:
        # Split off by a parallel gateway (any engine runs the main path on without waiting) …
        [incoming] = task.findall("bpmn:incoming", NS)
        source = nodes[flows[incoming.text].get("sourceRef")]
        assert etree.QName(source).localname == "parallelGateway", task.get("id")
        # … and nothing after it but its own end: no person's task, no order status waits on it.
        seen, todo = set(), [task]
        while todo:
            node = todo.pop()
            for out in node.findall("bpmn:outgoing", NS):
                target = nodes[flows[out.text].get("targetRef")]
                if target.get("id") not in seen:
                    seen.add(target.get("id"))
                    todo.append(target)
        kinds = {etree.QName(nodes[n]).localname for n in seen}
        assert kinds == {"endEvent"}, (task.get("id"), seen)
        assert not any(nodes[n].find("bpmn:extensionElements", NS) is not None for n in seen), task.get("id")


def test_the_diagram_draws_every_element_it_runs():
    tree, nodes, flows = _diagram()
    shapes = set(tree.xpath("//bpmndi:BPMNShape/@bpmnElement", namespaces=NS))
    edges = set(tree.xpath("//bpmndi:BPMNEdge/@bpmnElement", namespaces=NS))
    boundaries = set(tree.xpath("//bpmn:boundaryEvent/@id", namespaces=NS))
    assert set(nodes) | boundaries <= shapes
    assert set(flows) <= edges


def test_with_no_worker_the_next_task_opens_at_once_and_the_message_goes_out_later(make_app):
    app = make_app(JOBS_INLINE=False, RQ_QUEUE=f"bespoke-test-{os.getpid()}-{time.monotonic_ns()}")
    api = Api(app, app.test_client())
    number = api.create_order()
    api.step(number, "new_order")
    assert api.open_task(number)["bpmn_id"] == "plan_measurement"
    api.step(number, "plan_measurement")
    assert api.open_task(number)["bpmn_id"] == "measurement"
    with app.app_context():
        queued = db.session.execute(select(OutboxJob.params).where(OutboxJob.operator == "notify",
                                                                   OutboxJob.status == "queued")
                                    .order_by(OutboxJob.id)).scalars().all()
    assert [p["event"] for p in queued] == ["order_received", "visit_booked"]

    worker = run_burst(app)
    assert worker.returncode == 0, worker.stderr[-2000:]
    with app.app_context():
        statuses = set(db.session.execute(select(OutboxJob.status)).scalars())
        sent = db.session.execute(select(Notification.event, Notification.status)).all()
    assert statuses == {"done"}
    assert ("visit_booked", "sent") in sent and ("order_received", "sent") in sent
    assert api.open_task(number)["bpmn_id"] == "measurement"


def test_a_whole_order_with_a_claim_completes_and_every_notification_is_sent(api):
    number = api.create_order("kitchen")
    api.walk(number, HAPPY_CASH)
    assert api.order(number)["status"] == "completed"
    api.step(number, "feedback", {"claim": True})
    api.step(number, "claim_review", {"claim_resolution": "discount"})
    order = api.order(number)
    assert order["tasks"] == [] and order["process"]["status"] == "completed" and order["status"] == "completed"
    with api.app.app_context():
        notify = db.session.execute(select(OutboxJob.params, OutboxJob.status)
                                    .where(OutboxJob.operator == "notify").order_by(OutboxJob.id)).all()
        unsent = db.session.execute(select(Notification.id).where(Notification.status != "sent")).all()
    assert {status for _, status in notify} == {"done"} and unsent == []
    assert [p["event"] for p, _ in notify] == [
        "order_received", "visit_booked", "contract_ready", "payment_received", "production_started",
        "production_finished", "delivery_booked", "completed", "claim_filed", "claim_resolved"]


def test_a_cancelled_order_ends_its_process(api):
    number = api.create_order()
    api.walk(number, HAPPY_CASH[:2])
    response = api.post(f"/orders/{number}/cancel", {"reason": "Заказчик передумал"}, as_="sales")
    assert response.status_code == 200, response.get_json()
    order = api.order(number)
    assert order["status"] == "cancelled" and order["stage"] == "Отменён"
    assert order["tasks"] == [] and order["process"]["status"] == "completed"
    with api.app.app_context():
        events = db.session.execute(select(Notification.event)).scalars().all()
    assert "order_cancelled" in events
