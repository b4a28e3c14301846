"""Versions of a process: the list and its counts, the BPMN download, rollback, the diff, and `flask deploy` keeping
an analyst's version."""
from __future__ import annotations

import json

from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, Order, ProcessDefinition
from app.usecases.deploy import deploy, read_directory
from app.usecases.uow import unit_of_work
from app.usecases.versions import compare
from tests.support.versions import ROOT, deploy_v2
from tests.support.web import csrf_of
from tests.test_policy import session_of

VERSIONS = "/processes/order_lifecycle/versions"


def _definition_of(app, number: str) -> int:
    with app.app_context():
        return db.session.execute(select(Order).where(Order.number == number)).scalar_one().instance.definition.version


def test_versions_list_who_when_what_runs_where_and_which_is_active(api):
    api.create_order()
    deploy_v2(api.app)
    api.create_order()
    response = api.get(VERSIONS, as_="analyst")
    assert response.status_code == 200
    items = response.get_json()["items"]
    assert [(i["version"], i["active"], i["running_instances"], i["source"]) for i in items] == \
        [(2, True, 1, "studio"), (1, False, 1, "api")]
    assert items[0]["comment"] == "Звонок заказчику после нового заказа" and len(items[0]["checksum"]) == 64
    assert set(items[0]) == {"version", "deployed_at", "deployed_by", "comment", "checksum", "running_instances",
                             "active", "source"}
    assert api.get("/processes/no_such_process/versions").status_code == 404
    for login in ("sales", "partner_mega", "director"):
        assert api.get(VERSIONS, as_=login).status_code == 403


def test_any_version_downloads_as_its_bpmn(api):
    deploy_v2(api.app)
    first = api.get(f"{VERSIONS}/1/bpmn", as_="analyst")
    assert first.status_code == 200 and first.mimetype == "application/xml"
    assert 'filename="order_lifecycle-v1.bpmn"' in first.headers["Content-Disposition"]
    assert first.get_data() == (ROOT / "processes" / "order_lifecycle.bpmn").read_bytes()
    assert b'id="call_customer"' in api.get(f"{VERSIONS}/2/bpmn").get_data()
    missing = api.get(f"{VERSIONS}/9/bpmn")
    assert missing.status_code == 404 and missing.get_json()["fields"] == {"version": "unknown"}
    assert api.get(f"{VERSIONS}/1/bpmn", as_="sales").status_code == 403


def test_rolling_back_makes_new_orders_start_on_the_old_version_without_a_new_number(api):
    on_v1 = api.create_order()
    deploy_v2(api.app)
    on_v2 = api.create_order()
    assert _definition_of(api.app, on_v2) == 2
    for login in ("analyst", "sales"):
        assert api.post("/processes/order_lifecycle/activate", {"version": 1}, as_=login).status_code == 403
    for bad in ({}, {"version": "1"}, {"version": True}, {"version": 0}):
        refused = api.post("/processes/order_lifecycle/activate", bad)
        assert refused.status_code == 422 and "version" in refused.get_json()["fields"], bad
    assert api.post("/processes/order_lifecycle/activate", {"version": 5}).status_code == 404

    rolled = api.post("/processes/order_lifecycle/activate", {"version": 1})
    assert rolled.status_code == 200 and (rolled.get_json()["version"], rolled.get_json()["active"]) == (1, True)
    after = api.create_order()
    assert _definition_of(api.app, after) == 1
    assert api.open_task(after)["bpmn_id"] == "new_order"
    items = api.get(VERSIONS).get_json()["items"]
    assert [(i["version"], i["active"], i["running_instances"]) for i in items] == [(2, False, 1), (1, True, 2)]
    with api.app.app_context():
        assert sorted(db.session.execute(select(ProcessDefinition.version)).scalars()) == [1, 2]  # nothing renumbered
        audit = db.session.execute(select(AuditEvent).where(AuditEvent.kind == "activate")).scalar_one()
        assert (audit.old_value, audit.new_value, audit.actor_label) == ("v2", "v1", "admin")
    assert _definition_of(api.app, on_v1) == 1 and _definition_of(api.app, on_v2) == 2  # running ones stay put


def test_the_diff_names_added_removed_and_changed_elements_and_form_fields(api):
    deploy_v2(api.app)
    with api.app.app_context():
        diff = compare("order_lifecycle", 1, 2)
    elements = {(e["element_id"], e["change"]): e for e in diff["elements"]}
    assert elements[("call_customer", "added")]["name"] == "Звонок заказчику"
    assert elements[("call_customer", "added")]["type"] == "UserTask"
    assert ("measurement", "removed") in elements and ("measurement_visit", "added") in elements
    assert elements[("flow_call_customer__gw_plan_merge", "added")]["type"] == "SequenceFlow"
    assert elements[("flow_gw_new_order__gw_plan_merge", "changed")]["what"] == ["куда"]
    assert elements[("gw_new_order", "changed")]["what"] == ["условия переходов", "переход по умолчанию"]
    assert ("plan_measurement", "changed") not in elements and ("new_order", "changed") not in elements
    assert diff["forms"] == [{"file": "call_customer.schema.json", "change": "added", "details": []}]
    assert diff["dmn"] == []


def _deploy_files(app, bpmn: bytes, dmn: dict, forms: dict) -> int:
    with app.app_context():
        with unit_of_work():
            definition, created = deploy(bpmn, "order_lifecycle.bpmn", dmn, forms, None, replace=True)
            assert created
            return definition.version


def test_moves_on_the_diagram_are_no_change_but_form_fields_are(api):
    _name, bpmn, dmn, forms = read_directory(ROOT / "processes", ROOT / "forms")[0]
    moved = bpmn.replace(b'<dc:Bounds x="500" y="360" width="120" height="80"/>',
                         b'<dc:Bounds x="520" y="380" width="120" height="80"/>')
    assert moved != bpmn
    schema = json.loads(forms["new_order.schema.json"])
    schema["properties"]["callback_at"] = {"type": "string", "format": "date-time", "title": "Перезвонить"}
    schema["required"] = [*schema.get("required", []), "callback_at"]
    decision = schema["properties"]["decision"]
    decision["enum"] = [*decision["enum"], "postpone"]
    decision["x-enumNames"] = [*decision["x-enumNames"], "Отложить"]
    forms = {**forms, "new_order.schema.json": json.dumps(schema).encode()}
    layout_only = _deploy_files(api.app, moved, dmn, dict(read_directory(ROOT / "processes", ROOT / "forms")[0][3]))
    with_fields = _deploy_files(api.app, moved, dmn, forms)
    with api.app.app_context():
        assert compare("order_lifecycle", 1, layout_only) == {
            "process_id": "order_lifecycle", "from_version": 1, "to_version": layout_only, "elements": [],
            "forms": [], "dmn": []}
        changed = compare("order_lifecycle", layout_only, with_fields)
    assert changed["elements"] == []
    assert changed["forms"] == [{"file": "new_order.schema.json", "change": "changed", "details": [
        "поле callback_at добавлено", "поле callback_at стало обязательным",
        "поле decision: варианты изменены (+postpone)"]}]


def test_flask_deploy_twice_changes_nothing_and_keeps_a_studio_version(app, runner, tmp_path):
    first = runner.invoke(args=["deploy"])
    assert first.exit_code == 0 and "deployed order_lifecycle v1" in first.output
    again = runner.invoke(args=["deploy"])
    assert again.exit_code == 0 and "unchanged, order_lifecycle v1" in again.output
    with app.app_context():
        assert db.session.execute(select(ProcessDefinition.version)).scalars().all() == [1]
    deploy_v2(app)  # published from the studio
    # The repository's copy changed meanwhile (a new description): it must not replace the analyst's version.
    edited = tmp_path / "processes"
    edited.mkdir()
    (edited / "sla.dmn").write_bytes((ROOT / "processes" / "sla.dmn").read_bytes())
    (edited / "order_lifecycle.bpmn").write_bytes((ROOT / "processes" / "order_lifecycle.bpmn").read_bytes().replace(
        "Жизненный цикл заказа изделия".encode(), "Жизненный цикл заказа мебели".encode()))
    kept = runner.invoke(args=["deploy", "--processes", str(edited)])
    assert kept.exit_code == 0, kept.output
    assert "order_lifecycle.bpmn: kept order_lifecycle v2 was published from the studio" in kept.output
    assert "--force" in kept.output

    def versions() -> list[tuple]:
        with app.app_context():
            return [tuple(r) for r in db.session.execute(select(
                ProcessDefinition.version, ProcessDefinition.active, ProcessDefinition.source)
                .order_by(ProcessDefinition.version))]

    assert versions() == [(1, False, "repository"), (2, True, "studio")]
    assert runner.invoke(args=["deploy"]).exit_code == 0  # the unchanged repository copy: still nothing new
    assert versions() == [(1, False, "repository"), (2, True, "studio")]
    forced = runner.invoke(args=["deploy", "--processes", str(edited), "--force"])
    assert forced.exit_code == 0 and "deployed order_lifecycle v3" in forced.output
    assert versions() == [(1, False, "repository"), (2, False, "studio"), (3, True, "repository")]


def test_the_versions_pages_show_for_analysts_and_act_for_admins(api):
    deploy_v2(api.app)
    analyst, _ = session_of(api.app, "analyst")
    page = analyst.get("/studio/order_lifecycle/versions")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "v2" in text and "Скачать BPMN" in text
    assert "Сделать активной</button>" not in text
    diff = analyst.get("/studio/order_lifecycle/diff?from=1&to=2").get_data(as_text=True)
    assert "Звонок заказчику" in diff and "call_customer.schema.json" in diff and "bpmn-navigated-viewer" in diff
    form = analyst.get("/studio/order_lifecycle/migrate")
    token = csrf_of(form.data)
    assert form.status_code == 200 and "Переносят заказы между версиями администраторы" in form.get_data(as_text=True)
    assert "Пробный прогон</button>" not in form.get_data(as_text=True)
    assert analyst.post("/studio/order_lifecycle/activate", data={"version": "1", "csrf_token": token}).status_code \
        == 403
    assert analyst.post("/studio/order_lifecycle/migrate", data={"mode": "all", "csrf_token": token}).status_code \
        == 403
    sales, _ = session_of(api.app, "sales")
    assert sales.get("/studio/order_lifecycle/versions").status_code == 403
    admin, _ = session_of(api.app, "admin")
    page = admin.get("/studio/order_lifecycle/versions").get_data(as_text=True)
    assert "Сделать активной</button>" in page and "вместо v2" in page
    moved = admin.post("/studio/order_lifecycle/activate", data={"version": "1", "csrf_token": csrf_of(page.encode())},
                       follow_redirects=True)
    assert "Новые заказы получают v1 (было v2)" in moved.get_data(as_text=True)
    assert admin.get("/studio/no_such_process/versions").status_code == 404
