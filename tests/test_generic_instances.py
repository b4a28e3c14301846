"""Processes no order starts: started through the API with data, worked from the same inbox, finished."""
from __future__ import annotations

from tests.support.diagrams import complete, deploy_diagram, instance, start


def test_a_process_starts_with_its_start_form_and_runs_to_its_end_through_the_api(api):
    deployed = deploy_diagram(api, "leave_request.bpmn")
    assert deployed["process_id"] == "leave_request"
    started = start(api, "leave_request", {"days": 2, "reason": "переезд"}, as_="analyst")
    assert (started["process_id"], started["version"], started["status"]) == ("leave_request", 1, "running")
    [approve] = started["tasks"]
    assert (approve["bpmn_id"], approve["lane"], approve["order_number"]) == ("approve", "sales", None)
    assert approve["instance_id"] == started["id"] and approve["process_name"] == "Заявка на отгул"
    assert started["data"]["hours"] == 16  # the script ran on the start data

    listed = api.get("/tasks?scope=queue", as_="sales").get_json()["items"]
    assert approve["id"] in [t["id"] for t in listed]  # in the same inbox as orders' tasks
    after = complete(api, approve, {"approved": True})
    assert after["order"] is None and after["instance"] == {"id": started["id"], "status": "running"}
    [hand_in] = after["tasks"]
    # «Process Initiator»: the starter's own task, a manual one completed with nothing but «Готово».
    assert (hand_in["kind"], hand_in["lane"], hand_in["assignee"]) == ("manual", "", "analyst")
    detail = api.get(f"/tasks/{hand_in['id']}", as_="analyst").get_json()
    assert detail["documentation"] == "Отнесите пропуск на вахту до конца дня."
    refused = api.post(f"/tasks/{hand_in['id']}/complete", {"data": {}}, as_="sales")
    assert refused.status_code == 403
    complete(api, hand_in, as_="analyst")

    done = instance(api, started["id"])
    assert done["status"] == "completed" and done["tasks"] == [] and done["finished_at"]
    assert done["data"]["approved"] is True and done["data"]["days"] == 2
    listed = api.get("/instances?process_id=leave_request&status=completed").get_json()["items"]
    assert [i["id"] for i in listed] == [started["id"]]


def test_start_data_is_checked_by_the_start_form_and_nothing_starts_on_a_refusal(api):
    deploy_diagram(api, "leave_request.bpmn")
    refused = api.post("/processes/leave_request/instances", {"data": {"days": "много"}}, as_="analyst")
    assert refused.status_code == 422 and "days" in refused.get_json()["fields"]
    assert api.get("/instances?process_id=leave_request").get_json()["count"] == 0


def test_who_may_start_and_see_an_instance(api):
    deploy_diagram(api, "leave_request.bpmn")
    assert api.post("/processes/leave_request/instances", {"data": {"days": 1}}, as_="measurer").status_code == 403
    assert api.post("/processes/order_lifecycle/instances", {"data": {}}, as_="admin").status_code == 409
    assert api.post("/processes/no_such/instances", {"data": {}}, as_="admin").status_code == 404
    started = start(api, "leave_request", {"days": 1}, as_="admin")
    assert api.get(f"/instances/{started['id']}", as_="measurer").status_code == 404
    assert api.get(f"/instances/{started['id']}", as_="sales").status_code == 200  # works a task of it
    assert api.get("/instances", as_="measurer").get_json()["count"] == 0


def test_an_admin_cancels_a_running_instance_and_its_tasks_go_with_it(api):
    deploy_diagram(api, "leave_request.bpmn")
    started = start(api, "leave_request", {"days": 3})
    task_id = started["tasks"][0]["id"]
    assert api.post(f"/instances/{started['id']}/cancel", {"reason": "ошибка"}, as_="sales").status_code == 403
    cancelled = api.post(f"/instances/{started['id']}/cancel", {"reason": "ошибка"}, as_="admin")
    assert cancelled.status_code == 200, cancelled.get_json()
    assert cancelled.get_json()["status"] == "cancelled" and cancelled.get_json()["tasks"] == []
    assert api.get(f"/tasks/{task_id}").get_json()["state"] == "cancelled"
    again = api.post(f"/instances/{started['id']}/cancel", {"reason": "ещё раз"}, as_="admin")
    assert again.status_code == 409


def test_a_loop_that_never_waits_is_stopped_with_the_element_named_and_nothing_starts(api):
    deploy_diagram(api, "gen_spin.bpmn")
    refused = api.post("/processes/gen_spin/instances", {"data": {"turns": 0}}, as_="analyst")
    assert refused.status_code == 422, refused.get_json()
    message = refused.get_json()["message"]
    assert "without waiting for anyone" in message and ("(count)" in message or "(check)" in message), message
    assert api.get("/instances?process_id=gen_spin").get_json()["count"] == 0


def test_an_admin_suspends_and_resumes_a_process_no_order_started_and_nothing_moves_meanwhile(api):
    deploy_diagram(api, "leave_request.bpmn")
    started = start(api, "leave_request", {"days": 1}, as_="analyst")
    [approve] = started["tasks"]
    base = f"/instances/{started['id']}"
    assert api.post(f"{base}/suspend", {"reason": "проверка"}, as_="analyst").status_code == 403
    assert api.post(f"{base}/suspend", {}, as_="admin").status_code == 422  # a reason is required
    suspended = api.post(f"{base}/suspend", {"reason": "проверка"}, as_="admin")
    assert suspended.status_code == 200 and suspended.get_json()["status"] == "suspended"
    refused = api.post(f"/tasks/{approve['id']}/complete", {"data": {"approved": True}}, as_="sales")
    assert refused.status_code == 409 and "приостановлен" in refused.get_json()["message"]
    assert "проверка" in refused.get_json()["message"]  # the admin's reason is told
    assert api.post(f"{base}/suspend", {"reason": "ещё"}, as_="admin").status_code == 409
    resumed = api.post(f"{base}/resume", {"reason": "проверено"}, as_="admin")
    assert resumed.status_code == 200 and resumed.get_json()["status"] == "running"
    complete(api, approve, {"approved": True})
    assert instance(api, started["id"])["tasks"][0]["bpmn_id"] == "hand_in_pass"
    nothing = api.post(f"{base}/retry", {"reason": "зачем"}, as_="admin")
    assert nothing.status_code == 409  # no error: nothing to retry
