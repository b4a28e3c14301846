"""Bindings live in the diagram: renaming every element id changes nothing a user sees; deploy checks them."""
from __future__ import annotations

import hashlib
import json
import re
import shutil
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from app.demo import STAGE_INPUT
from app.extensions import db
from app.models import Order
from tests.support.api import HAPPY_CASH, Api, seed
from tests.support.fake_onec import FakeOneC
from tests.test_status_page import AT_STAGE, text_of

ROOT = Path(__file__).resolve().parent.parent
BPMN = (ROOT / "processes" / "order_lifecycle.bpmn").read_text(encoding="utf-8")
DMN = {p.name: p.read_text(encoding="utf-8") for p in (ROOT / "processes").glob("*.dmn")}
FORMS = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in (ROOT / "forms").glob("*.json")}
REFERENCES = ("attachedToRef", "sourceRef", "targetRef", "default", "bpmnElement", "messageRef", "errorRef")
ONEC_USER, ONEC_PASSWORD = "Обмен", "секрет"
BANK = "Document_ПоступлениеБезналичныхДенежныхСредств"


def rename_ids(xml: str) -> tuple[str, dict[str, str]]:
    """Every BPMN element id (but the process id the platform starts) and every reference to it, renamed."""
    ids = [i for i in re.findall(r'<bpmn:\w+\b[^>]*?\sid="([^"]+)"', xml) if i != "order_lifecycle"]
    new = {old: f"el_{hashlib.sha1(old.encode()).hexdigest()[:10]}" for old in ids}

    def swap(match: re.Match) -> str:
        return match.group(1) + new.get(match.group(2), match.group(2)) + match.group(3)

    xml = re.sub(r'(<bpmn:\w+\b[^>]*?\sid=")([^"]+)(")', swap, xml)
    xml = re.sub(r'(\b(?:%s)=")([^"]+)(")' % "|".join(REFERENCES), swap, xml)
    xml = re.sub(r"(<bpmn:(?:incoming|outgoing|flowNodeRef)>)([^<]+)(<)", swap, xml)
    return xml, new


RENAMED, NEW_ID = rename_ids(BPMN)


def payload(bpmn: str) -> dict:
    return {"bpmn": bpmn, "bpmn_name": "order_lifecycle.bpmn", "dmn": DMN, "forms": FORMS}


@pytest.fixture
def onec():
    server = FakeOneC(ONEC_USER, ONEC_PASSWORD)
    yield server
    server.stop()


@pytest.fixture
def renamed(make_app, tmp_path, onec):
    """The app running the lifecycle with every id renamed (version 1), 1C answering on a local server."""
    folder = tmp_path / "renamed"
    folder.mkdir()
    (folder / "order_lifecycle.bpmn").write_text(RENAMED, encoding="utf-8")
    for name in DMN:
        shutil.copy(ROOT / "processes" / name, folder / name)
    app = make_app(PROCESSES_DIR=str(folder), WTF_CSRF_ENABLED=False, ONEC_URL=onec.odata_url,
                   ONEC_USER=ONEC_USER, ONEC_PASSWORD=ONEC_PASSWORD)
    return app, Api(app, app.test_client())


def step(api: Api, number: str, old_id: str, variant: dict | None = None) -> None:
    """Complete the open task, which must be the renamed `old_id`, with the standard input for it."""
    task = api.open_task(number)
    assert task is not None and task["bpmn_id"] == NEW_ID[old_id], (old_id, task)
    response = api.complete(task, STAGE_INPUT[old_id](api.rng, variant or {}))
    assert response.status_code == 200, response.get_json()


def signed_in(app, login: str):
    client = app.test_client()
    assert client.post("/login", data={"login": login, "password": "demo"}).status_code == 302
    return client


def check_status_page(app, token: str, old_id: str) -> str:
    response = app.test_client().get(f"/s/{token}")
    assert response.status_code == 200
    page, html = text_of(response), response.get_data(as_text=True)
    heading, sentence, following = AT_STAGE[old_id]
    assert f'<h1 id="now-title" data-stage>{heading}</h1>' in html, (old_id, page[:300])
    assert sentence in page, (old_id, page[:400])
    if following:
        assert f"Следующий шаг {following}" in page, old_id
    states = re.findall(r'<li class="(done|current|upcoming)" data-milestone="(\w+)"', html)
    assert [code for _state, code in states] == ["received", "measurement", "contract", "payment", "production",
                                                 "delivery", "done"]
    return html


def test_renaming_every_element_id_changes_nothing_a_user_sees(renamed, onec):
    app, api = renamed
    assert 'id="new_order"' not in RENAMED and 'id="payment"' not in RENAMED and NEW_ID["payment"] in RENAMED
    variant = {"payment_type": "cashless", "price": 120000.0, "prepayment": 36000.0, "claim": True}
    number = api.create_order()
    assert api.order(number)["process"]["version"] == 1
    token = api.order(number)["status_url"].rsplit("/", 1)[1]

    for old_id in HAPPY_CASH:
        html = check_status_page(app, token, old_id)
        if old_id == "prepare_contract":  # the measurer's visit shows on the next person's task page
            task = api.open_task(number)
            page = signed_in(app, "sales").get(f"/tasks/{task['id']}").get_data(as_text=True)
            assert "Замеры" in page and "Корпус ЛДСП, две раздвижные двери, зеркало" in page
        if old_id == "payment":  # the accountant enters the payment in 1C: it lands on the payment task
            assert 'data-milestone="payment" aria-current="step"' in html
            onec.add(BANK, Number="0000-000117", Date=f"{date.today()}T10:15:00", СуммаДокумента=36000,
                     НазначениеПлатежа=f"Предоплата по заказу {number}", Posted=True)
            with app.app_context():
                from app.operators.onec import pull_payments

                summary = pull_payments()
            assert summary["checked"] == 1 and summary["recorded"] == ["0000-000117"], summary
            order = api.order(number)
            assert order["stage"] == "Комплектация" and order["tasks"][0]["bpmn_id"] == NEW_ID["procurement"]
            continue
        step(api, number, old_id, variant)

    # The customer's rating task carries its own title on the status page; a claim goes to review and revisit.
    html = check_status_page(app, token, "feedback")
    feedback = api.open_task(number)
    assert f'<h2 id="task-title-{feedback["id"]}">Ваш отзыв</h2>' in html
    step(api, number, "feedback", variant)
    page = text_of(app.test_client().get(f"/s/{token}"))
    assert "Рассматриваем вашу претензию. Мы свяжемся с вами." in page
    step(api, number, "claim_review", variant)
    assert "Специалист приедет, чтобы устранить замечания" in text_of(app.test_client().get(f"/s/{token}"))
    step(api, number, "claim_revisit", variant)

    # The documents read the installer's and the revisit crew's reports from the tasks that record them.
    with app.app_context():
        from app.operators.documents import document_context

        order = db.session.execute(select(Order).where(Order.number == number)).scalar_one()
        context = document_context(order, "claim_report", 1)
        assert context["installation"]["report"] == "Доставлено и смонтировано, мусор вывезен"
        assert context["installation"]["date"] is not None
        assert context["claim"]["revisit_report"] == "Двери отрегулированы, кромка заменена"

    # Bulk confirm finds the new orders' entry task by its binding.
    fresh = [api.create_order() for _ in range(2)]
    page = signed_in(app, "sales").post("/orders/bulk", data={"bulk_action": "confirm", "orders": fresh})
    assert "Выполнено: 2 из 2" in page.get_data(as_text=True)
    assert {api.order(n)["stage"] for n in fresh} == {"Планирование выезда на замер"}

    # A new version with the original ids: each order keeps the bindings of the version it runs on.
    response = api.post("/processes", {**payload(BPMN), "replace": True}, as_="analyst")
    assert response.status_code == 201 and response.get_json()["version"] == 2
    newer = api.create_order()
    assert api.order(newer)["process"]["version"] == 2 and api.open_task(newer)["bpmn_id"] == "new_order"
    check_status_page(app, api.order(newer)["status_url"].rsplit("/", 1)[1], "new_order")
    check_status_page(app, api.order(fresh[0])["status_url"].rsplit("/", 1)[1], "plan_measurement")
    page = signed_in(app, "sales").post("/orders/bulk", data={"bulk_action": "confirm", "orders": [newer]})
    assert "Выполнено: 1 из 1" in page.get_data(as_text=True)


def without(pattern: str) -> str:
    """The lifecycle diagram with every property line matching `pattern` removed."""
    changed = re.sub(r"\n\s*<spiffworkflow:property name=\"%s\" value=\"[^\"]*\"/>" % pattern, "", BPMN)
    assert changed != BPMN
    return changed


MISSING = {
    "payment": (without(r"bespoke:records(?=\" value=\"payment)"), 'bespoke:records="payment"'),
    "installation": (without(r"bespoke:records(?=\" value=\"installation)"), 'bespoke:records="installation"'),
    "measurement_visit": (without("bespoke:visit"), 'bespoke:visit="measurement"'),
    "entry": (without("bespoke:entry"), 'bespoke:entry="true"'),
    "production_milestone": (re.sub(r'\n\s*<spiffworkflow:property name="bespoke:milestone" value="production"/>'
                                    r'\n\s*<spiffworkflow:property name="bespoke:customerText" value="[^"]*"/>', "",
                                    BPMN), 'bespoke:milestone="production"'),
}


def newest_version(api) -> int:
    return max(d["version"] for d in api.get("/processes").get_json()["items"])


@pytest.mark.parametrize("case", list(MISSING))
def test_a_version_that_loses_a_required_binding_is_refused_naming_it(api, case):
    bpmn, binding = MISSING[case]
    response = api.post("/processes", payload(bpmn), as_="analyst")
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert body["error"] == "deploy_rejected" and binding in body["message"], body
    assert any(p.get("binding") == binding.split("=")[0] and p.get("element_id") is None for p in body["problems"])
    assert newest_version(api) == 1
    number = api.create_order()
    assert api.order(number)["process"]["version"] == 1
    api.walk(number, ["new_order"])


def test_flask_deploy_refuses_a_diagram_without_a_required_binding(app, runner, tmp_path):
    seed(app)
    folder = tmp_path / "processes"
    folder.mkdir()
    (folder / "order_lifecycle.bpmn").write_text(MISSING["payment"][0], encoding="utf-8")
    for name in DMN:
        shutil.copy(ROOT / "processes" / name, folder / name)
    result = runner.invoke(args=["deploy", "--processes", str(folder), "--forms", str(ROOT / "forms")])
    assert result.exit_code != 0
    assert 'bespoke:records="payment"' in result.output
    assert "unchanged, order_lifecycle v1" in runner.invoke(args=["deploy"]).output


MALFORMED = {
    "unknown_value": (BPMN.replace('name="bespoke:milestone" value="production"',
                                   'name="bespoke:milestone" value="manufacture"', 1),
                      "procurement", "bespoke:milestone", "manufacture"),
    "misspelled_name": (BPMN.replace('name="bespoke:visit"', 'name="bespoke:vist"', 1),
                        "measurement", "bespoke:vist", "unknown binding"),
    "not_a_user_task": (BPMN.replace('<spiffworkflow:property name="stage" value="Завершён"/>',
                                     '<spiffworkflow:property name="stage" value="Завершён"/>'
                                     '<spiffworkflow:property name="bespoke:rating" value="true"/>', 1),
                        "order_completed", "bespoke:rating", "user task"),
    "text_without_milestone": (BPMN.replace('<spiffworkflow:property name="bespoke:milestone" value="contract"/>',
                                            "", 1),
                               "prepare_contract", "bespoke:customerText", "bespoke:milestone"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_a_malformed_binding_is_refused_naming_the_element(api, case):
    bpmn, element, binding, needle = MALFORMED[case]
    assert bpmn != BPMN
    response = api.post("/processes", payload(bpmn), as_="analyst")
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert body["message"].startswith(f"Deployment rejected: {element}: ")
    problem = body["problems"][0]  # a misspelt name also loses the binding it meant: a second problem
    assert problem["element_id"] == element and problem["binding"] == binding and needle in problem["message"], problem
    assert newest_version(api) == 1
