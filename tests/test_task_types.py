"""Every task type a diagram may draw runs through the API to its end: manual, plain and formless user tasks,
scripts that print, pre- and post-scripts, multi-instance and standard loops."""
from __future__ import annotations

from tests.support.diagrams import complete, deploy_diagram, instance, start


def _log(api, instance_id: int, as_: str = "admin") -> list[tuple[str, str]]:
    response = api.get(f"/instances/{instance_id}/log", as_=as_)
    assert response.status_code == 200, response.get_json()
    return [(line["bpmn_id"], line["text"]) for line in response.get_json()["items"]]


def test_manual_plain_and_formless_tasks_complete_with_nothing_and_show_their_filled_in_documentation(api):
    deployed = deploy_diagram(api, "tt_manual.bpmn")
    assert not [w for w in deployed["warnings"] if w.get("variable") == "print"]  # print is there in every script
    started = start(api, "tt_manual", {"item": "петли", "amount": 1200}, as_="analyst")
    [check] = started["tasks"]
    assert (check["kind"], check["lane"]) == ("manual", "sales")
    detail = api.get(f"/tasks/{check['id']}", as_="sales").get_json()
    # Jinja filled from the task's data; a name nobody set is simply empty.
    assert detail["documentation"] == "Проверьте, есть ли на складе **петли** (заявка на 1200 ₽)."
    assert detail["schema"] == {} or not detail["schema"].get("properties")

    assert api.post(f"/tasks/{check['id']}/complete", {"data": {}}, as_="measurer").status_code == 403
    after = complete(api, check, {"amount": 1, "sneaked": "в обход формы"})
    again = api.post(f"/tasks/{check['id']}/complete", {"data": {}}, as_="sales")
    assert again.status_code == 409

    [sign] = after["tasks"]
    assert (sign["kind"], sign["lane"], sign["assignee"]) == ("task", "", "analyst")
    sign_detail = api.get(f"/tasks/{sign['id']}", as_="analyst").get_json()
    # The sandbox refuses to walk into Python internals: the text stays as the analyst wrote it.
    assert sign_detail["documentation"] == "Подпишите бумажную заявку {{ item.__class__.__mro__ }}"
    assert api.post(f"/tasks/{sign['id']}/complete", {"data": {}}, as_="sales").status_code == 403
    after = complete(api, sign, as_="analyst")

    [acknowledge] = after["tasks"]
    assert (acknowledge["kind"], acknowledge["lane"]) == ("user", "sales")
    complete(api, acknowledge, {"anything": 5})

    done = instance(api, started["id"])
    assert done["status"] == "completed" and done["tasks"] == []
    # Data sent to tasks without a form is not stored: the start data stands.
    assert done["data"]["amount"] == 1200 and "sneaked" not in done["data"] and "anything" not in done["data"]
    assert done["data"]["noted"] is True
    assert _log(api, started["id"]) == [("note", "Заявка: петли на 1200 ₽")]


def test_pre_and_post_scripts_fill_the_form_record_the_answer_and_print_to_the_log(api):
    deploy_diagram(api, "tt_scripts.bpmn")
    started = start(api, "tt_scripts", {"price": 450, "qty": 3})
    [confirm] = started["tasks"]
    detail = api.get(f"/tasks/{confirm['id']}", as_="sales").get_json()
    assert detail["data"]["total"] == 1350  # the preScript computed what the form shows
    assert _log(api, started["id"], as_="sales") == [("confirm", "итого 1350")]

    after = complete(api, confirm, {"confirmed": True})
    [hand_over] = after["tasks"]
    hand_detail = api.get(f"/tasks/{hand_over['id']}", as_="sales").get_json()
    # The postScript's answer and the next task's preScript both reach the documentation.
    assert hand_detail["documentation"] == "Распечатайте 2 экз. счёта на 1350 ₽ (подтверждено)."
    complete(api, hand_over)

    done = instance(api, started["id"])
    assert done["status"] == "completed"
    data = done["data"]
    assert (data["verdict"], data["copies"], data["handed"]) == ("подтверждено", 2, True)
    assert (data["number"], data["archived_total"]) == ("С-3", 1350)
    assert _log(api, started["id"]) == [
        ("confirm", "итого 1350"), ("confirm", "решение: подтверждено"),
        ("archive", "в архив: 1350"), ("archive", "строка 0"), ("archive", "строка 1"), ("archive", "строка 2"),
    ]


def test_a_parallel_multi_instance_task_opens_one_task_per_item_and_gathers_the_answers(api):
    deploy_diagram(api, "tt_mi_parallel.bpmn")
    started = start(api, "tt_mi_parallel", {"suppliers": ["Альфа", "Бета", "Гамма"]})
    tasks = started["tasks"]
    assert sorted(t["name"] for t in tasks) == [
        "Оценить поставщика — Альфа", "Оценить поставщика — Бета", "Оценить поставщика — Гамма"]
    assert {t["lane"] for t in tasks} == {"sales"}
    queue = {t["id"] for t in api.get("/tasks?scope=queue", as_="sales").get_json()["items"]}
    assert {t["id"] for t in tasks} <= queue
    by_name = {t["name"].split(" — ")[1]: t for t in tasks}
    detail = api.get(f"/tasks/{by_name['Бета']['id']}", as_="sales").get_json()
    assert detail["documentation"] == "Оцените поставщика Бета."

    refused = api.post(f"/tasks/{by_name['Бета']['id']}/complete", {"data": {"verdict": "отлично"}}, as_="sales")
    assert refused.status_code == 422 and "verdict" in refused.get_json()["fields"]
    complete(api, by_name["Бета"], {"verdict": "не годен"})
    after = complete(api, by_name["Гамма"], {"verdict": "годен"})
    assert after["instance"]["status"] == "running" and [t["name"] for t in after["tasks"]] == [
        "Оценить поставщика — Альфа"]
    after = complete(api, by_name["Альфа"], {"verdict": "годен"})
    assert after["instance"]["status"] == "completed" and after["tasks"] == []

    data = instance(api, started["id"])["data"]
    assert data["verdicts"] == ["годен", "не годен", "годен"]  # in the order of the suppliers, not of the answers
    assert data["letters"] == ["Уважаемый Альфа", "Уважаемый Бета", "Уважаемый Гамма"]  # a multi-instance script
    assert sorted(text for _, text in _log(api, started["id"])) == [
        "Уважаемый Альфа", "Уважаемый Бета", "Уважаемый Гамма"]


def test_a_multi_instance_task_without_its_collection_is_refused_with_the_collections_name(api):
    deploy_diagram(api, "tt_mi_parallel.bpmn")
    for data in ({}, {"suppliers": 3}, {"suppliers": "Альфа"}):
        refused = api.post("/processes/tt_mi_parallel/instances", {"data": data}, as_="admin")
        assert refused.status_code == 422, refused.get_json()
        assert "suppliers" in refused.get_json()["message"]
    assert api.get("/instances?process_id=tt_mi_parallel").get_json()["count"] == 0


def test_a_sequential_multi_instance_task_opens_one_task_after_another_then_a_standard_loop_runs(api):
    deploy_diagram(api, "tt_mi_sequential.bpmn")
    started = start(api, "tt_mi_sequential", {"counter": 0})
    [first] = started["tasks"]
    assert first["name"] == "Сделать замер — 1/2"
    after = complete(api, first, {"verdict": "годен"})
    [second] = after["tasks"]
    assert second["name"] == "Сделать замер — 2/2" and second["id"] != first["id"]
    after = complete(api, second, {"verdict": "не годен"})
    assert after["instance"]["status"] == "completed"

    data = instance(api, started["id"])["data"]
    assert data["verdicts"] == ["годен", "не годен"]
    assert data["counter"] == 3  # the loop ran while its condition held
    assert _log(api, started["id"]) == [("count", "круг 1"), ("count", "круг 2"), ("count", "круг 3")]


def test_the_log_of_an_instance_is_shown_only_to_those_who_may_see_the_instance(api):
    deploy_diagram(api, "tt_manual.bpmn")
    started = start(api, "tt_manual", {"item": "ручки", "amount": 300}, as_="admin")
    assert api.get(f"/instances/{started['id']}/log", as_="measurer").status_code == 404
    assert api.get("/instances/999999/log", as_="admin").status_code == 404
    body = api.get(f"/instances/{started['id']}/log", as_="sales").get_json()
    assert body["count"] == 1 and body["items"][0]["at"] and body["items"][0]["text"] == "Заявка: ручки на 300 ₽"


def test_a_script_that_prints_too_much_keeps_the_first_lines_each_cut_to_size_and_says_how_many_were_dropped(api):
    deploy_diagram(api, "tt_chatty.bpmn")
    started = start(api, "tt_chatty")
    assert started["status"] == "completed"
    lines = _log(api, started["id"])
    assert len(lines) == 201 and lines[0] == ("chatter", "я" * 2000)
    assert lines[199] == ("chatter", "строка 199")
    assert lines[200] == ("chatter", "… ещё 100 строк не записано")


def test_a_failing_post_script_refuses_the_completion_with_the_task_and_the_error_and_the_task_stays_open(api):
    deploy_diagram(api, "tt_bad_post.bpmn")
    started = start(api, "tt_bad_post", {"total": 100, "people": 0})
    [split] = started["tasks"]
    refused = api.post(f"/tasks/{split['id']}/complete", {"data": {}}, as_="admin")
    assert refused.status_code == 422, refused.get_json()
    message = refused.get_json()["message"]
    assert "Поделить поровну (split)" in message and "ZeroDivisionError" in message and "Post-Script" in message
    after = instance(api, started["id"])
    assert after["status"] == "running" and [t["id"] for t in after["tasks"]] == [split["id"]]
    assert api.get(f"/tasks/{split['id']}", as_="admin").get_json()["state"] == "open"
