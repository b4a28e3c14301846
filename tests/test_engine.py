"""Engine internals seen from outside: state without spec, round trips, idempotent jobs."""
from __future__ import annotations

import json

from sqlalchemy import select

from app.engine import engine
from app.extensions import db
from app.models import Document, HumanTask, Order, OutboxJob, ProcessInstance
from app.services.calendar import BusinessCalendar
from app.usecases.jobs import execute_job
from tests.support.api import HAPPY_CASH


def test_state_is_stored_without_the_spec_and_round_trips_mid_walk(api, app):
    number = api.create_order()
    api.walk(number, HAPPY_CASH[:3])
    with app.app_context():
        instance = db.session.execute(select(ProcessInstance).join(Order).where(Order.number == number)).scalar_one()
        state = json.loads(instance.state)
        assert "spec" not in state and "subprocess_specs" not in state
        eng = engine()
        definition = instance.definition
        specs = eng.specs(definition.id, definition.checksum, lambda: definition.spec_json)
        workflow = eng.load(specs, instance.state)
        again = eng.dump(workflow)
        assert json.loads(again) == json.loads(eng.dump(eng.load(specs, again)))
        ready = [t.task_spec.bpmn_id for t in workflow.get_tasks(manual=True) if eng.state_of(t) == "READY"]
        assert ready == ["prepare_contract"]
        instance.state = again  # continue from the re-serialized state
        db.session.commit()
    api.walk(number, HAPPY_CASH[3:])
    assert api.order(number)["status"] == "completed"


def test_a_job_run_twice_has_one_effect(api, app):
    number = api.create_order()
    api.walk(number, HAPPY_CASH[:4])
    with app.app_context():
        job = db.session.execute(select(OutboxJob).where(OutboxJob.operator == "documents.render")).scalar_one()
        assert job.status == "done" and job.attempts == 1
        docs_before = db.session.execute(select(Document.kind, Document.version).order_by(Document.id)).all()
        assert execute_job(job.id) == "skipped"
        # A redelivery after a crash that lost the "done" mark: the operator and the completion are no-ops.
        db.session.get(OutboxJob, job.id).status = "queued"
        db.session.commit()
        assert execute_job(job.id) == "done"
        assert db.session.execute(select(Document.kind, Document.version).order_by(Document.id)).all() == docs_before
    order = api.order(number)
    assert order["tasks"][0]["bpmn_id"] == "payment"
    assert sorted(d["kind"] for d in order["documents"]) == ["contract", "invoice"]


def test_next_timer_is_indexed_per_instance(api, app):
    number = api.create_order()
    with app.app_context():
        instance = db.session.execute(select(ProcessInstance).join(Order).where(Order.number == number)).scalar_one()
        task = db.session.get(HumanTask, api.open_task(number)["id"])
        # The earliest timer is the 75 % warning of the 4-working-hour new-order SLA, before the deadline.
        warning = BusinessCalendar.from_config(app.config).add(task.created_at, 3)
        assert abs((instance.next_timer_at - warning).total_seconds()) < 2
        assert instance.next_timer_at < task.due_at
