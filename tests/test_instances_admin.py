"""An order's process on the diagram, and the admin's hand on it: suspend / resume, retry, skip, send a message."""
from __future__ import annotations

import json
import re
from html import unescape

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, Escalation, Order, OutboxJob, ProcessInstance
from app.services import orders as order_service
from app.usecases.deploy import deploy, read_directory
from app.usecases.instances import instance_view
from app.usecases.uow import unit_of_work
from tests.support.api import HAPPY_CASH, Api
from tests.support.fake_onec import FakeOneC
from tests.support.timers import sla_order, wake_at
from tests.support.web import signed_in

TO_MEASUREMENT = ["new_order", "plan_measurement"]


@pytest.fixture
def scene(make_app):
    app = make_app(WTF_CSRF_ENABLED=False)
    return app, Api(app, app.test_client())


def diagram_state(html: str) -> dict:
    """The element states and flows the page hands to the viewer."""
    found = re.search(r'<script type="application/json" id="instance-state">(.*?)</script>', html, re.S)
    return json.loads(unescape(found.group(1)))


def events(app, number: str, kind: str) -> list[AuditEvent]:
    with app.app_context():
        order = order_service.get_order(number)
        return list(db.session.execute(select(AuditEvent).where(AuditEvent.order_id == order.id,
                                                                AuditEvent.kind == kind)
                                       .order_by(AuditEvent.id)).scalars())


def instance_of(app, number: str) -> ProcessInstance:
    with app.app_context():
        instance = order_service.get_order(number).instance
        db.session.expunge(instance)
        return instance


def test_an_order_mid_process_is_drawn_done_active_and_waiting(scene):
    app, api = scene
    number = api.create_order()
    api.walk(number, TO_MEASUREMENT)
    page = signed_in(app, "director").get(f"/studio/orders/{number}")  # the director may look
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    state = diagram_state(html)
    elements, flows = state["elements"], {tuple(pair) for pair in state["flows"]}
    assert {elements[i] for i in ("start", "sla_lookup", "new_order", "gw_new_order", "plan_measurement")} == {"done"}
    assert elements["measurement"] == "active"
    # Waiting: the SLA timers and the cancel message on the measurement visit; the earlier tasks' timers never fired.
    assert {i for i, s in elements.items() if s == "waiting"} == {
        "measurement_sla_warn", "measurement_sla", "measurement_sla_director", "measurement_cancel"}
    assert "new_order_sla" not in elements and "prepare_contract" not in elements
    assert {("start", "sla_lookup"), ("new_order", "gw_new_order"), ("gw_plan_merge", "plan_measurement")} <= flows
    assert "bpmn-navigated-viewer.production.min.js" in html and 'id="instance-diagram"' in html
    # The side: the open task with its lane and assignee, the timers with when they fire, the messages waited for.
    assert "Замер" in html and "роль measurer" in html and "SLA 100 %" in html and "<code>cancel</code>" in html
    assert "/suspend" not in html  # a director sees, but may not act

    api.post("/messages/cancel", {"order_number": number, "payload": {"reason": "Заказчик передумал"}}, as_="sales")
    with app.test_request_context():
        cancelled = instance_view(order_service.get_order(number)).picture.elements
    assert cancelled["measurement"] == "cancelled" and cancelled["measurement_cancel"] == "done"
    assert cancelled["cancelled"] == "done"  # the end event «Заказ отменён»


def test_who_may_look_and_who_may_act(scene):
    app, api = scene
    number = api.create_order()
    assert signed_in(app, "sales").get(f"/studio/orders/{number}").status_code == 403
    assert signed_in(app, "analyst").get(f"/studio/orders/{number}").status_code == 200
    for login in ("analyst", "director", "sales"):
        refused = signed_in(app, login).post(f"/studio/orders/{number}/suspend", data={"reason": "проверка"})
        assert refused.status_code == 403
    assert instance_of(app, number).status == "running"
    card = signed_in(app, "director").get(f"/orders/{number}").get_data(as_text=True)
    assert f'href="/studio/orders/{number}"' in card and "Процесс на схеме" in card
    sales_card = signed_in(app, "sales").get(f"/orders/{number}").get_data(as_text=True)
    assert f'href="/studio/orders/{number}"' not in sales_card


def test_a_suspended_order_does_not_move_until_it_is_resumed(scene):
    app, api = scene
    number = api.create_order()
    api.walk(number, TO_MEASUREMENT)
    admin = signed_in(app, "admin")
    no_reason = admin.post(f"/studio/orders/{number}/suspend", data={"reason": "  "})
    assert no_reason.status_code == 422 and "Укажите причину" in no_reason.get_data(as_text=True)
    assert instance_of(app, number).status == "running"

    done = admin.post(f"/studio/orders/{number}/suspend", data={"reason": "Заказчик в больнице"}, follow_redirects=True)
    assert done.status_code == 200 and "Процесс приостановлен" in done.get_data(as_text=True)
    task = api.open_task(number)
    refused = api.complete(task, {"measurement_result": "customer_absent", "absence_comment": "Не открыли"})
    assert refused.status_code == 409
    assert "приостановлен" in refused.get_json()["message"] and "Заказчик в больнице" in refused.get_json()["message"]
    assert api.post(f"/tasks/{task['id']}/claim", as_="measurer").status_code == 409
    message = api.post("/messages/cancel", {"order_number": number, "payload": {"reason": "x"}}, as_="sales")
    assert message.status_code == 409 and "приостановлен" in message.get_json()["message"]
    cancel = api.post(f"/orders/{number}/cancel", {"reason": "Заказчик передумал"}, as_="sales")
    assert cancel.status_code == 409 and "приостановлен" in cancel.get_json()["message"]

    # The measurer's form comes back with the reason flashed and what was typed still there.
    form = signed_in(app, "measurer").post(f"/tasks/{task['id']}", data={
        "measurement_result": "customer_absent", "absence_comment": "Звонил дважды, не открыли"},
        content_type="multipart/form-data")
    text = form.get_data(as_text=True)
    assert form.status_code == 409 and "Заказчик в больнице" in text and "Звонил дважды, не открыли" in text
    inbox = signed_in(app, "measurer").get("/inbox?tab=mine").get_data(as_text=True)
    assert number in inbox and "приостановлен" in inbox
    assert api.open_task(number)["id"] == task["id"]

    resumed = admin.post(f"/studio/orders/{number}/resume", data={"reason": "Заказчик вернулся"},
                         follow_redirects=True)
    assert resumed.status_code == 200 and "Процесс возобновлён" in resumed.get_data(as_text=True)
    absent = {"measurement_result": "customer_absent", "absence_comment": "Не открыли"}
    assert api.complete(task, absent).status_code == 200
    history = [(e.field, e.old_value, e.new_value, e.actor_label, e.details["reason"])
               for e in events(app, number, "process")]
    assert history == [("status", "running", "suspended", "admin", "Заказчик в больнице"),
                       ("status", "suspended", "running", "admin", "Заказчик вернулся")]
    card = admin.get(f"/orders/{number}?tab=history").get_data(as_text=True)
    assert "Причина: Заказчик в больнице" in card and "приостановлен" in card


def test_timers_of_a_suspended_order_wait_and_fire_after_resume(make_app, clock):
    app, api, number, task, created = sla_order(make_app)
    app.config["WTF_CSRF_ENABLED"] = False
    admin = signed_in(app, "admin")
    assert admin.post(f"/studio/orders/{number}/suspend", data={"reason": "Ждём документы"}).status_code == 302
    assert wake_at(app, created, hours=5) == 0  # past the 75 % and 100 % marks: nothing fires
    with app.app_context():
        assert db.session.execute(select(Escalation)).first() is None
    assert admin.post(f"/studio/orders/{number}/resume", data={"reason": "Документы пришли"}).status_code == 302
    assert instance_of(app, number).next_timer_at is not None
    assert wake_at(app, created, hours=5, minutes=1) == 1  # the next pass fires what fell due meanwhile
    with app.app_context():
        assert {e.level for e in db.session.execute(select(Escalation)).scalars()} == {"warning", "head"}


@pytest.fixture
def onec(make_app):
    """An order waiting at the 1C exchange, which 1C refuses (the wrong password): an incident."""
    server = FakeOneC("Обмен", "секрет")
    try:
        app = make_app(WTF_CSRF_ENABLED=False, ONEC_URL=server.odata_url, ONEC_USER="Обмен", ONEC_PASSWORD="не тот")
        api = Api(app, app.test_client())
        number = api.create_order()
        api.walk(number, HAPPY_CASH[:5])
        with app.app_context():
            job = db.session.execute(select(OutboxJob).where(OutboxJob.operator == "onec.sync")).scalar_one()
            assert job.status == "incident"
        yield app, api, number, job.id
    finally:
        server.stop()


def test_a_failed_step_is_red_and_a_retry_runs_it_again(onec):
    app, api, number, job_id = onec
    admin = signed_in(app, "admin")
    html = admin.get(f"/studio/orders/{number}").get_data(as_text=True)
    assert diagram_state(html)["elements"]["sync_1c"] == "error"
    assert "неверный логин или пароль" in html and 'id="action-retry"' in html

    app.config["ONEC_PASSWORD"] = "секрет"  # the admin fixes the password, then retries the step
    retried = admin.post(f"/studio/orders/{number}/retry", data={"job": str(job_id), "reason": "Пароль исправлен"},
                         follow_redirects=True)
    assert retried.status_code == 200 and "Шаг запущен заново" in retried.get_data(as_text=True)
    with app.app_context():
        job = db.session.get(OutboxJob, job_id)
        assert job.status == "done" and job.attempts == 1  # a fresh set of attempts, and it went through
    assert api.open_task(number)["bpmn_id"] == "procurement"
    [event] = [e for e in events(app, number, "job") if e.new_value == "retry"]
    assert (event.actor_label, event.details["reason"]) == ("admin", "Пароль исправлен")


def test_skipping_a_failed_step_lets_the_process_go_on(onec):
    app, api, number, job_id = onec
    admin = signed_in(app, "admin")
    bad = admin.post(f"/studio/orders/{number}/skip", data={"job": str(job_id), "result": "[1, 2",
                                                            "reason": "Провели в 1С вручную"})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "Не JSON" in text and "[1, 2" in text and "Провели в 1С вручную" in text
    assert signed_in(app, "sales").post(f"/studio/orders/{number}/skip", data={
        "job": str(job_id), "reason": "x"}).status_code == 403
    done = admin.post(f"/studio/orders/{number}/skip", data={"job": str(job_id), "result": '{"status": "by_hand"}',
                                                             "reason": "Провели в 1С вручную"})
    assert done.status_code == 302
    assert api.open_task(number)["bpmn_id"] == "procurement"
    with app.app_context():
        assert db.session.get(OutboxJob, job_id).result["status"] == "by_hand"
    [event] = [e for e in events(app, number, "job") if e.new_value == "skipped"]
    assert (event.actor_label, event.details["reason"]) == ("admin", "Провели в 1С вручную")


def test_a_job_that_finishes_while_suspended_is_applied_at_resume(onec):
    app, api, number, job_id = onec
    admin = signed_in(app, "admin")
    admin.post(f"/studio/orders/{number}/suspend", data={"reason": "Сверка с бухгалтерией"})
    app.config["ONEC_PASSWORD"] = "секрет"
    admin.post(f"/studio/orders/{number}/retry", data={"job": str(job_id), "reason": "Пароль исправлен"})
    with app.app_context():
        assert db.session.get(OutboxJob, job_id).status == "done"  # 1C has the payment; the process waits
    assert api.open_task(number) is None
    assert admin.post(f"/studio/orders/{number}/resume", data={"reason": "Сверено"}).status_code == 302
    assert api.open_task(number)["bpmn_id"] == "procurement"


def test_sending_a_message_the_diagram_waits_for_moves_the_order(scene):
    app, api = scene
    number = api.create_order()
    api.walk(number, ["new_order"])
    admin = signed_in(app, "admin")
    page = admin.get(f"/studio/orders/{number}").get_data(as_text=True)
    assert '<option value="cancel"' in page
    bad = admin.post(f"/studio/orders/{number}/message", data={"message": "cancel", "payload": "{reason: 1}",
                                                               "reason": "Звонок заказчика"})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "Не JSON" in text and "{reason: 1}" in text
    wrong = admin.post(f"/studio/orders/{number}/message", data={"message": "bank_decision", "payload": "{}",
                                                                 "reason": "проверка"}, follow_redirects=True)
    assert "is not accepted" in wrong.get_data(as_text=True)  # not what it waits for now: said, nothing moved
    sent = admin.post(f"/studio/orders/{number}/message", data={
        "message": "cancel", "payload": '{"reason": "Заказчик отказался по телефону"}', "reason": "Звонок заказчика"})
    assert sent.status_code == 302
    with app.app_context():
        order = db.session.execute(select(Order).where(Order.number == number)).scalar_one()
        assert order.status == "cancelled" and order.cancel_reason == "Заказчик отказался по телефону"
    [event] = events(app, number, "message")
    assert (event.field, event.actor_label, event.details["reason"]) == ("cancel", "admin", "Звонок заказчика")


def test_a_step_that_failed_on_a_timer_is_shown_and_a_retry_that_fails_again_says_so(make_app, clock):
    app, api, number, task, created = sla_order(make_app)
    app.config["WTF_CSRF_ENABLED"] = False
    # A version whose escalation asks the SLA table for a stage it does not have: it fails only when the timer fires.
    with app.app_context(), unit_of_work():
        for name, bpmn, dmn, forms in read_directory(app.config["PROCESSES_DIR"], app.config["FORMS_DIR"]):
            if name == "order_lifecycle.bpmn":
                broken = bpmn.replace(b"value=\"'new_order'\"", b"value=\"sla['no_such_stage']\"", 1)
                assert broken != bpmn
                deploy(broken, name, dmn, forms, None, comment="broken escalation", replace=True)
    number = api.create_order()
    with app.app_context():
        created = order_service.get_order(number).created_at
    wake_at(app, created, hours=3, minutes=1)
    instance = instance_of(app, number)
    assert instance.error and "(new_order_escalate)" in instance.error
    admin = signed_in(app, "admin")
    html = admin.get(f"/studio/orders/{number}").get_data(as_text=True)
    assert diagram_state(html)["elements"]["new_order_escalate"] == "error"
    again = admin.post(f"/studio/orders/{number}/retry", data={"reason": "Попробуем ещё"}, follow_redirects=True)
    flashed = re.search(r'<div class="flash flash-error" role="status">(.*?)</div>', again.get_data(as_text=True), re.S)
    assert flashed and "(new_order_escalate)" in unescape(flashed.group(1))  # why the retry failed, said at once
    assert instance_of(app, number).error == instance.error
    assert [e for e in events(app, number, "process") if e.field == "retry"] == []


def test_the_customer_answering_a_suspended_order_keeps_the_answer(scene):
    app, api = scene
    number = api.create_order()
    api.walk(number, HAPPY_CASH)
    task = api.open_task(number)
    assert task["bpmn_id"] == "feedback"
    signed_in(app, "admin").post(f"/studio/orders/{number}/suspend", data={"reason": "Разбираем оплату"})
    token = api.order(number)["status_url"].rsplit("/", 1)[1]
    answer = app.test_client().post(f"/s/{token}/tasks/{task['id']}", data={
        "feedback_kind": "rating", "rating": "5", "feedback_comment": "Мастер приехал вовремя"},
        content_type="multipart/form-data")
    text = answer.get_data(as_text=True)
    assert answer.status_code == 409 and "приостановлен" in text and "Мастер приехал вовремя" in text
    assert "Разбираем оплату" not in text  # the admin's reason is internal
    assert api.open_task(number)["id"] == task["id"]


def test_the_process_api_shows_the_diagram_state_and_takes_the_admins_actions(scene):
    app, api = scene
    number = api.create_order()
    api.walk(number, ["new_order"])
    shown = api.get(f"/orders/{number}/process", as_="director")
    assert shown.status_code == 200
    body = shown.get_json()
    assert (body["status"], body["version"], body["messages"]) == ("running", 1, ["cancel"])
    assert body["elements"]["new_order"] == "done" and body["elements"]["plan_measurement"] == "active"
    assert ["new_order", "gw_new_order"] in body["flows"]
    assert {t["bpmn_id"] for t in body["timers"]} == {"plan_measurement_sla_warn", "plan_measurement_sla",
                                                      "plan_measurement_sla_director"}
    assert api.get(f"/orders/{number}/process", as_="sales").status_code == 403
    assert api.post(f"/orders/{number}/process/suspend", {"reason": "x"}, as_="analyst").status_code == 403
    assert api.post(f"/orders/{number}/process/suspend", {"reason": "x"}, as_="director").status_code == 403

    no_reason = api.post(f"/orders/{number}/process/suspend", {})
    assert no_reason.status_code == 422 and "reason" in no_reason.get_json()["fields"]
    suspended = api.post(f"/orders/{number}/process/suspend", {"reason": "Проверка платежа"})
    assert suspended.status_code == 200
    assert (suspended.get_json()["status"], suspended.get_json()["suspended_reason"]) == ("suspended",
                                                                                          "Проверка платежа")
    assert api.post(f"/orders/{number}/process/suspend", {"reason": "ещё раз"}).status_code == 409
    task = api.open_task(number)
    assert api.complete(task, {"measurer": "measurer"}).status_code == 409
    resumed = api.post(f"/orders/{number}/process/resume", {"reason": "Платёж найден"})
    assert resumed.status_code == 200 and resumed.get_json()["status"] == "running"
    nothing = api.post(f"/orders/{number}/process/retry", {"reason": "на всякий случай"})
    assert nothing.status_code == 409 and "повторять нечего" in nothing.get_json()["message"]
    assert api.post(f"/orders/{number}/process/skip", {"reason": "x", "job_id": 999999}).status_code == 422
    wrong = api.post(f"/orders/{number}/process/message", {"reason": "x", "message": "bank_decision"})
    assert wrong.status_code == 409
    sent = api.post(f"/orders/{number}/process/message", {"reason": "Звонок", "message": "cancel",
                                                         "payload": {"reason": "Заказчик отказался"}})
    assert sent.status_code == 200 and sent.get_json()["status"] == "completed"
    assert [e.actor_label for e in events(app, number, "process")] == ["admin", "admin"]
