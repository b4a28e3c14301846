"""Lanes and people: lanes mapped to roles per process, who may start it, and spiff-arena's lane owners."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent
from app.services.reference import create_user
from app.usecases.uow import unit_of_work
from tests.support.api import Api
from tests.support.diagrams import bundle, complete, deploy_diagram, instance, start


def put_settings(api, process_id: str, body: dict, as_: str = "analyst"):
    return api.client.put(f"/api/v1/processes/{process_id}/settings", json=body, headers=api._headers(as_))


def queue(api, login: str) -> list[int]:
    return [t["id"] for t in api.get("/tasks?scope=queue", as_=login).get_json()["items"]]


def add_accountant(api, login: str) -> None:
    with api.app.app_context(), unit_of_work():
        create_user(login, "Второй бухгалтер", "-", ["accountant"], password_hash="-")


def lane_warnings(problems: list[dict]) -> list[str]:
    return [p["message"] for p in problems if p["severity"] == "warning" and "lane '" in p["message"]]


def test_a_lane_named_in_russian_deploys_with_a_warning_and_once_mapped_its_tasks_go_to_the_role(api):
    deployed = deploy_diagram(api, "ln_invoice.bpmn")
    assert {"Бухгалтерия", "Склад"} <= {w for w in " ".join(lane_warnings(deployed["warnings"])).split("'")}

    settings = api.get("/processes/ln_invoice/settings", as_="analyst").get_json()
    assert settings["lanes"] == [
        {"name": "Бухгалтерия", "role": None, "mapped": False, "how": "starter"},
        {"name": "Склад", "role": None, "mapped": False, "how": "starter"}]
    assert {"code": "accountant", "label": "Бухгалтер / кассир"} in settings["roles"]

    saved = put_settings(api, "ln_invoice", {"lane_roles": {"Бухгалтерия": "accountant"}})
    assert saved.status_code == 200, saved.get_json()
    assert saved.get_json()["lanes"][0] == {"name": "Бухгалтерия", "role": "accountant", "mapped": True,
                                            "how": "mapped"}
    # The studio's live validation no longer warns about the mapped lane; the unmapped one still does.
    checked = api.client.post("/api/v1/processes/ln_invoice/validate", json=bundle("ln_invoice.bpmn"),
                              headers=api._headers("analyst")).get_json()
    assert [w for w in lane_warnings(checked["problems"]) if "Бухгалтерия" in w] == []
    assert [w for w in lane_warnings(checked["problems"]) if "Склад" in w]

    started = start(api, "ln_invoice", as_="analyst")
    [check] = started["tasks"]
    assert (check["lane"], check["lane_name"], check["assignee"]) == ("accountant", "Бухгалтерия", None)
    assert check["id"] in queue(api, "accountant") and check["id"] in queue(api, "head_accountant")
    assert api.post(f"/tasks/{check['id']}/complete", {"data": {}}, as_="analyst").status_code == 403
    after = complete(api, check, as_="accountant")

    # «Склад» is mapped to nobody: its task is the starter's (and admins'), nobody else's.
    [file_it] = after["tasks"]
    assert (file_it["lane"], file_it["lane_name"], file_it["assignee"]) == ("", "Склад", "analyst")
    assert file_it["id"] not in queue(api, "accountant")
    assert api.post(f"/tasks/{file_it['id']}/complete", {"data": {}}, as_="accountant").status_code == 403
    complete(api, file_it, as_="analyst")
    assert instance(api, started["id"])["status"] == "completed"


def test_an_open_task_moves_when_its_lane_is_mapped_remapped_and_unmapped(api):
    deploy_diagram(api, "ln_invoice.bpmn")
    started = start(api, "ln_invoice", as_="analyst")
    [check] = started["tasks"]
    assert (check["lane"], check["assignee"]) == ("", "analyst")  # unmapped: the starter's for now
    assert check["id"] not in queue(api, "accountant")

    assert put_settings(api, "ln_invoice", {"lane_roles": {"Бухгалтерия": "accountant"}}).status_code == 200
    moved = api.get(f"/tasks/{check['id']}", as_="accountant").get_json()
    assert (moved["lane"], moved["assignee"]) == ("accountant", None)  # the starter is no accountant: let go
    assert check["id"] in queue(api, "accountant")
    assert api.post(f"/tasks/{check['id']}/claim", as_="accountant").status_code == 200

    assert put_settings(api, "ln_invoice", {"lane_roles": {"Бухгалтерия": "sales"}}, as_="admin").status_code == 200
    moved = api.get(f"/tasks/{check['id']}", as_="sales").get_json()
    assert (moved["lane"], moved["assignee"]) == ("sales", None)  # the accountant who held it is no seller
    assert check["id"] in queue(api, "sales") and check["id"] not in queue(api, "accountant")
    assert api.post(f"/tasks/{check['id']}/complete", {"data": {}}, as_="accountant").status_code == 403

    assert put_settings(api, "ln_invoice", {"lane_roles": {"Бухгалтерия": None}}).status_code == 200
    moved = api.get(f"/tasks/{check['id']}", as_="analyst").get_json()
    assert (moved["lane"], moved["assignee"]) == ("", "analyst")  # unmapped again: back to the starter
    with api.app.app_context():
        moves = db.session.execute(select(AuditEvent.old_value, AuditEvent.new_value).where(
            AuditEvent.entity == "task", AuditEvent.entity_id == str(check["id"]), AuditEvent.field == "lane")
            .order_by(AuditEvent.id)).all()
    assert [tuple(m) for m in moves] == [(None, "accountant"), ("accountant", "sales"), ("sales", None)]
    complete(api, moved, as_="analyst")


def test_lane_owners_name_who_works_the_lane_and_one_owner_gets_it_outright(api):
    add_accountant(api, "ln_second")
    deploy_diagram(api, "ln_owners.bpmn")
    assert put_settings(api, "ln_owners", {"lane_roles": {"Бухгалтерия": "accountant"}}).status_code == 200
    started = start(api, "ln_owners", as_="analyst")
    [pay] = started["tasks"]
    assert (pay["lane"], pay["assignee"]) == ("accountant", None)
    # Both owners find it in their queue; an accountant the process did not name does not, and may not take it.
    assert pay["id"] in queue(api, "accountant") and pay["id"] in queue(api, "ln_second")
    assert pay["id"] not in queue(api, "head_accountant")
    refused = api.post(f"/tasks/{pay['id']}/complete", {"data": {}}, as_="head_accountant")
    assert refused.status_code == 403 and "назвал процесс" in refused.get_json()["message"]
    assert api.post(f"/tasks/{pay['id']}/claim", as_="head_accountant").status_code == 403
    with api.app.app_context():  # the login nobody has is noted in the task's history
        named = db.session.execute(select(AuditEvent).where(
            AuditEvent.entity == "task", AuditEvent.entity_id == str(pay["id"]),
            AuditEvent.field == "candidates")).scalar_one()
        assert named.new_value == "accountant, ln_second" and named.details["unknown"] == ["no_such_login"]
    assert api.get(f"/tasks/{pay['id']}", as_="accountant").get_json()["candidates"] == ["accountant", "ln_second"]
    # The department's head assigns it — only to someone the process named (else they could not complete it).
    wrong = api.post(f"/tasks/{pay['id']}/assign", {"user": "head_accountant"}, as_="head_accountant")
    assert wrong.status_code == 422 and wrong.get_json()["fields"] == {"user": "not named by the process"}
    assert api.post(f"/tasks/{pay['id']}/assign", {"user": "ln_second"}, as_="head_accountant").status_code == 200

    after = complete(api, pay, as_="ln_second")
    [confirm] = after["tasks"]
    assert (confirm["bpmn_id"], confirm["assignee"]) == ("confirm_refund", "head_accountant")  # the one owner
    assert confirm["id"] in [t["id"] for t in api.get("/tasks?scope=mine", as_="head_accountant").get_json()["items"]]
    assert confirm["id"] not in queue(api, "accountant")
    assert api.post(f"/tasks/{confirm['id']}/complete", {"data": {}}, as_="accountant").status_code == 403
    complete(api, confirm, as_="head_accountant")
    assert instance(api, started["id"])["status"] == "completed"


def test_the_process_initiator_lane_goes_to_whoever_started_the_instance(api):
    deploy_diagram(api, "ln_owners.bpmn")
    settings = api.get("/processes/ln_owners/settings", as_="admin").get_json()
    assert settings["lanes"][0] == {"name": "Process Initiator", "role": None, "mapped": False, "how": "starter"}
    deploy_diagram(api, "leave_request.bpmn")
    settings = api.get("/processes/leave_request/settings", as_="admin").get_json()
    assert settings["lanes"][0] == {"name": "sales", "role": "sales", "mapped": False, "how": "role code"}
    assert api.post("/processes/leave_request/instances", {"data": {"days": 1}}, as_="sales").status_code == 403
    assert put_settings(api, "leave_request", {"start_roles": ["sales"]}).status_code == 200
    started = start(api, "leave_request", {"days": 1}, as_="sales")
    after = complete(api, started["tasks"][0], {"approved": True}, as_="sales")
    assert (after["tasks"][0]["lane"], after["tasks"][0]["assignee"]) == ("", "sales")


def test_a_role_granted_start_may_start_and_others_may_not(api):
    deploy_diagram(api, "ln_invoice.bpmn")
    assert api.post("/processes/ln_invoice/instances", {"data": {}}, as_="accountant").status_code == 403
    saved = put_settings(api, "ln_invoice", {"start_roles": ["accountant", "designer"]})
    assert saved.status_code == 200 and saved.get_json()["start_roles"] == ["designer", "accountant"]
    started = start(api, "ln_invoice", as_="accountant")
    assert started["started_by"] == "accountant"
    assert api.post("/processes/ln_invoice/instances", {"data": {}}, as_="measurer").status_code == 403
    assert put_settings(api, "ln_invoice", {"start_roles": []}).status_code == 200
    assert api.post("/processes/ln_invoice/instances", {"data": {}}, as_="accountant").status_code == 403


def test_settings_refusals(api):
    deploy_diagram(api, "ln_invoice.bpmn")
    assert put_settings(api, "ln_invoice", {"lane_roles": {"Бухгалтерия": "accountant"}}, as_="sales").status_code \
        == 403
    assert api.get("/processes/ln_invoice/settings", as_="sales").status_code == 403
    assert api.get("/processes/no_such/settings", as_="analyst").status_code == 404
    assert put_settings(api, "no_such", {"start_roles": []}).status_code == 404

    unknown_role = put_settings(api, "ln_invoice", {"lane_roles": {"Бухгалтерия": "cashier"}})
    assert unknown_role.status_code == 422
    assert "cashier" in unknown_role.get_json()["fields"]["lane_roles.Бухгалтерия"]
    no_lane = put_settings(api, "ln_invoice", {"lane_roles": {"Касса": "accountant"}})
    assert no_lane.status_code == 422 and "Касса" in no_lane.get_json()["fields"]["lane_roles.Касса"]
    bad_start = put_settings(api, "ln_invoice", {"start_roles": ["accountant", "customer"]})
    assert bad_start.status_code == 422 and "customer" in bad_start.get_json()["fields"]["start_roles"]
    assert put_settings(api, "ln_invoice", {"lane_roles": ["Бухгалтерия"]}).status_code == 422
    assert put_settings(api, "ln_invoice", {"lane_role": {}}).status_code == 422
    lifecycle = put_settings(api, "order_lifecycle", {"lane_roles": {"sales": "dispatch"}}, as_="admin")
    assert lifecycle.status_code == 422 and "lane_roles.sales" in lifecycle.get_json()["fields"]
    assert put_settings(api, "order_lifecycle", {"start_roles": ["sales"]}, as_="admin").status_code == 422
    # Nothing of the refused changes stuck.
    settings = api.get("/processes/ln_invoice/settings", as_="analyst").get_json()
    assert [lane["role"] for lane in settings["lanes"]] == [None, None] and settings["start_roles"] == []


def test_the_studio_settings_page_shows_a_refusal_inline_and_keeps_what_was_chosen(make_app):
    from tests.support.web import signed_in

    app = make_app(WTF_CSRF_ENABLED=False)
    api = Api(app, app.test_client())
    deploy_diagram(api, "ln_invoice.bpmn")
    page = signed_in(app, "analyst")
    refused = page.post("/studio/ln_invoice/settings", data={
        "lane_role_0": "cashier", "lane_role_1": "sales", "start_roles": ["accountant"]})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and 'id="err-lane-0"' in html and "Неизвестная роль «cashier»" in html
    assert '<option value="sales" selected>' in html and 'value="accountant"\n             checked' in html
    assert api.get("/processes/ln_invoice/settings").get_json()["start_roles"] == []  # nothing half-saved

    assert signed_in(app, "sales").get("/studio/ln_invoice/settings").status_code == 403
    lifecycle = page.get("/studio/order_lifecycle/settings").get_data(as_text=True)
    assert "здесь нечего менять" in lifecycle and 'id="save-settings"' not in lifecycle
