"""Tasks: scopes, roles on every task, claiming and assigning, validation, two people at once."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm.exc import StaleDataError

from app.demo import STAGE_INPUT
from app.extensions import db
from app.models import Order, ProcessInstance, User
from app.usecases.tasks import claim_task, complete_task, get_task
from app.usecases.uow import savepoint, unit_of_work
from tests.support.api import HAPPY_CASH, Api
from tests.support.held import held_open
from tests.test_crews import queued_order

WRONG_ROLE = {"sales": "production", "customer": "sales"}
# A walk that meets all fourteen user tasks: design, the bank and the claim included.
EVERY_TASK = [("new_order", {}), ("plan_measurement", {}), ("measurement", {}),
              ("prepare_contract", {"contract_outcome": "to_design"}), ("design", {}),
              ("prepare_contract", {"payment_type": "credit"}), ("bank_decision", {}), ("payment", {}),
              ("procurement", {}), ("production", {}), ("plan_delivery", {}), ("installation", {}),
              ("feedback", {"claim": True}), ("claim_review", {"claim_resolution": "revisit"}), ("claim_revisit", {})]


def test_roles_are_enforced_on_every_task(api):
    number = api.create_order()
    seen = {}
    for bpmn_id, variant in EVERY_TASK:
        task = api.open_task(number)
        assert task["bpmn_id"] == bpmn_id
        outsider = WRONG_ROLE.get(task["lane"], "sales")
        data = STAGE_INPUT[bpmn_id](api.rng, variant)
        response = api.post(f"/tasks/{task['id']}/complete", {"data": data}, as_=outsider)
        assert response.status_code == 403, (bpmn_id, response.get_json())
        if task["lane"] != "customer":
            assert api.get(f"/tasks/{task['id']}", as_=outsider).status_code == 403
        assert api.open_task(number)["id"] == task["id"]  # nothing moved
        seen[bpmn_id] = task["lane"]
        api.step(number, bpmn_id, variant)
    assert seen == {"new_order": "sales", "plan_measurement": "dispatch", "measurement": "measurer",
                    "prepare_contract": "sales", "design": "designer", "bank_decision": "accountant",
                    "payment": "accountant", "procurement": "procurement", "production": "production",
                    "plan_delivery": "delivery_dispatch", "installation": "installer", "feedback": "customer",
                    "claim_review": "quality", "claim_revisit": "installer"}
    assert api.order(number)["process"]["status"] == "completed"


def test_a_task_assigned_to_someone_else_is_refused(api):
    number = api.create_order()
    api.walk(number, ["new_order"])
    api.step(number, "plan_measurement", {"measurer": "measurer2"})
    task = api.open_task(number)
    assert task["assignee"] == "measurer2"
    data = STAGE_INPUT["measurement"](api.rng, {})
    response = api.post(f"/tasks/{task['id']}/complete", {"data": data}, as_="measurer")
    assert response.status_code == 403 and "measurer2" in response.get_json()["message"]
    assert api.get("/tasks?scope=mine", as_="measurer2").get_json()["count"] == 1
    assert api.get("/tasks?scope=mine", as_="measurer").get_json()["count"] == 0


def test_queue_claim_unclaim_and_head_assigns(api):
    number = api.create_order()
    task = api.open_task(number)
    queue = api.get("/tasks?scope=queue", as_="sales").get_json()
    assert [t["id"] for t in queue["items"]] == [task["id"]]
    assert api.post(f"/tasks/{task['id']}/claim", as_="sales").get_json()["assignee"] == "sales"
    assert api.get("/tasks?scope=queue", as_="sales").get_json()["count"] == 0
    assert api.get("/tasks?scope=mine", as_="sales").get_json()["count"] == 1
    assert api.post(f"/tasks/{task['id']}/claim", as_="head_sales").status_code == 403
    assert api.post(f"/tasks/{task['id']}/assign", {"user": "head_sales"}, as_="sales").status_code == 403
    response = api.post(f"/tasks/{task['id']}/assign", {"user": "head_sales"}, as_="head_sales")
    assert response.status_code == 200 and response.get_json()["assignee"] == "head_sales"
    assert api.post(f"/tasks/{task['id']}/assign", {"user": "measurer"}, as_="head_sales").status_code == 422
    assert api.post(f"/tasks/{task['id']}/unclaim", as_="head_sales").get_json()["assignee"] is None
    history = api.get(f"/orders/{number}/history").get_json()["items"]
    assert [e["new"] for e in history if e["field"] == "assignee"] == ["sales", "head_sales", None]


def test_task_detail_has_schema_with_choices_filled_and_data(api):
    number = api.create_order()
    api.walk(number, ["new_order"])
    task = api.get(f"/tasks/{api.open_task(number)['id']}", as_="dispatch").get_json()
    assert task["bpmn_id"] == "plan_measurement" and task["lane"] == "dispatch"
    measurer = task["schema"]["properties"]["measurer"]
    assert measurer["enum"] == ["measurer", "measurer2"] or sorted(measurer["enum"]) == ["head_measurer", "measurer",
                                                                                       "measurer2"]
    assert len(measurer["x-enumNames"]) == len(measurer["enum"])
    assert task["ui_schema"]
    assert set(task) >= {"id", "order_number", "name", "bpmn_id", "lane", "assignee", "created_at", "due_at",
                         "schema", "ui_schema", "data"}


def test_invalid_form_data_gets_errors_per_field_and_nothing_moves(api):
    number = api.create_order()
    api.walk(number, HAPPY_CASH[:3])
    task = api.open_task(number)
    response = api.post(f"/tasks/{task['id']}/complete", {"data": {
        "contract_outcome": "to_payment", "price": -5, "payment_type": "barter"}}, as_="sales")
    assert response.status_code == 422
    fields = response.get_json()["fields"]
    assert {"price", "payment_type", "prepayment", "promised_date"} <= set(fields)
    assert api.open_task(number)["id"] == task["id"]
    # Process variables that are not form fields cannot be smuggled in.
    api.step(number, "prepare_contract", order_kind="windows")
    assert api.order(number)["kind"] == "wardrobe"


def test_production_cannot_finish_while_a_component_is_missing(api):
    number = api.create_order()
    api.walk(number, HAPPY_CASH[:6])
    task = api.open_task(number)
    assert task["bpmn_id"] == "production"
    data = STAGE_INPUT["production"](api.rng, {})
    data["components"][0]["status"] = "ordered"
    response = api.post(f"/tasks/{task['id']}/complete", {"data": data}, as_="production")
    assert response.status_code == 422
    assert "комплектующие" in response.get_json()["message"]
    api.step(number, "production")


def test_completing_a_finished_task_is_a_conflict(api):
    number = api.create_order()
    task = api.open_task(number)
    api.step(number, "new_order")
    response = api.post(f"/tasks/{task['id']}/complete", {"data": {"decision": "confirm"}}, as_="sales")
    assert response.status_code == 409 and "no longer open" in response.get_json()["message"]


def test_two_people_complete_the_same_task_at_once(api, app):
    number = api.create_order()
    task = api.open_task(number)
    tokens = {login: api.token(login) for login in ("sales", "head_sales")}
    barrier = threading.Barrier(2)
    results: dict[str, int] = {}

    def submit(login: str) -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"decision": "confirm"}},
                               headers={"Authorization": f"Bearer {tokens[login]}"})
        results[login] = response.status_code

    threads = [threading.Thread(target=submit, args=(login,)) for login in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results.values()) == [200, 409], results
    winner = next(login for login, code in results.items() if code == 200)
    order = api.order(number)
    assert order["stage"] == "Планирование выезда на замер"
    assert len(order["tasks"]) == 1 and order["tasks"][0]["bpmn_id"] == "plan_measurement"
    done = api.get(f"/tasks/{task['id']}").get_json()
    assert done["state"] == "completed" and done["completed_by"] == winner
    history = api.get(f"/orders/{number}/history").get_json()["items"]
    assert sum(1 for e in history if e["kind"] == "stage" and e["new"] == "Планирование выезда на замер") == 1


def test_a_step_over_an_instance_another_step_changed_meanwhile_is_refused_and_leaves_nothing(api, app):
    """The instance's version counter: a completion that read the instance before another step saved it (on
    PostgreSQL a step of a parallel branch; SQLite's writers take turns) writes nothing and says why."""
    number = api.create_order()
    task = api.open_task(number)
    with app.app_context():
        instance = db.session.execute(select(ProcessInstance).join(Order).where(Order.number == number)).scalar_one()
        instance_id, before = instance.id, (instance.state, instance.lock_version)
        sales = db.session.execute(select(User).where(User.login == "sales")).scalar_one()
        with pytest.raises(StaleDataError), unit_of_work():
            get_task(task["id"])  # the task with its instance, read as the completion reads them
            db.session.connection().execute(  # another writer's step, committed in between
                update(ProcessInstance.__table__).where(ProcessInstance.id == instance_id)
                .values(lock_version=ProcessInstance.lock_version + 1))
            complete_task(task["id"], {"decision": "confirm"}, sales)
        db.session.remove()
    with app.app_context():
        instance = db.session.get_one(ProcessInstance, instance_id)
        assert (instance.state, instance.lock_version) == before  # the whole unit of work rolled back
    assert api.open_task(number)["id"] == task["id"] and api.order(number)["stage"] == "Новый заказ"


def test_a_step_undone_by_its_savepoint_leaves_the_instance_as_stored_for_the_next_step(api, app):
    """A step inside a savepoint that then fails (a form's files kept, its data refused) is undone with it: the
    instance reads as the database holds it again, and a step after it in the same unit of work goes through."""
    number = api.create_order()
    task = api.open_task(number)
    with app.app_context():
        sales = db.session.execute(select(User).where(User.login == "sales")).scalar_one()
        with unit_of_work():
            instance = get_task(task["id"]).instance
            before = (instance.state, instance.lock_version)
            with pytest.raises(RuntimeError), savepoint():
                complete_task(task["id"], {"decision": "confirm"}, sales)
                assert instance.lock_version == before[1] + 1
                raise RuntimeError("what came after the step failed")
            assert (instance.state, instance.lock_version) == before
            complete_task(task["id"], {"decision": "confirm"}, sales)
        db.session.remove()
    assert api.order(number)["stage"] == "Планирование выезда на замер"


def test_the_answer_to_a_completion_shows_tasks_as_the_task_list_does(api):
    """The completion's answer is read as plain rows (`task_rows`), the lists through the ORM (`task_json`): the
    same task looks the same in both — its order, process, assignee (named by the process or not), deadline."""
    number = api.create_order()
    api.walk(number, ["new_order"])
    task = api.open_task(number)
    worker = task["lane"]  # the demo's person of the role
    assert api.post(f"/tasks/{task['id']}/claim", as_=worker).status_code == 200  # an assignee for the answer
    with api.app.app_context():
        data = STAGE_INPUT["plan_measurement"](api.rng, {})
    body = api.complete(api.open_task(number), data, as_=worker)
    assert body.status_code == 200, body.get_json()
    answer = body.get_json()
    listed = {t["id"]: t for t in api.get("/tasks?scope=all&state=any").get_json()["items"]}
    assert answer["task"] == listed[task["id"]] and answer["task"]["assignee"] == worker
    assert answer["tasks"] and all(shown == listed[shown["id"]] for shown in answer["tasks"])
    assert answer["order"] == {k: api.order(number)[k] for k in ("number", "stage", "status")}
    assert answer["instance"]["status"] == "running"


def test_two_crews_taking_the_same_task_at_once_one_gets_it_the_other_is_told(make_app):
    """A crew's claim holds the task until its unit of work ends; the other crew's claim meanwhile waits, then finds
    it taken and is refused. On PostgreSQL both read it free and both answered 200, the later write silently taking
    it from the first."""
    app = make_app()
    api = Api(app, app.test_client())
    task = api.open_task(queued_order(api))
    api.token("installer2")
    answers: list = []
    other = threading.Thread(target=lambda: answers.append(api.post(f"/tasks/{task['id']}/claim", as_="installer2")))
    installer = select(User).where(User.login == "installer")
    with held_open(app, lambda: claim_task(task["id"], db.session.execute(installer).scalar_one())):
        other.start()
        other.join(1)  # it waits for the first claim (SQLite: for the one writer; PostgreSQL: for the task's row)
    other.join(30)
    assert answers[0].status_code in (403, 409), answers[0].get_json()
    assert api.open_task(task["order_number"])["assignee"] == "installer"
