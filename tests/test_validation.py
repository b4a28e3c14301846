"""Deeper validation: every problem on its element, in one pass, the same for the API, the studio and `flask deploy`."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from app.engine.names import form_fields, script_names
from tests.support.api import seed
from tests.support.diagrams import bundle

ROOT = Path(__file__).resolve().parent.parent
BPMN = (ROOT / "processes" / "order_lifecycle.bpmn").read_text(encoding="utf-8")
DMN = {p.name: p.read_text(encoding="utf-8") for p in (ROOT / "processes").glob("*.dmn")}
FORMS = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in (ROOT / "forms").glob("*.json")}
CANCEL_FLOW = "flow_gw_new_order__gw_cancel"  # new_order's decision gateway → the cancellation path
VALIDATE = "/processes/order_lifecycle/validate"


def payload(bpmn: str = BPMN, forms: dict | None = None) -> dict:
    return {"bpmn": bpmn, "bpmn_name": "order_lifecycle.bpmn", "dmn": DMN, "forms": FORMS if forms is None else forms}


def changed(old: str, new: str, text: str = BPMN) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def versions(api) -> list[int]:
    return sorted(d["version"] for d in api.get("/processes").get_json()["items"])


def on(problems: list[dict], element_id: str) -> list[dict]:
    return [p for p in problems if p["element_id"] == element_id]


MISSPELT = changed("decision == 'cancel'", "decison == 'cancel'")
READ_TOO_EARLY = changed("decision == 'cancel'", "decision == 'cancel' or delivery_mode == 'cancel'")
TO_NOWHERE = changed('sourceRef="gw_plan_merge" targetRef="plan_measurement"',
                     'sourceRef="gw_plan_merge" targetRef="plan_measurment"')
CALL = ('<bpmn:userTask id="call_customer" name="Звонок заказчику"><bpmn:extensionElements><spiffworkflow:properties>'
        '<spiffworkflow:property name="formJsonSchemaFilename" value="call_customer.schema.json"/>'
        '</spiffworkflow:properties></bpmn:extensionElements></bpmn:userTask>'
        '<bpmn:sequenceFlow id="flow_call_customer__gw_new_order" sourceRef="call_customer" targetRef="gw_new_order"/>')
# «Звонок заказчику» after «Новый заказ», its form asking what the call settled; no lane holds it.
CALL_OUTSIDE_LANES = changed('sourceRef="new_order" targetRef="gw_new_order"',
                             'sourceRef="new_order" targetRef="call_customer"',
                             changed("</bpmn:process>", CALL + "</bpmn:process>"))
CALL_FORM = {"call_customer.schema.json": {"type": "object", "properties": {"call_result": {"type": "string"}}}}


def test_a_misspelt_name_in_a_condition_is_refused_on_its_flow_and_the_active_version_stays(api):
    response = api.post("/processes", payload(MISSPELT), as_="analyst")
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    [problem] = body["problems"]
    assert problem["element_id"] == CANCEL_FLOW and problem["severity"] == "error"
    assert "'decison'" in problem["message"] and problem["file"] == "order_lifecycle.bpmn"
    assert body["message"].startswith(f"Deployment rejected: {CANCEL_FLOW}: condition reads 'decison'")
    assert versions(api) == [1]
    number = api.create_order()
    assert api.order(number)["process"]["version"] == 1
    api.walk(number, ["new_order"])  # the running diagram still decides on `decision`


def test_a_name_only_a_later_task_defines_is_a_warning_and_the_deploy_goes_ahead(api):
    response = api.post("/processes", {**payload(READ_TOO_EARLY), "replace": True}, as_="analyst")
    assert response.status_code == 201, response.get_json()
    [warning] = response.get_json()["warnings"]
    assert warning["element_id"] == CANCEL_FLOW and warning["severity"] == "warning"
    assert "'delivery_mode'" in warning["message"] and "plan_delivery" in warning["message"]
    assert versions(api) == [1, 2]


def test_the_lifecycle_in_the_repository_is_valid_without_a_single_warning(api):
    response = api.post(VALIDATE, payload(), as_="analyst")
    assert response.status_code == 200
    assert response.get_json() == {"ok": True, "problems": []}


def test_a_flow_to_a_missing_element_names_the_flow_and_the_element(api):
    problems = api.post(VALIDATE, payload(TO_NOWHERE), as_="analyst").get_json()["problems"]
    [problem] = on(problems, "flow_gw_plan_merge__plan_measurement")
    assert problem["severity"] == "error"
    assert problem["message"] == ("flow flow_gw_plan_merge__plan_measurement goes to plan_measurment, "
                                  "which does not exist")
    assert [p["severity"] for p in on(problems, "plan_measurement")] == ["warning"]  # nothing leads there now
    assert len([p for p in problems if p["severity"] == "error"]) == 1  # SpiffWorkflow's echo of it is left out


@pytest.mark.parametrize("case", ["operator", "lane", "missing_form", "invalid_form", "no_lane", "xrules"])
def test_unknown_operators_lanes_and_forms_are_named_by_their_element(api, case):
    bpmn, forms, element, name, needle = {
        "operator": (changed('serviceTaskOperator id="onec.sync"', 'serviceTaskOperator id="teleport.now"'), None,
                     "sync_1c", "Обмен с 1С", "unknown service operator 'teleport.now'"),
        "lane": (changed('name="designer"', 'name="astronaut"'), None, "lane_designer", "astronaut",
                 "lane 'astronaut' is not a known role"),
        "missing_form": (BPMN, {k: v for k, v in FORMS.items() if k != "measurement.schema.json"},
                         "measurement", "Замер", "form file 'measurement.schema.json' is missing"),
        "invalid_form": (BPMN, {**FORMS, "payment.schema.json": {"type": "no-such-type"}},
                         "payment", "Оплата", "'payment.schema.json' is not a valid JSON Schema"),
        "no_lane": (CALL_OUTSIDE_LANES, {**FORMS, **CALL_FORM}, "call_customer", "Звонок заказчику",
                    "user task call_customer is not in a lane"),
        "xrules": (BPMN, {**FORMS, "prepare_contract.schema.json": {
            **FORMS["prepare_contract.schema.json"], "x-rules": [{"if": "prepaymnt > price", "field": "prepayment",
                                                                  "message": "Предоплата больше цены"}]}},
                   "prepare_contract", "Подготовка договора", "prepaymnt"),
    }[case]
    body = api.post(VALIDATE, payload(bpmn, forms), as_="analyst").get_json()
    assert body["ok"] is False
    [problem] = [p for p in body["problems"] if p["severity"] == "error"]
    assert (problem["element_id"], problem["name"], problem["severity"]) == (element, name, "error"), problem
    assert needle in problem["message"], problem


def test_every_problem_is_found_in_one_pass(api):
    bpmn = changed('serviceTaskOperator id="onec.sync"', 'serviceTaskOperator id="teleport.now"', MISSPELT)
    bpmn = changed('name="designer"', 'name="astronaut"', bpmn)
    bpmn = changed('sourceRef="gw_plan_merge" targetRef="plan_measurement"',
                   'sourceRef="gw_plan_merge" targetRef="plan_measurment"', bpmn)
    bpmn = changed('sourceRef="new_order" targetRef="gw_new_order"', 'sourceRef="new_order" targetRef="call_customer"',
                   changed("</bpmn:process>", CALL + "</bpmn:process>", bpmn))
    forms = {**FORMS, "payment.schema.json": {"type": "no-such-type"}, **CALL_FORM}
    problems = api.post(VALIDATE, payload(bpmn, forms), as_="analyst").get_json()["problems"]
    errors = {p["element_id"] for p in problems if p["severity"] == "error"}
    assert errors == {CANCEL_FLOW, "sync_1c", "lane_designer", "flow_gw_plan_merge__plan_measurement", "payment",
                      "call_customer"}


def test_validate_refuses_other_roles_and_what_is_not_a_diagram(api):
    assert api.post(VALIDATE, payload(), as_="sales").status_code == 403
    assert api.post(VALIDATE, payload(), as_="admin").status_code == 200
    response = api.post(VALIDATE, payload(BPMN[: len(BPMN) // 2]), as_="analyst")
    assert response.status_code == 422
    [problem] = response.get_json()["problems"]
    assert "malformed XML" in problem["message"] and problem["file"] == "order_lifecycle.bpmn"
    assert api.post(VALIDATE, {"dmn": DMN}, as_="analyst").status_code == 422
    response = api.post(VALIDATE, payload(DMN["sla.dmn"]), as_="analyst")
    assert response.status_code == 422 and "not a BPMN diagram" in response.get_json()["problems"][0]["message"]


def test_validate_deploys_nothing_and_says_when_the_diagram_is_another_process(api):
    body = api.post("/processes/other_process/validate", payload(), as_="analyst").get_json()
    assert body["ok"] is False
    [problem] = body["problems"]
    assert problem["element_id"] == "order_lifecycle" and "'other_process'" in problem["message"]
    api.post(VALIDATE, payload(READ_TOO_EARLY), as_="analyst")
    assert versions(api) == [1]


def test_validate_takes_the_deploy_upload_as_multipart_files_too(api):
    files = {"bpmn": (BytesFile(MISSPELT), "order_lifecycle.bpmn"),
             "dmn": [(BytesFile(text), name) for name, text in DMN.items()],
             "forms": [(BytesFile(json.dumps(form)), name) for name, form in FORMS.items()]}
    response = api.post(VALIDATE, None, as_="analyst", data=files, content_type="multipart/form-data")
    assert response.status_code == 200, response.get_json()
    assert [p["element_id"] for p in response.get_json()["problems"]] == [CANCEL_FLOW]


def BytesFile(text: str):  # noqa: N802 - reads as the file object it makes
    import io

    return io.BytesIO(text.encode())


def test_flask_deploy_prints_each_problem_with_its_element(app, runner, tmp_path):
    seed(app)
    folder = tmp_path / "processes"
    folder.mkdir()
    bpmn = changed('serviceTaskOperator id="onec.sync"', 'serviceTaskOperator id="teleport.now"', MISSPELT)
    (folder / "order_lifecycle.bpmn").write_text(bpmn, encoding="utf-8")
    for name in DMN:
        shutil.copy(ROOT / "processes" / name, folder / name)
    result = runner.invoke(args=["deploy", "--processes", str(folder), "--forms", str(ROOT / "forms")])
    assert result.exit_code != 0
    assert f"error: order_lifecycle.bpmn: {CANCEL_FLOW} «Отменить»: condition reads 'decison'" in result.output
    assert "error: order_lifecycle.bpmn: sync_1c «Обмен с 1С»: unknown service operator 'teleport.now'" in result.output
    assert "unchanged, order_lifecycle v1" in runner.invoke(args=["deploy"]).output


def test_the_start_data_the_check_assumes_is_what_a_new_order_starts_with(api):
    from app.extensions import db
    from app.models import Order
    from app.services.orders import START_DATA_NAMES, process_start_data

    number = api.create_order()
    with api.app.app_context():
        order = db.session.execute(select(Order).where(Order.number == number)).scalar_one()
        assert set(process_start_data(order)) == START_DATA_NAMES


def test_names_a_form_or_a_script_defines():
    schema = {"properties": {"decision": {}}, "allOf": [{"if": {"properties": {"decision": {"const": "cancel"}}},
                                                         "then": {"properties": {"cancellation": {}}}}],
              "oneOf": [{"properties": {"reason": {}}}]}
    assert form_fields(schema) == {"decision", "cancellation", "reason"}
    read, bound = script_names("total = sum(c['qty'] for c in items)\nfor row in rows:\n    last = row\n"
                               "with ctx() as handle:\n    pass\nok = total > limit")
    assert read == {"sum", "items", "rows", "ctx", "limit"}
    assert {"total", "c", "row", "last", "handle", "ok"} <= bound


def test_a_stray_task_and_a_condition_nobody_evaluates_are_warnings_only(api):
    flow = '<bpmn:sequenceFlow id="flow_new_order__gw_new_order" sourceRef="new_order" targetRef="gw_new_order"'
    bpmn = changed(flow + "/>", flow + "><bpmn:conditionExpression>decision == 'confirm'</bpmn:conditionExpression>"
                   "</bpmn:sequenceFlow>")
    bpmn = changed("</bpmn:process>", '<bpmn:scriptTask id="stray" name="Забытая задача"/></bpmn:process>', bpmn)
    body = api.post(VALIDATE, payload(bpmn), as_="analyst").get_json()
    assert body["ok"] is True
    found = sorted((p["element_id"], p["severity"], p["message"].split(":")[0]) for p in body["problems"])
    assert found == [
        ("flow_new_order__gw_new_order", "warning",
         "flow flow_new_order__gw_new_order has a condition but leaves new_order (userTask), not an exclusive or "
         "inclusive gateway"),
        ("stray", "warning", "no flow leads to scriptTask stray"),
        ("stray", "warning", "no flow leaves scriptTask stray"),
    ]


def test_plain_and_manual_tasks_and_a_user_task_without_a_form_are_valid(api):
    """They wait in the inbox for «Готово» (tests/test_task_types.py runs them to the end)."""
    body = api.post("/processes/tt_manual/validate", bundle("tt_manual.bpmn"), as_="analyst").get_json()
    assert body["ok"] is True and not [p for p in body["problems"] if p["severity"] == "error"], body["problems"]


def test_a_decision_no_dmn_defines_is_named_on_its_business_rule_task(api):
    bpmn = changed("<spiffworkflow:calledDecisionId>sla</spiffworkflow:calledDecisionId>",
                   "<spiffworkflow:calledDecisionId>sla_hours</spiffworkflow:calledDecisionId>")
    problems = api.post(VALIDATE, payload(bpmn), as_="analyst").get_json()["problems"]
    [error] = [p for p in problems if p["severity"] == "error"]  # SpiffWorkflow's own refusal adds nothing
    assert (error["element_id"], error["name"]) == ("sla_lookup", "Нормативные сроки (SLA)")
    assert "decision 'sla_hours', which no DMN file defines (defined: sla)" in error["message"]
    # the timers read `sla`, which the decision would have defined: warnings until it is back
    assert {p["variable"] for p in problems if p["severity"] == "warning"} == {"sla"}


def test_a_binding_on_an_event_names_the_event(api):
    bpmn = changed('<spiffworkflow:property name="stage" value="Завершён"/>',
                   '<spiffworkflow:property name="stage" value="Завершён"/>'
                   '<spiffworkflow:property name="bespoke:rating" value="true"/>')
    [problem] = api.post(VALIDATE, payload(bpmn), as_="analyst").get_json()["problems"]
    assert (problem["element_id"], problem["binding"]) == ("order_completed", "bespoke:rating")
    assert problem["name"] and "belongs on a user task" in problem["message"]


@pytest.mark.parametrize("case", ["attached_to_nothing", "id_twice", "schema"])
def test_what_the_engine_would_silently_drop_or_only_locate_by_line_is_named_by_element(api, case):
    bpmn, element, needle = {
        "attached_to_nothing": (changed('attachedToRef="new_order"', 'attachedToRef="new_ordr"'), "new_order_cancel",
                                "boundary event new_order_cancel is attached to new_ordr, which does not exist"),
        "id_twice": (changed('<bpmn:endEvent id="order_received_sent"', '<bpmn:endEvent id="gw_intake"'),
                     "gw_intake", "id gw_intake is used by more than one element"),
        # SpiffWorkflow's schema check knows only the line: the element written there gets the marker
        "schema": (changed('<bpmn:endEvent id="order_received_sent" name="Заказчик уведомлён">',
                           '<bpmn:endEvent id="order_received_sent" name="Заказчик уведомлён"><bpmn:bogus/>'),
                   "order_received_sent", "bogus"),
    }[case]
    body = api.post(VALIDATE, payload(bpmn), as_="analyst").get_json()
    assert body["ok"] is False
    [problem] = [p for p in body["problems"] if p["element_id"] == element and p["severity"] == "error"]
    assert needle in problem["message"], problem


EVENT_SUBPROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d">
  <bpmn:message id="msg_recall" name="recall"/>
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="ask"/>
    <bpmn:userTask id="ask" name="Вопрос"><bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="formJsonSchemaFilename" value="ask.schema.json"/>
    </spiffworkflow:properties></bpmn:extensionElements></bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="ask" targetRef="end"/>
    <bpmn:endEvent id="end"/>
    <bpmn:subProcess id="recall" triggeredByEvent="true">
      <bpmn:startEvent id="recall_start"><bpmn:messageEventDefinition messageRef="msg_recall"/></bpmn:startEvent>
      <bpmn:sequenceFlow id="f3" sourceRef="recall_start" targetRef="note"/>
      <bpmn:scriptTask id="note" name="Отметка"><bpmn:script>recalled = answer</bpmn:script></bpmn:scriptTask>
      <bpmn:sequenceFlow id="f4" sourceRef="note" targetRef="recall_end"/>
      <bpmn:endEvent id="recall_end"/>
    </bpmn:subProcess>
    <bpmn:sequenceFlow id="f5" sourceRef="ask" targetRef="check"/>
    <bpmn:exclusiveGateway id="check"/>
    <bpmn:sequenceFlow id="f6" sourceRef="check" targetRef="end"><bpmn:conditionExpression>answr and recalled
    </bpmn:conditionExpression></bpmn:sequenceFlow>
  </bpmn:process>
</bpmn:definitions>"""


def test_names_along_the_flows_of_an_event_sub_process():
    from lxml import etree

    from app.engine.names import name_problems

    tree = etree.fromstring(EVENT_SUBPROCESS.encode())
    forms = {"ask.schema.json": {"properties": {"answer": {"type": "string"}}}}
    found = sorted((p["element_id"], p["variable"], p["severity"])
                   for p in name_problems(tree, "p.bpmn", forms, {}, known=()))
    # the event sub-process may start once «Вопрос» is answered, so `answer` is fine there; what it sets does not
    # flow on to the gateway (`recalled`: a warning); `answr` is defined nowhere
    assert found == [("f6", "answr", "error"), ("f6", "recalled", "warning")]
