"""BPMN events in processes no order started: event-based gateways, timers, event sub-processes, transactions,
signals, escalations and errors — each diagram deployed and driven to its end through the API (timers by moving the
app's clock and one scheduler pass); a step no person waits on that fails leaves the instance in "error"."""
from __future__ import annotations

import pytest

from app.extensions import db
from app.models import ProcessInstance
from tests.support.diagrams import bundle, complete, deploy_diagram, instance, start
from tests.support.timers import wake_at


def _next_timer(app, instance_id: int):
    with app.app_context():
        return db.session.get_one(ProcessInstance, instance_id).next_timer_at


def _deliver(app, instance_id: int, name: str, payload: dict):
    """A message into one instance through the use case the messages API is built on."""
    from app.models import User
    from app.usecases.messages import deliver_to_instance

    with app.app_context():
        admin = db.session.execute(db.select(User).where(User.login == "admin")).scalar_one()
        deliver_to_instance(db.session.get_one(ProcessInstance, instance_id), name, payload, admin)


def test_an_event_based_gateway_takes_the_message_when_it_comes_first(app, api, clock):
    deploy_diagram(api, "ev_gateway.bpmn")
    t0 = clock.now()
    waiting = start(api, "ev_gateway")
    assert waiting["status"] == "running" and waiting["tasks"] == []
    due = _next_timer(app, waiting["id"])
    assert due is not None and abs((due - t0).total_seconds() - 24 * 3600) < 60  # the gateway's timer is scheduled

    _deliver(app, waiting["id"], "supplier_reply", {"price": 1200})
    done = instance(api, waiting["id"])
    assert done["status"] == "completed" and done["data"]["outcome"] == "answered"
    assert done["data"]["reply"] == {"price": 1200}
    assert _next_timer(app, waiting["id"]) is None  # the timer branch is dropped with its timer
    assert wake_at(app, t0, hours=25) == 0
    assert instance(api, waiting["id"])["data"]["outcome"] == "answered"


def test_an_event_based_gateway_takes_the_timer_when_no_message_comes(app, api, clock):
    deploy_diagram(api, "ev_gateway.bpmn")
    t0 = clock.now()
    waiting = start(api, "ev_gateway")
    assert wake_at(app, t0, hours=23) == 0 and instance(api, waiting["id"])["status"] == "running"
    assert wake_at(app, t0, hours=24, minutes=1) == 1
    done = instance(api, waiting["id"])
    assert done["status"] == "completed" and done["data"]["outcome"] == "expired"
    late = api.post(f"/instances/{waiting['id']}/cancel", {"reason": "поздно"}, as_="admin")
    assert late.status_code == 409  # it is over: the message has nowhere to go either


def test_an_intermediate_timer_waits_then_a_script_failing_on_wake_up_leaves_the_instance_in_error(app, api, clock):
    deploy_diagram(api, "ev_timer.bpmn")
    t0 = clock.now()
    good = start(api, "ev_timer", {"crews": 3})
    broken = start(api, "ev_timer", {"crews": 0})
    assert wake_at(app, t0, minutes=59) == 0
    assert wake_at(app, t0, hours=1, minutes=1) == 1  # the broken one woke and failed
    assert instance(api, good["id"])["status"] == "completed" and instance(api, good["id"])["data"]["share"] == 4
    failed = instance(api, broken["id"])
    assert failed["status"] == "error" and "(share)" in failed["error"] and "division by zero" in failed["error"]
    assert _next_timer(app, broken["id"]) is None  # parked, not retried in a loop
    assert wake_at(app, t0, hours=3) == 0
    listed = api.get("/instances?process_id=ev_timer&status=error").get_json()["items"]
    assert [i["id"] for i in listed] == [broken["id"]]


def test_a_job_result_that_makes_a_later_script_fail_leaves_the_instance_in_error_not_retrying(app, api):
    from app.models import OutboxJob

    deploy_diagram(api, "ev_job.bpmn")
    started = start(api, "ev_job")  # the job runs inline: its result reaches a script that cannot use it
    failed = instance(api, started["id"])
    assert failed["status"] == "error" and "(pick_first)" in failed["error"] and "IndexError" in failed["error"]
    with app.app_context():
        [job] = db.session.execute(db.select(OutboxJob).where(OutboxJob.instance_id == started["id"])).scalars()
        assert (job.status, job.attempts) == ("incident", 1)  # the operator is not run again for nothing


def test_event_sub_processes_a_non_interrupting_message_and_an_interrupting_timer(app, api, clock):
    deploy_diagram(api, "ev_subprocess.bpmn")
    t0 = clock.now()
    first = start(api, "ev_subprocess")
    [prepare] = first["tasks"]
    _deliver(app, first["id"], "ev_ping", {"who": "диспетчер"})
    pinged = instance(api, first["id"])
    assert pinged["data"]["pinged_by"] == "диспетчер" and [t["id"] for t in pinged["tasks"]] == [prepare["id"]]
    complete(api, prepare, {"ok": True}, as_="analyst")
    assert instance(api, first["id"])["status"] == "completed"

    second = start(api, "ev_subprocess")
    [waiting] = second["tasks"]
    assert wake_at(app, t0, hours=2, minutes=1) == 1
    timed_out = instance(api, second["id"])
    assert timed_out["status"] == "completed" and timed_out["data"]["timed_out"] is True
    assert timed_out["tasks"] == [] and api.get(f"/tasks/{waiting['id']}").get_json()["state"] == "cancelled"


def test_an_error_end_event_is_caught_by_the_boundary_and_an_escalation_by_its_own(api):
    deploy_diagram(api, "ev_error.bpmn")
    missing = start(api, "ev_error")
    [check] = missing["tasks"]
    assert check["bpmn_id"] == "check_stock"
    after = complete(api, check, {"ok": False}, as_="analyst")
    [order_material] = after["tasks"]  # the error left the sub-process through its boundary event
    assert order_material["bpmn_id"] == "order_material"
    complete(api, order_material, as_="analyst")
    assert instance(api, missing["id"])["status"] == "completed"

    over = start(api, "ev_error")
    after = complete(api, over["tasks"][0], {"ok": True}, as_="analyst")
    [budget] = after["tasks"]
    assert budget["bpmn_id"] == "check_budget"
    complete(api, budget, {"ok": False}, as_="analyst")
    done = instance(api, over["id"])
    assert done["status"] == "completed" and done["data"]["escalated"] is True


def test_a_transaction_cancelled_inside_leaves_through_its_cancel_boundary(api):
    deploy_diagram(api, "ev_transaction.bpmn")
    cancelled = start(api, "ev_transaction")
    complete(api, cancelled["tasks"][0], {"ok": False}, as_="analyst")
    done = instance(api, cancelled["id"])
    assert done["status"] == "completed" and done["data"]["reserved"] is False  # the reservation was released

    booked = start(api, "ev_transaction")
    complete(api, booked["tasks"][0], {"ok": True}, as_="analyst")
    done = instance(api, booked["id"])
    assert done["status"] == "completed" and done["data"]["reserved"] is True


def test_a_signal_from_outside_wakes_the_waiting_instances_and_one_thrown_inside_is_caught_inside(api):
    deploy_diagram(api, "ev_signal.bpmn")
    first, second = start(api, "ev_signal"), start(api, "ev_signal")
    assert api.post("/signals/ev_stock_arrived", {"payload": {"items": 1}}, as_="sales").status_code == 403
    bad = api.post("/signals/ev_stock_arrived", {"payload": {"items": 1}, "instance_id": "first"}, as_="admin")
    assert bad.status_code == 422 and "instance_id" in bad.get_json()["fields"]

    one = api.post("/signals/ev_stock_arrived", {"payload": {"items": 2}, "instance_id": first["id"]}, as_="admin")
    assert one.status_code == 202 and one.get_json()["instances"] == [first["id"]]
    packed = instance(api, first["id"])
    # The signal thrown after packing started the event sub-process: the warehouse task is in the inbox too.
    assert sorted(t["bpmn_id"] for t in packed["tasks"]) == ["ship", "tell_warehouse"]
    assert instance(api, second["id"])["tasks"] == []

    third = start(api, "ev_signal")
    everyone = api.post("/signals/ev_stock_arrived", {"payload": {"items": 5}}, as_="admin")
    assert everyone.status_code == 202 and everyone.get_json()["instances"] == [second["id"], third["id"]]
    assert instance(api, third["id"])["data"]["boxes"] == 10
    nobody = api.post("/signals/ev_stock_arrived", {"payload": {"items": 1}}, as_="admin")
    assert nobody.status_code == 409 and "ev_stock_arrived" in nobody.get_json()["message"]
    for task in packed["tasks"]:
        complete(api, task, as_="analyst")
    done = instance(api, first["id"])
    assert done["status"] == "completed" and done["data"]["boxes"] == 4


def test_a_signal_one_instance_throws_reaches_the_other_instances_waiting_for_it(api):
    deploy_diagram(api, "ev_signal.bpmn")
    deploy_diagram(api, "ev_signal_sender.bpmn")
    waiting = start(api, "ev_signal")
    sender = start(api, "ev_signal_sender", {"items": 3})
    assert instance(api, waiting["id"])["tasks"] == []
    complete(api, sender["tasks"][0], as_="analyst")  # the delivery is accepted: the signal goes out
    assert instance(api, sender["id"])["status"] == "completed"
    woken = instance(api, waiting["id"])
    assert woken["data"]["boxes"] == 6
    assert sorted(t["bpmn_id"] for t in woken["tasks"]) == ["ship", "tell_warehouse"]


TIMER = '''<bpmn:timerEventDefinition id="pause_def">
        <bpmn:timeDuration>"PT1H"</bpmn:timeDuration>
      </bpmn:timerEventDefinition>'''
CANNOT_RUN = {
    "conditional": ("ev_timer.bpmn", TIMER, '<bpmn:conditionalEventDefinition id="pause_def"><bpmn:condition>'
                    'crews &gt; 0</bpmn:condition></bpmn:conditionalEventDefinition>', "pause", "conditional event"),
    "link": ("ev_timer.bpmn", TIMER, '<bpmn:linkEventDefinition id="pause_def" name="дальше"/>', "pause",
             "link events"),
    "compensation": ("ev_timer.bpmn", TIMER, '<bpmn:compensateEventDefinition id="pause_def"/>', "pause",
                     "compensation"),
    "error start": ("ev_subprocess.bpmn", '<bpmn:timerEventDefinition id="timeout_def">',
                    '<bpmn:errorEventDefinition id="timeout_def"/><bpmn:timerEventDefinition id="unused_def">',
                    "timeout", "event sub-process would start at once"),
    "complex gateway": ("ev_gateway.bpmn", "eventBasedGateway", "complexGateway", "wait_reply", "complex gateway"),
    "gateway to a task": ("ev_gateway.bpmn", 'sourceRef="wait_reply" targetRef="timeout"',
                          'sourceRef="wait_reply" targetRef="note_timeout"', "wait_reply",
                          "only intermediate catch events"),
    "nameless signal": ("ev_signal.bpmn", '<bpmn:signal id="sig_stock" name="ev_stock_arrived">',
                        '<bpmn:signal id="sig_stock">', "stock_arrived", "without a name"),
    "ad-hoc": ("ev_transaction.bpmn", "bpmn:transaction", "bpmn:adHocSubProcess", "booking", "ad-hoc sub-process"),
}


@pytest.mark.parametrize("case", list(CANNOT_RUN))
def test_what_spiffworkflow_cannot_run_is_refused_at_deploy_on_its_element(api, case):
    name, old, new, element, words = CANNOT_RUN[case]
    body = bundle(name)
    assert old in body["bpmn"]
    body["bpmn"] = body["bpmn"].replace(old, new)
    process_id = name.removesuffix(".bpmn")
    checked = api.post(f"/processes/{process_id}/validate", body, as_="analyst").get_json()
    assert checked["ok"] is False
    mine = [p for p in checked["problems"] if p["element_id"] == element and words in p["message"]]
    assert mine and mine[0]["severity"] == "error", checked["problems"]
    refused = api.post("/processes", body, as_="analyst")
    assert refused.status_code == 422 and api.get(f"/instances?process_id={process_id}").get_json()["count"] == 0
