"""Deploy bundles: several BPMN files in one deploy, call activities into the bundle and into processes deployed
earlier, and a process id that is already taken by another diagram (409 unless `replace`)."""
from __future__ import annotations

import io

from tests.support.diagrams import DATA, bundle, complete, instance, start


def files(*names: str) -> dict:
    """The JSON deploy body of a bundle: the first file as `bpmn`, the others in `bpmn_files`, every form."""
    return {**bundle(names[0]), "bpmn_files": {n: (DATA / n).read_text() for n in names[1:]}}


def test_a_bundle_calls_its_own_file_and_a_process_deployed_earlier_and_data_flows_back(api):
    notice = api.post("/processes", bundle("bd_notice.bpmn"), as_="analyst")
    assert notice.status_code == 201 and notice.get_json()["processes"] == [
        {"process_id": "bd_notice", "version": 1, "created": True}]

    deployed = api.post("/processes", files("bd_trip.bpmn", "bd_budget.bpmn"), as_="analyst")
    assert deployed.status_code == 201, deployed.get_json()
    body = deployed.get_json()
    # Both processes of the bundle are deployed; the main one is the one nothing in the bundle calls.
    assert (body["process_id"], body["version"]) == ("bd_trip", 1)
    assert sorted((p["process_id"], p["version"], p["created"]) for p in body["processes"]) == [
        ("bd_budget", 1, True), ("bd_trip", 1, True)]
    listed = {d["process_id"] for d in api.get("/processes").get_json()["items"]}
    assert {"bd_trip", "bd_budget", "bd_notice"} <= listed

    started = start(api, "bd_trip", {"city": "Казань"}, as_="analyst")
    [approve] = started["tasks"]  # the called process's user task, in the caller's instance
    assert (approve["bpmn_id"], approve["lane"], approve["instance_id"]) == ("approve_budget", "sales", started["id"])
    queue = api.get("/tasks?scope=queue", as_="sales").get_json()["items"]
    assert approve["id"] in [t["id"] for t in queue]
    after = complete(api, approve, {"amount": 5000})
    [sign] = after["tasks"]  # the deployed process's manual task, the starter's
    assert (sign["bpmn_id"], sign["kind"], sign["assignee"]) == ("sign_notice", "manual", "analyst")
    assert sign["instance_id"] == started["id"]
    complete(api, sign, as_="analyst")

    done = instance(api, started["id"])
    assert done["status"] == "completed" and done["tasks"] == []
    # What the called processes wrote came back: the budget's amount and the notice's mark, used by the caller.
    assert done["data"]["total"] == 5100 and done["data"]["notice_signed"] is True
    assert done["data"]["city"] == "Казань"


def test_the_same_bundle_again_is_no_new_version(api):
    first = api.post("/processes", files("bd_trip.bpmn", "bd_budget.bpmn", "bd_notice.bpmn"), as_="analyst")
    assert first.status_code == 201, first.get_json()
    again = api.post("/processes", files("bd_trip.bpmn", "bd_budget.bpmn", "bd_notice.bpmn"), as_="analyst")
    assert again.status_code == 200
    assert {(p["process_id"], p["version"], p["created"]) for p in again.get_json()["processes"]} == {
        ("bd_trip", 1, False), ("bd_budget", 1, False), ("bd_notice", 1, False)}


def test_another_diagram_under_a_taken_process_id_is_refused_unless_replace(api):
    assert api.post("/processes", bundle("bd_notice.bpmn"), as_="analyst").status_code == 201
    other = bundle("bd_notice.bpmn")
    other["bpmn"] = other["bpmn"].replace("Подписать приказ", "Завизировать приказ")

    clash = api.post("/processes", other, as_="admin")
    assert clash.status_code == 409
    answer = clash.get_json()
    [found] = answer["clashes"]
    assert (found["process_id"], found["version"], found["deployed_by"]) == ("bd_notice", 1, "analyst")
    assert found["deployed_at"] and "bd_notice" in answer["message"] and "replace" in answer["message"]
    versions = api.get("/processes/bd_notice/versions").get_json()["items"]
    assert [v["version"] for v in versions] == [1]  # nothing stored

    replaced = api.post("/processes", {**other, "replace": True}, as_="admin")
    assert replaced.status_code == 201 and replaced.get_json()["version"] == 2
    versions = api.get("/processes/bd_notice/versions").get_json()["items"]
    assert [(v["version"], v["active"]) for v in versions] == [(2, True), (1, False)]
    # The same content as an existing version is that version, replace or not.
    again = api.post("/processes", other, as_="admin")
    assert again.status_code == 200 and again.get_json()["version"] == 2


def test_a_call_to_a_process_neither_in_the_deploy_nor_deployed_is_refused_on_its_element(api):
    refused = api.post("/processes", files("bd_lost.bpmn", "bd_budget.bpmn"), as_="analyst")
    assert refused.status_code == 422
    [problem] = [p for p in refused.get_json()["problems"] if p["severity"] == "error"]
    assert (problem["element_id"], problem["name"], problem["file"]) == ("call_notice", "Издать приказ", "bd_lost.bpmn")
    assert problem["message"] == "calls 'bd_nowhere', which is neither in this deploy nor deployed"
    assert api.get("/processes/bd_budget/versions").status_code == 404  # nothing of the bundle stored

    report = api.post("/processes/bd_lost/validate", files("bd_lost.bpmn", "bd_budget.bpmn"), as_="analyst")
    assert report.status_code == 200 and report.get_json()["ok"] is False
    assert "call_notice" in [p["element_id"] for p in report.get_json()["problems"]]
    # Once the called process is deployed, the same bundle is fine.
    alone = files("bd_lost.bpmn", "bd_budget.bpmn")
    alone["bpmn_files"]["bd_notice.bpmn"] = (DATA / "bd_notice.bpmn").read_text().replace("bd_notice", "bd_nowhere")
    assert api.post("/processes/bd_lost/validate", alone, as_="analyst").get_json()["ok"] is True


def test_a_process_that_calls_itself_is_refused_on_the_call_not_left_to_start_itself_for_ever(api):
    refused = api.post("/processes", bundle("bd_loop.bpmn"), as_="analyst")
    assert refused.status_code == 422
    [problem] = [p for p in refused.get_json()["problems"] if p["severity"] == "error"]
    assert (problem["element_id"], problem["name"]) == ("again", "Ещё раз")
    assert problem["message"] == "calls 'bd_loop', which calls 'bd_loop' again: the calls would never end"


def multipart(*bpmn: tuple[str, bytes], **fields) -> dict:
    """A multipart deploy body: the BPMN parts and every form of the folder."""
    return {"bpmn": [(io.BytesIO(content), name) for name, content in bpmn],
            "forms": [(io.BytesIO(p.read_bytes()), p.name) for p in sorted(DATA.glob("*.json"))], **fields}


def test_multipart_with_two_bpmn_parts_and_replace(api):
    assert api.post("/processes", bundle("bd_notice.bpmn"), as_="analyst").status_code == 201
    two = multipart(*((n, (DATA / n).read_bytes()) for n in ("bd_trip.bpmn", "bd_budget.bpmn")))
    sent = api.post("/processes", data=two, as_="analyst")
    assert sent.status_code == 201, sent.get_json()
    assert sent.get_json()["process_id"] == "bd_trip"
    assert {p["process_id"] for p in sent.get_json()["processes"]} == {"bd_trip", "bd_budget"}

    changed = (DATA / "bd_budget.bpmn").read_text().replace("Утвердить бюджет", "Проверить бюджет").encode()
    assert api.post("/processes", data=multipart(("bd_budget.bpmn", changed)), as_="analyst").status_code == 409
    replaced = api.post("/processes", data=multipart(("bd_budget.bpmn", changed), replace="true"), as_="analyst")
    assert replaced.status_code == 201 and replaced.get_json()["version"] == 2


def test_flask_deploy_deploys_the_processes_folder_as_one_bundle(app, runner, tmp_path):
    from tests.support.api import seed

    seed(app)
    processes, forms = tmp_path / "processes", tmp_path / "forms"
    processes.mkdir()
    forms.mkdir()
    for name in ("bd_trip.bpmn", "bd_budget.bpmn", "bd_notice.bpmn"):
        (processes / name).write_bytes((DATA / name).read_bytes())
    (forms / "bd-budget.schema.json").write_bytes((DATA / "bd-budget.schema.json").read_bytes())
    result = runner.invoke(args=["deploy", "--processes", str(processes), "--forms", str(forms)])
    assert result.exit_code == 0, result.output
    for process_id in ("bd_trip", "bd_budget", "bd_notice"):
        assert f"{process_id}: deployed {process_id} v1" in result.output
    again = runner.invoke(args=["deploy", "--processes", str(processes), "--forms", str(forms)])
    assert again.exit_code == 0 and "bd_trip: unchanged, bd_trip v1" in again.output
