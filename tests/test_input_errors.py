"""A service task that refuses a person's data sends the order back to that person, with the reason shown."""
from __future__ import annotations

import json
import os
import time

from sqlalchemy import select

from app.extensions import db
from app.models import OutboxJob
from app.services.documents import format_money
from app.usecases.deploy import deploy, read_directory
from app.usecases.jobs import execute_job
from app.usecases.uow import unit_of_work
from tests.support.api import HAPPY_CASH, Api
from tests.support.web import signed_in
from tests.support.workers import run_burst

REFUSED = {"price": 50000.0, "prepayment": 60000.0}
REASON = f"предоплата {format_money(60000)} больше стоимости заказа {format_money(50000)}"


def deploy_forms_without_rules(app) -> None:
    """A new version whose forms have no cross-field rules: the platform must not rely on forms alone."""
    with app.app_context():
        with unit_of_work():
            for name, bpmn, dmn, forms in read_directory(app.config["PROCESSES_DIR"], app.config["FORMS_DIR"]):
                bare = {}
                for form in ("prepare_contract.schema.json", "claim_review.schema.json"):
                    schema = json.loads(forms[form])
                    bare[form] = json.dumps({k: v for k, v in schema.items() if not k.startswith("x-")}).encode()
                deploy(bpmn, name, dmn, {**forms, **bare}, None, replace=True)


def jobs(app, operator: str) -> list[OutboxJob]:
    with app.app_context():
        rows = db.session.execute(select(OutboxJob).where(OutboxJob.operator == operator)
                                  .order_by(OutboxJob.id)).scalars().all()
        db.session.expunge_all()
        return rows


def incidents(app) -> int:
    with app.app_context():
        return len(db.session.execute(select(OutboxJob.id).where(OutboxJob.status == "incident")).all())


def test_a_contract_the_operator_refuses_reopens_the_managers_task_with_the_reason(make_app):
    app = make_app(WTF_CSRF_ENABLED=False)
    deploy_forms_without_rules(app)
    api = Api(app, app.test_client())
    number = api.create_order("kitchen")
    api.walk(number, HAPPY_CASH[:3])
    first = api.open_task(number)
    api.step(number, "prepare_contract", REFUSED)

    # The order is back at «Подготовка договора», a new task with what was typed and why it was refused.
    order = api.order(number)
    assert order["stage"] == "Подготовка договора" and order["status"] == "active"
    task = api.open_task(number)
    assert task["bpmn_id"] == "prepare_contract" and task["id"] != first["id"] and task["lane"] == "sales"
    detail = api.get(f"/tasks/{task['id']}", as_="sales").get_json()
    assert detail["data"]["input_error"]["title"] == "Договор не сформирован"
    assert detail["data"]["input_error"]["message"] == REASON
    assert detail["data"]["price"] == 50000.0 and detail["data"]["prepayment"] == 60000.0
    page = signed_in(app, "sales").get(f"/tasks/{task['id']}").get_data(as_text=True)
    assert f"Договор не сформирован: {REASON}" in page

    # Refused once, not retried, no incident; no document was stored; the history says why.
    [render] = jobs(app, "documents.render")
    assert (render.status, render.attempts, render.last_error) == ("rejected", 1, REASON)
    assert incidents(app) == 0 and order["documents"] == []
    history = api.get(f"/orders/{number}/history").get_json()["items"]
    assert any(e["kind"] == "job" and e["new"] == f"Договор не сформирован: {REASON}" for e in history), history

    # Corrected, the order goes on to payment with both documents; the reason is not carried forward.
    api.step(number, "prepare_contract", {"price": 50000.0, "prepayment": 20000.0})
    payment = api.open_task(number)
    assert payment["bpmn_id"] == "payment"
    assert "input_error" not in api.get(f"/tasks/{payment['id']}", as_="accountant").get_json()["data"]
    assert sorted(d["kind"] for d in api.order(number)["documents"]) == ["contract", "invoice"]
    assert "Договор не сформирован" not in signed_in(app, "accountant").get(f"/tasks/{payment['id']}").get_data(
        as_text=True)


def test_with_a_worker_process_the_refusal_reaches_the_manager(make_app):
    app = make_app(JOBS_INLINE=False, RQ_QUEUE=f"bespoke-test-{os.getpid()}-{time.monotonic_ns()}")
    deploy_forms_without_rules(app)
    api = Api(app, app.test_client())
    number = api.create_order()
    api.walk(number, HAPPY_CASH[:3])
    api.step(number, "prepare_contract", REFUSED)
    assert api.open_task(number) is None  # the contract is being rendered by a worker

    worker = run_burst(app)
    assert worker.returncode == 0, worker.stderr[-2000:]
    task = api.open_task(number)
    assert task is not None and task["bpmn_id"] == "prepare_contract", task
    assert api.get(f"/tasks/{task['id']}", as_="sales").get_json()["data"]["input_error"]["message"] == REASON
    assert [(j.status, j.attempts) for j in jobs(app, "documents.render")] == [("rejected", 1)]
    assert incidents(app) == 0

    api.step(number, "prepare_contract", {"price": 50000.0, "prepayment": 10000.0})
    assert run_burst(app).returncode == 0
    assert api.open_task(number)["bpmn_id"] == "payment"


def test_a_claim_report_the_operator_refuses_reopens_the_review(make_app):
    app = make_app()
    deploy_forms_without_rules(app)
    api = Api(app, app.test_client())
    number = api.create_order()
    api.walk(number, HAPPY_CASH, {"price": 90000.0, "prepayment": 30000.0})
    api.step(number, "feedback", {"claim": True})
    api.step(number, "claim_review", {"claim_resolution": "discount"}, discount_amount=95000.0)
    task = api.open_task(number)
    assert task["bpmn_id"] == "claim_review" and task["lane"] == "quality"
    error = api.get(f"/tasks/{task['id']}", as_="quality").get_json()["data"]["input_error"]
    assert error["title"] == "Акт не сформирован"
    assert error["message"] == (f"скидка по претензии {format_money(95000)} "
                                f"больше стоимости заказа {format_money(90000)}")
    assert incidents(app) == 0
    api.step(number, "claim_review", {"claim_resolution": "discount"}, discount_amount=5000.0)
    order = api.order(number)
    assert order["process"]["status"] == "completed" and "claim_report" in [d["kind"] for d in order["documents"]]


def test_a_refusal_no_boundary_event_catches_is_an_incident_at_once(api):
    # The acceptance act is rendered from the installer's report, but its sums come from the contract:
    # the installer cannot correct them, so the diagram sends nobody back and an admin gets an incident.
    number = api.create_order()
    api.walk(number, HAPPY_CASH[:-1], {"price": 90000.0, "prepayment": 30000.0})
    with api.app.app_context():
        from app.models import Order

        with unit_of_work():
            order = db.session.execute(select(Order).where(Order.number == number)).scalar_one()
            order.prepayment = order.price + 1
    api.step(number, "installation")
    [act] = [j for j in jobs(api.app, "documents.render") if j.bpmn_id == "render_act"]
    assert (act.status, act.attempts) == ("incident", 1)  # not retried: the same data fails the same way
    assert "предоплата" in act.last_error
    assert api.open_task(number) is None and api.order(number)["stage"] == "Доставка и монтаж"


def test_a_transient_failure_still_retries_and_then_becomes_an_incident(make_app):
    app = make_app(ONEC_URL="http://127.0.0.1:9/odata/standard.odata", ONEC_USER="Обмен", ONEC_PASSWORD="x")
    api = Api(app, app.test_client())
    number = api.create_order()
    api.walk(number, HAPPY_CASH[:5])
    [sync] = jobs(app, "onec.sync")
    assert (sync.status, sync.attempts) == ("pending", 1) and "1С недоступна" in sync.last_error
    with app.app_context():
        for _ in range(sync.max_attempts - 1):
            assert execute_job(sync.id) == "failed"
    [sync] = jobs(app, "onec.sync")
    assert (sync.status, sync.attempts) == ("incident", sync.max_attempts)
    assert api.open_task(number) is None  # nobody's data was wrong: nobody is sent back
