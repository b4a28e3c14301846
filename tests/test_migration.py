"""Moving running orders to another version: the dry run per order, the background job with a real worker."""
from __future__ import annotations

import os
import time

from sqlalchemy import select

from app.extensions import db
from app.models import HumanTask, Order, OutboxJob, ProcessMigration
from app.usecases.deploy import deploy, read_directory
from app.usecases.uow import unit_of_work
from tests.support.api import HAPPY_CASH, Api
from tests.support.versions import ROOT, deploy_v2, version_of_order
from tests.support.workers import run_burst

PLANNING = "Планирование выезда на замер"


def _open_row(app, number: str) -> HumanTask:
    with app.app_context():
        row = db.session.execute(select(HumanTask).join(HumanTask.order).where(
            Order.number == number, HumanTask.state == "open")).scalar_one()
        db.session.expunge(row)
        return row


def _orders_at_planning_and_measurement(api: Api) -> tuple[list[str], str, str]:
    planning = [api.create_order(), api.create_order(kind="kitchen")]
    for number in planning:
        api.step(number, "new_order")
    measuring = api.create_order()
    api.walk(measuring, ["new_order", "plan_measurement"])
    fresh = api.create_order()
    return planning, measuring, fresh


def test_the_dry_run_says_per_order_which_can_move_and_why_not(api):
    planning, measuring, fresh = _orders_at_planning_and_measurement(api)
    deploy_v2(api.app)
    everyone = api.post("/processes/order_lifecycle/migrations", {"from_version": 1, "to_version": 2,
                                                                 "dry_run": True})
    assert everyone.status_code == 200, everyone.get_json()
    items = {i["order_number"]: i for i in everyone.get_json()["items"]}
    assert set(items) == {*planning, measuring, fresh}
    assert all(items[n]["ok"] and items[n]["reason"] is None for n in [*planning, fresh])
    assert items[measuring]["ok"] is False
    assert items[measuring]["reason"] == "задача «Замер» (measurement) отсутствует в v2"

    by_stage = api.post("/processes/order_lifecycle/migrations", {"from_version": 1, "to_version": 2,
                                                                 "stage": PLANNING})
    assert sorted(i["order_number"] for i in by_stage.get_json()["items"]) == sorted(planning)
    listed = api.post("/processes/order_lifecycle/migrations", {"from_version": 2, "to_version": 1,
                                                               "orders": [fresh, "2099-99999"]}).get_json()["items"]
    assert listed == [{"order_number": fresh, "ok": False, "reason": "заказ не на v2 (на v1)"},
                      {"order_number": "2099-99999", "ok": False, "reason": "заказ не найден"}]
    # A dry run changes nothing: every order still runs on v1.
    assert {version_of_order(api.app, n) for n in [*planning, measuring, fresh]} == {1}
    # A suspended order does not move at all: the dry run says so instead of promising a move that would fail.
    assert api.post(f"/orders/{fresh}/process/suspend", {"reason": "проверка"}).status_code == 200
    suspended = api.post("/processes/order_lifecycle/migrations", {"from_version": 1, "to_version": 2,
                                                                  "orders": [fresh]}).get_json()["items"]
    assert suspended == [{"order_number": fresh, "ok": False,
                          "reason": "процесс заказа приостановлен: возобновите его, чтобы перенести"}]


def test_migration_refusals_name_the_field(api):
    deploy_v2(api.app)
    path = "/processes/order_lifecycle/migrations"
    body = {"from_version": 1, "to_version": 2, "dry_run": True}
    for login in ("sales", "analyst", "director"):
        assert api.post(path, body, as_=login).status_code == 403
    assert api.post("/processes/order_lifecycle/activate", {"version": 1}, as_="analyst").status_code == 403
    same = api.post(path, {**body, "to_version": 1})
    assert same.status_code == 422 and "to_version" in same.get_json()["fields"]
    unknown = api.post(path, {**body, "to_version": 7})
    assert unknown.status_code == 404 and unknown.get_json()["fields"] == {"version": "unknown"}
    assert api.post("/processes/no_such_process/migrations", body).status_code == 404
    for bad, field in [({"to_version": "2"}, "to_version"), ({"from_version": None}, "from_version"),
                       ({"orders": "2026-00001"}, "orders"), ({"orders": []}, "orders"),
                       ({"orders": ["x"], "stage": PLANNING}, "stage"), ({"dry_run": "yes"}, "dry_run")]:
        response = api.post(path, {**body, **bad})
        assert response.status_code == 422 and field in response.get_json()["fields"], (bad, response.get_json())
    # Nothing to move is refused before any job is written.
    nothing = api.post(path, {**body, "dry_run": False})
    assert nothing.status_code == 422 and "orders" in nothing.get_json()["fields"]


def test_a_worker_moves_the_orders_that_can_move_and_lists_the_one_that_cannot(make_app, clock):
    app = make_app(JOBS_INLINE=False, RQ_QUEUE=f"bespoke-test-{os.getpid()}-{time.monotonic_ns()}",
                   SLA_CALENDAR="continuous", SLA_HOUR_SECONDS=3600.0)
    api = Api(app, app.test_client())
    clock.advance(days=-2)  # the orders were taken two days ago; the worker that moves them lives in real time
    planning, measuring, _fresh = _orders_at_planning_and_measurement(api)
    before = {n: _open_row(app, n) for n in planning}
    clock.reset()
    deploy_v2(app)
    started = api.post("/processes/order_lifecycle/migrations", {
        "from_version": 1, "to_version": 2, "orders": [*planning, measuring], "dry_run": False})
    assert started.status_code == 202, started.get_json()
    answer = started.get_json()
    assert [i["ok"] for i in answer["items"]] == [True, True, False]
    with app.app_context():
        job = db.session.get(OutboxJob, answer["job_id"])
        assert (job.operator, job.params, job.status) == ("process.migrate", {"migration_id": answer["migration_id"]},
                                                          "queued")
    progress = api.get(f"/processes/order_lifecycle/migrations/{answer['migration_id']}").get_json()
    assert (progress["status"], progress["pending"], progress["moved"]) == ("queued", 3, 0)

    worker = run_burst(app)
    assert worker.returncode == 0, worker.stderr[-2000:]
    progress = api.get(f"/processes/order_lifecycle/migrations/{answer['migration_id']}").get_json()
    assert (progress["status"], progress["total"], progress["moved"], progress["failed"], progress["pending"]) == \
        ("done", 3, 2, 1, 0)
    states = {i["order_number"]: (i["state"], i["reason"]) for i in progress["items"]}
    assert states[measuring] == ("failed", "задача «Замер» (measurement) отсутствует в v2")
    assert version_of_order(app, measuring) == 1  # it stays where it was, its task still open
    assert api.open_task(measuring)["bpmn_id"] == "measurement"

    for number in planning:
        assert version_of_order(app, number) == 2
        row = _open_row(app, number)
        # The same open task, its SLA deadline kept (the timers were not restarted by the move).
        assert (row.id, row.task_guid, row.bpmn_id) == (before[number].id, before[number].task_guid,
                                                         "plan_measurement")
        assert row.due_at == before[number].due_at
        history = api.get(f"/orders/{number}/history").get_json()["items"]
        moved = [e for e in history if e["kind"] == "migrate"]
        assert [(e["old"], e["new"], e["actor"]) for e in moved] == [("v1", "v2", "admin")]
        # The process goes on in v2: planning done, then «Замер» of the new version.
        api.step(number, "plan_measurement")
        assert api.open_task(number)["bpmn_id"] == "measurement_visit"
    with app.app_context():
        migration = db.session.get(ProcessMigration, answer["migration_id"])
        assert migration.finished_at is not None
    versions = {v["version"]: v for v in api.get("/processes/order_lifecycle/versions").get_json()["items"]}
    assert (versions[1]["running_instances"], versions[2]["running_instances"]) == (2, 2)


def test_an_order_inside_the_claim_sub_process_moves_and_goes_on(api):
    number = api.create_order()
    api.walk(number, HAPPY_CASH)
    api.step(number, "feedback", {"claim": True})
    assert api.open_task(number)["bpmn_id"] == "claim_review"  # a task of the expanded sub-process
    deploy_v2(api.app)
    # v2 no longer has the «Замер» this order went through: its history would not load there.
    refused = api.post("/processes/order_lifecycle/migrations", {"from_version": 1, "to_version": 2}).get_json()
    assert refused["items"] == [{"order_number": number, "ok": False, "reason": "пройденный шаг «Замер» "
                                 "(measurement) отсутствует в v2: историю заказа не загрузить в новой версии"}]
    assert deploy_v2(api.app, rename_measurement=False) == 3
    started = api.post("/processes/order_lifecycle/migrations", {
        "from_version": 1, "to_version": 3, "stage": "Рассмотрение претензии", "dry_run": False})
    assert started.status_code == 202 and started.get_json()["items"] == [
        {"order_number": number, "ok": True, "reason": None}]
    progress = api.get(f"/processes/order_lifecycle/migrations/{started.get_json()['migration_id']}").get_json()
    assert (progress["status"], progress["moved"]) == ("done", 1)  # JOBS_INLINE: the job ran after the commit
    assert version_of_order(api.app, number) == 3
    api.step(number, "claim_review", {"claim_resolution": "discount"})
    assert api.order(number)["status"] in ("active", "completed")


def test_an_order_waiting_for_a_job_moves_unless_the_jobs_task_changed(make_app):
    # No worker runs: the contract's PDFs are being rendered (the service task is STARTED, its job queued).
    app = make_app(JOBS_INLINE=False, RQ_QUEUE=f"bespoke-test-{os.getpid()}-{time.monotonic_ns()}")
    api = Api(app, app.test_client())
    number = api.create_order()
    api.walk(number, ["new_order", "plan_measurement", "measurement", "prepare_contract"])
    assert api.open_task(number) is None
    with app.app_context():
        assert db.session.execute(select(OutboxJob.status).where(OutboxJob.operator == "documents.render")
                                  ).scalar_one() == "queued"
    added_task_only = deploy_v2(app, rename_measurement=False)
    _name, bpmn, dmn, forms = read_directory(ROOT / "processes", ROOT / "forms")[0]
    with app.app_context():
        with unit_of_work():
            changed, _created = deploy(bpmn.replace(b"value=\"['contract', 'invoice']\"", b"value=\"['contract']\""),
                                       "order_lifecycle.bpmn", dmn, forms, None, replace=True)
            target = changed.version
    ask = {"from_version": 1, "orders": [number]}
    ok = api.post("/processes/order_lifecycle/migrations", {**ask, "to_version": added_task_only}).get_json()
    assert ok["items"] == [{"order_number": number, "ok": True, "reason": None}]
    refused = api.post("/processes/order_lifecycle/migrations", {**ask, "to_version": target}).get_json()
    assert refused["items"] == [{"order_number": number, "ok": False, "reason": "задача «Договор и счёт (PDF)» "
                                 f"(render_contract) выполняется фоновым заданием и изменена в v{target}"}]
