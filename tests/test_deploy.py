"""Deploying versions: running orders keep theirs; bad diagrams are refused and change nothing."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BPMN = (ROOT / "processes" / "order_lifecycle.bpmn").read_text(encoding="utf-8")
DMN = {p.name: p.read_text(encoding="utf-8") for p in (ROOT / "processes").glob("*.dmn")}
FORMS = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in (ROOT / "forms").glob("*.json")}


def payload(bpmn: str = BPMN, forms: dict | None = None, dmn: dict | None = None) -> dict:
    return {"bpmn": bpmn, "bpmn_name": "order_lifecycle.bpmn", "dmn": DMN if dmn is None else dmn,
            "forms": FORMS if forms is None else forms}


def newest_version(api) -> int:
    return max(d["version"] for d in api.get("/processes").get_json()["items"])


def test_same_content_makes_no_new_version(api):
    response = api.post("/processes", payload(), as_="analyst")
    assert response.status_code == 200 and response.get_json()["created"] is False
    assert response.get_json()["version"] == 1


def test_running_orders_keep_their_version_new_ones_take_the_newest(api):
    old = api.create_order()
    api.walk(old, ["new_order"])
    changed = BPMN.replace('name="Замер"', 'name="Замер на объекте"', 1)
    assert changed != BPMN
    response = api.post("/processes", {**payload(changed), "replace": True}, as_="analyst")
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["version"] == 2
    new = api.create_order()
    assert api.order(old)["process"]["version"] == 1
    assert api.order(new)["process"]["version"] == 2
    api.walk(old, ["plan_measurement"])
    api.walk(new, ["new_order", "plan_measurement"])
    assert api.order(old)["stage"] == "Замер"
    assert api.order(new)["stage"] == "Замер на объекте"
    versions = {d["version"]: d["running_instances"] for d in api.get("/processes").get_json()["items"]}
    assert versions == {1: 1, 2: 1}


def test_only_analysts_and_admins_deploy(api):
    assert api.post("/processes", payload(), as_="sales").status_code == 403


XXE = """<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">&xxe;</bpmn:definitions>"""
LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">&lol4;</bpmn:definitions>"""
FIRST_CONDITION = BPMN.index("<bpmn:conditionExpression")
CONDITION_END = BPMN.index("</bpmn:conditionExpression>", FIRST_CONDITION)
OPEN_END = BPMN.index(">", FIRST_CONDITION) + 1


def with_condition(expression: str) -> str:
    return BPMN[:OPEN_END] + expression + BPMN[CONDITION_END:]


BAD = {
    "malformed": (lambda: (BPMN[: len(BPMN) // 2], None), "malformed XML"),
    "unknown_lane": (lambda: (BPMN.replace('name="designer"', 'name="astronaut"', 1), None), "astronaut"),
    "missing_form": (lambda: (BPMN, {k: v for k, v in FORMS.items() if k != "measurement.schema.json"}),
                     "measurement.schema.json"),
    "invalid_form": (lambda: (BPMN, {**FORMS, "payment.schema.json": {"type": "no-such-type"}}),
                     "payment.schema.json"),
    "unknown_operator": (lambda: (BPMN.replace('serviceTaskOperator id="onec.sync"',
                                               'serviceTaskOperator id="teleport.now"'), None), "teleport.now"),
    "xxe": (lambda: (XXE, None), "DOCTYPE"),
    "billion_laughs": (lambda: (LAUGHS, None), "DOCTYPE"),
    "subclasses_escape": (lambda: (with_condition("().__class__.__base__.__subclasses__()"), None), "sandbox"),
    "import_os": (lambda: (with_condition("__import__('os').system('id')"), None), "sandbox"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_deploys_are_rejected_and_the_active_version_stays(api, case):
    make, needle = BAD[case]
    bpmn, forms = make()
    response = api.post("/processes", payload(bpmn, forms), as_="analyst")
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert body["error"] == "deploy_rejected"
    assert needle in body["message"] or any(needle in json.dumps(p, ensure_ascii=False) for p in body["problems"])
    assert newest_version(api) == 1
    number = api.create_order()
    assert api.order(number)["process"]["version"] == 1


def test_a_script_task_that_imports_os_is_refused(api):
    script = ('<bpmn:scriptTask id="evil" name="Злой скрипт"><bpmn:script>import os\nos.system("id")'
              '</bpmn:script></bpmn:scriptTask>')
    bpmn = BPMN.replace("</bpmn:process>", script + "</bpmn:process>", 1)
    response = api.post("/processes", payload(bpmn), as_="analyst")
    assert response.status_code == 422
    assert any(p.get("element_id") == "evil" and "import" in p["message"] for p in response.get_json()["problems"])


def test_the_sandbox_refuses_escapes_at_run_time_too(app):
    from app.engine.scripting import RefusedScript, RestrictedEnvironment

    env = RestrictedEnvironment({})
    with pytest.raises(RefusedScript):
        env.evaluate("().__class__.__base__.__subclasses__()", {})
    with pytest.raises(RefusedScript):
        env.execute("import os", {})
    with pytest.raises(NameError):
        env.evaluate("open('/etc/passwd').read()", {})
    data = {"components": [{"status": "received"}, {"status": "ordered"}]}
    assert env.evaluate("all(c['status'] == 'received' for c in components)", data) is False
    env.execute("total = sum(len(c) for c in components)\nflag = total > 1", data)
    assert data["total"] == 2 and data["flag"] is True


def test_flask_deploy_command_is_idempotent(app, runner):
    from tests.support.api import seed

    seed(app)
    result = runner.invoke(args=["deploy"])
    assert result.exit_code == 0, result.output
    assert "unchanged, order_lifecycle v1" in result.output
