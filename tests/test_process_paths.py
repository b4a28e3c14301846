"""Every path of the lifecycle diagram, driven through the REST API on the real BPMN."""
from __future__ import annotations

import pytest

from tests.support.api import HAPPY_CASH, Api
from tests.support.workers import flask_command


def kinds_of_documents(order: dict) -> list[str]:
    return sorted(d["kind"] for d in order["documents"])


def notification_events(api: Api, number: str) -> list[str]:
    return [n["event"] for n in api.get(f"/orders/{number}/notifications").get_json()["items"]]


def test_cash_happy_path_to_completed_with_documents_and_notifications(api):
    number = api.create_order("kitchen")
    order = api.order(number)
    assert order["stage"] == "Новый заказ" and order["status"] == "active"
    assert order["tasks"][0]["lane"] == "sales" and order["tasks"][0]["due_at"]

    api.walk(number, HAPPY_CASH, {"payment_type": "cash", "prepayment": 50000.0, "price": 250000.0})

    order = api.order(number)
    assert order["status"] == "completed"
    assert order["stage"] == "Завершён"
    assert order["price"] == "250000.00" and order["payment_type"] == "cash"
    assert [p["amount"] for p in order["payments"]] == ["50000.00"]
    assert {c["status"] for c in order["components"]} == {"in_workshop"}
    assert kinds_of_documents(order) == ["act", "contract", "invoice"]
    pdf = api.get(order["documents"][0]["url"].removeprefix("/api/v1"))
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    events = notification_events(api, number)
    for event in ("order_received", "visit_booked", "contract_ready", "payment_received",
                  "production_started", "production_finished", "delivery_booked", "completed"):
        assert event in events
    # The customer is now asked to rate; rating ends the process.
    task = api.open_task(number)
    assert task["lane"] == "customer" and task["bpmn_id"] == "feedback"
    api.step(number, "feedback", {"rating": 5})
    order = api.order(number)
    assert order["tasks"] == [] and order["process"]["status"] == "completed"
    history = api.get(f"/orders/{number}/history").get_json()["items"]
    stages = [e["new"] for e in history if e["kind"] == "stage"]
    assert stages[:4] == ["Новый заказ", "Планирование выезда на замер", "Замер", "Подготовка договора"]
    assert any(e["field"] == "price" and e["new"] == "250000.00" and e["actor"] == "sales" for e in history)


def test_cashless_path(api):
    number = api.create_order("windows")
    api.walk(number, HAPPY_CASH[:4], {"payment_type": "cashless"})
    assert api.open_task(number)["bpmn_id"] == "payment"
    api.walk(number, HAPPY_CASH[4:], {"payment_type": "cashless"})
    assert api.order(number)["status"] == "completed"


def test_credit_approved_goes_through_the_bank(api):
    number = api.create_order("kitchen")
    api.walk(number, HAPPY_CASH[:4], {"payment_type": "credit"})
    task = api.open_task(number)
    assert task["bpmn_id"] == "bank_decision" and task["lane"] == "accountant"
    assert api.order(number)["stage"] == "Ожидание решения банка"
    api.step(number, "bank_decision")
    assert api.open_task(number)["bpmn_id"] == "payment"


def test_credit_declined_returns_to_contract_for_another_payment_type(api):
    number = api.create_order("kitchen")
    api.walk(number, HAPPY_CASH[:4], {"payment_type": "credit"})
    api.step(number, "bank_decision", {"bank_declined": True})
    assert api.open_task(number)["bpmn_id"] == "prepare_contract"
    api.step(number, "prepare_contract", {"payment_type": "cash"})
    assert api.open_task(number)["bpmn_id"] == "payment"
    # Documents were rendered again for the new terms: earlier versions stay.
    versions = sorted((d["kind"], d["version"]) for d in api.order(number)["documents"])
    assert versions == [("contract", 1), ("contract", 2), ("invoice", 1), ("invoice", 2)]


def test_bank_and_payment_messages_complete_their_stages(api):
    number = api.create_order("wardrobe")
    api.walk(number, HAPPY_CASH[:4], {"payment_type": "credit"})
    response = api.post("/messages/bank_decision", {"order_number": number,
                                                    "payload": {"decision": "approved", "comment": "ОК"}},
                        as_="accountant")
    assert response.status_code == 202, response.get_json()
    assert response.get_json()["stage"] == "Оплата"
    response = api.post("/messages/payment_received", {"order_number": number, "payload": {
        "number": "1C-000123", "date": "2026-11-20", "amount": 42000.5, "method": "cashless"}}, as_="accountant")
    assert response.status_code == 202, response.get_json()
    order = api.order(number)
    assert order["stage"] == "Комплектация"
    assert [(p["number"], p["amount"], p["source"]) for p in order["payments"]] == [("1C-000123", "42000.50", "api")]


def test_a_payment_message_it_cannot_record_leaves_the_order_at_payment(api):
    """A bank's or 1C's message skips the form: an amount that is no amount used to complete «Оплата» unrecorded."""
    number = api.create_order("wardrobe")
    api.walk(number, HAPPY_CASH[:4])
    task = api.open_task(number)
    assert task["bpmn_id"] == "payment"
    paid = {"number": "1C-000124", "date": "2026-11-20", "method": "cashless"}
    for amount, field in (("NaN", "payment.amount"), (1e20, "payment.amount"), (-5, "payment.amount"),
                          (100.005, "payment.amount"), (None, "payment.amount")):
        response = api.post("/messages/payment_received",
                            {"order_number": number, "payload": {**paid, "amount": amount}}, as_="accountant")
        assert response.status_code == 422 and field in response.get_json()["fields"], (amount, response.get_json())
    response = api.post("/messages/payment_received", {"order_number": number, "payload": {
        "date": "2026-11-20", "amount": 100}}, as_="accountant")
    assert response.status_code == 422 and "payment.number" in response.get_json()["fields"]
    assert api.order(number)["payments"] == [] and api.open_task(number)["id"] == task["id"]


def test_messages_are_rejected_when_the_order_is_not_waiting_for_them(api):
    number = api.create_order()
    response = api.post("/messages/payment_received", {"order_number": number, "payload": {"amount": 1}},
                        as_="accountant")
    assert response.status_code == 409
    assert "Новый заказ" in response.get_json()["message"]
    response = api.post("/messages/payment_received", {"order_number": "2026-99999", "payload": {}},
                        as_="accountant")
    assert response.status_code == 404
    response = api.post("/messages/payment_received", {"order_number": number, "payload": {}}, as_="measurer")
    assert response.status_code == 403


def test_remeasure_loop(api):
    number = api.create_order()
    api.walk(number, HAPPY_CASH[:3])
    api.step(number, "prepare_contract", {"contract_outcome": "remeasure"})
    assert api.open_task(number)["bpmn_id"] == "plan_measurement"
    api.walk(number, ["plan_measurement", "measurement", "prepare_contract"])
    assert api.open_task(number)["bpmn_id"] == "payment"


def test_design_and_contract_loop(api):
    number = api.create_order("kitchen")
    api.walk(number, HAPPY_CASH[:3])
    api.step(number, "prepare_contract", {"contract_outcome": "to_design"})
    task = api.open_task(number)
    assert task["bpmn_id"] == "design" and task["lane"] == "designer"
    api.step(number, "design", design_outcome="needs_clarification", design_comment="Нет размеров ниши")
    assert api.open_task(number)["bpmn_id"] == "prepare_contract"
    api.step(number, "prepare_contract", {"contract_outcome": "to_design"})
    api.step(number, "design")
    assert "design_finished" in notification_events(api, number)
    order = api.order(number)
    assert order["tasks"][0]["bpmn_id"] == "prepare_contract"
    assert len(order["components"]) == 3  # the designer's specification became the components list


def test_customer_absent_goes_back_to_planning(api):
    number = api.create_order()
    api.walk(number, ["new_order", "plan_measurement"])
    task = api.open_task(number)
    assert task["bpmn_id"] == "measurement" and task["assignee"] == "measurer"
    api.step(number, "measurement", {"absent": True})
    assert api.open_task(number)["bpmn_id"] == "plan_measurement"


@pytest.mark.parametrize("resolution", ["revisit", "discount", "rejected"])
def test_claim_is_resolved_by_quality(api, resolution):
    number = api.create_order()
    api.walk(number, HAPPY_CASH)
    api.step(number, "feedback", {"claim": True})
    task = api.open_task(number)
    assert task["bpmn_id"] == "claim_review" and task["lane"] == "quality"
    assert "claim_filed" in notification_events(api, number)
    api.step(number, "claim_review", {"claim_resolution": resolution})
    if resolution == "revisit":
        task = api.open_task(number)
        assert task["bpmn_id"] == "claim_revisit" and task["lane"] == "installer"
        api.step(number, "claim_revisit")
    order = api.order(number)
    assert order["tasks"] == [] and order["process"]["status"] == "completed"
    assert "claim_report" in kinds_of_documents(order)  # the diagram renders the claim report
    assert "claim_resolved" in notification_events(api, number)


def test_no_feedback_in_time_closes_the_order(make_app, clock):
    app = make_app(FEEDBACK_TIMEOUT="PT1H")
    api = Api(app, app.test_client())
    number = api.create_order()
    api.walk(number, HAPPY_CASH)
    assert api.open_task(number)["bpmn_id"] == "feedback"
    waiting = api.create_order()  # its timers are hours away: it must not be woken
    clock.advance(minutes=59)
    assert "woke 0" in flask_command(app, "wake-timers").output
    clock.advance(minutes=2)
    assert "woke 1 instance" in flask_command(app, "wake-timers").output
    order = api.order(number)
    assert order["tasks"] == [] and order["process"]["status"] == "completed"
    assert order["status"] == "completed"
    assert api.open_task(waiting)["bpmn_id"] == "new_order"


CANCELLABLE = {
    "new_order": [],
    "plan_measurement": ["new_order"],
    "measurement": ["new_order", "plan_measurement"],
    "prepare_contract": HAPPY_CASH[:3],
}


@pytest.mark.parametrize("stage", [*CANCELLABLE, "bank_decision"])
def test_cancellation_from_allowed_stages(api, stage):
    number = api.create_order()
    if stage == "bank_decision":
        api.walk(number, HAPPY_CASH[:4], {"payment_type": "credit"})
    else:
        api.walk(number, CANCELLABLE[stage])
    assert api.open_task(number)["bpmn_id"] == stage
    assert api.post(f"/orders/{number}/cancel", {"reason": ""}, as_="sales").status_code == 422
    response = api.post(f"/orders/{number}/cancel", {"reason": "Заказчик передумал"}, as_="sales")
    assert response.status_code == 200, response.get_json()
    order = response.get_json()
    assert order["status"] == "cancelled" and order["stage"] == "Отменён"
    assert order["cancel_reason"] == "Заказчик передумал" and order["tasks"] == []
    assert "order_cancelled" in notification_events(api, number)
    assert api.get("/tasks?scope=all&order=" + number).get_json()["count"] == 0


def test_cancelling_from_the_new_order_form(api):
    number = api.create_order()
    api.step(number, "new_order", decision="cancel", cancellation={"reason": "Дубль заявки"})
    order = api.order(number)
    assert order["status"] == "cancelled" and order["cancel_reason"] == "Дубль заявки"


REFUSED = {
    "design": (HAPPY_CASH[:3], {"contract_outcome": "to_design"}, ["prepare_contract"]),
    "payment": (HAPPY_CASH[:4], {}, []),
    "procurement": (HAPPY_CASH[:5], {}, []),
    "production": (HAPPY_CASH[:6], {}, []),
    "plan_delivery": (HAPPY_CASH[:7], {}, []),
    "installation": (HAPPY_CASH[:8], {}, []),
    "feedback": (HAPPY_CASH, {}, []),
    "claim_review": (HAPPY_CASH, {"claim": True}, ["feedback"]),
    "claim_revisit": (HAPPY_CASH, {"claim": True, "claim_resolution": "revisit"}, ["feedback", "claim_review"]),
    "closed": (HAPPY_CASH, {}, ["feedback"]),
}


@pytest.mark.parametrize("stage", list(REFUSED))
def test_cancellation_is_refused_elsewhere(api, stage):
    number = api.create_order()
    path, variant, extra = REFUSED[stage]
    api.walk(number, path, variant)
    api.walk(number, extra, variant)
    task = api.open_task(number)
    assert (task["bpmn_id"] if task else "closed") == stage
    before = api.order(number)
    response = api.post(f"/orders/{number}/cancel", {"reason": "Передумал"}, as_="sales")
    assert response.status_code == 409
    assert before["stage"] in response.get_json()["message"]
    after = api.order(number)
    assert after["status"] == before["status"] and after["tasks"] == before["tasks"]
