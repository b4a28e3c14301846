"""Crews take delivery jobs from the queue themselves: the free jobs, taking one, two crews at once, the card."""
from __future__ import annotations

import threading

from sqlalchemy import func, select

from app.demo import _working_slot
from app.errors import Conflict
from app.extensions import db
from app.models import AuditEvent, HumanTask, Order, User, Visit
from app.usecases import crews
from tests.support.api import HAPPY_CASH
from tests.support.web import csrf_of, signed_in

TO_PLAN_DELIVERY = HAPPY_CASH[:HAPPY_CASH.index("plan_delivery")]


def queued_order(api, *, at: str | None = None, comment: str = "Позвонить за час, домофон не работает") -> str:
    """An order whose delivery the dispatcher put «В общую очередь монтажников»."""
    number = api.create_order(address="г. Москва, ул. Тверская, д. 8, кв. 45")
    api.walk(number, TO_PLAN_DELIVERY)
    task = api.open_task(number)
    response = api.complete(task, {"delivery_mode": "queue", "delivery_at": at or _slot(api),
                                   "delivery_duration_hours": 4, "delivery_comment": comment})
    assert response.status_code == 200, response.get_json()
    return number


def assigned_order(api, crew: str, at: str) -> str:
    number = api.create_order()
    api.walk(number, TO_PLAN_DELIVERY)
    api.step(number, "plan_delivery", {"crew": crew}, delivery_at=at, delivery_duration_hours=4)
    return number


def _slot(api) -> str:
    with api.app.app_context():
        return _working_slot(3, 1, 4)


def visit_of(api, number: str) -> int:
    with api.app.app_context():
        return db.session.execute(select(Visit.id).join(Order).where(Order.number == number,
                                                                    Visit.kind == "delivery")).scalar_one()


def state_of(api, number: str) -> dict:
    """What a dispatcher would see of the job: the visit's crew, the order's crew, the installation's assignee,
    the history's entries."""
    with api.app.app_context():
        order = db.session.execute(select(Order).where(Order.number == number)).scalar_one()
        visit = db.session.execute(select(Visit).where(Visit.order_id == order.id, Visit.kind == "delivery")
                                   ).scalar_one()
        task = db.session.execute(select(HumanTask).where(HumanTask.order_id == order.id,
                                                          HumanTask.bpmn_id == "installation")).scalar_one()
        return {"visit": visit.user.login if visit.user else None, "taken": visit.taken_at is not None,
                "crew": order.crew.login if order.crew else None,
                "assignee": task.assignee.login if task.assignee else None,
                "events": db.session.execute(select(func.count(AuditEvent.id))
                                             .where(AuditEvent.order_id == order.id)).scalar()}


def test_a_crew_sees_the_free_job_and_takes_it(api):
    number = queued_order(api)
    assert state_of(api, number) | {"events": 0} == {"visit": None, "taken": False, "crew": None, "assignee": None,
                                                      "events": 0}
    listed = api.get("/jobs", as_="installer")
    assert listed.status_code == 200
    job = next(item for item in listed.get_json()["items"] if item["order_number"] == number)
    assert job["address"] == "г. Москва, ул. Тверская, д. 8, кв. 45"
    assert job["comment"] == "Позвонить за час, домофон не работает"
    assert job["customer"]["name"] == "Иванова Мария Петровна" and job["crew"] is None and job["hours"] == 4
    assert {c["status"] for c in job["components"]} == {"in_workshop"}

    page = signed_in(api.app, "installer").get("/jobs").get_data(as_text=True)
    assert number in page and "Позвонить за час" in page and "tel:" in page and "Взять" in page

    taken = api.post(f"/jobs/{job['id']}/take", as_="installer")
    assert taken.status_code == 200, taken.get_json()
    assert taken.get_json()["crew"] == "installer" and taken.get_json()["taken_at"]
    after = state_of(api, number)
    assert after | {"events": 0} == {"visit": "installer", "taken": True, "crew": "installer",
                                     "assignee": "installer", "events": 0}
    assert all(item["order_number"] != number for item in api.get("/jobs", as_="installer2").get_json()["items"])
    # The installer's inbox has the installation now; the order's card shows who took it, and so does its history.
    assert any(t["order_number"] == number for t in api.get("/tasks", as_="installer").get_json()["items"])
    dispatcher = signed_in(api.app, "delivery_dispatch")
    card = dispatcher.get(f"/orders/{number}").get_data(as_text=True)
    assert "Бригада №1 (Виктор Монтажов)" in card and "бригада взяла сама" in card
    history = dispatcher.get(f"/orders/{number}?tab=history").get_data(as_text=True)
    assert "Выезд" in history and "взята из очереди" in history
    mine = signed_in(api.app, "installer").get("/jobs").get_data(as_text=True)
    assert 'id="my-jobs"' in mine and number in mine.split('id="my-jobs"')[1]


def test_a_second_crew_is_told_who_took_it_and_changes_nothing(api):
    number = queued_order(api)
    visit_id = visit_of(api, number)
    browser = signed_in(api.app, "installer2")
    loaded_before = browser.get("/jobs").data  # installer2's page still offers the job
    assert api.post(f"/jobs/{visit_id}/take", as_="installer").status_code == 200
    before = state_of(api, number)
    late = api.post(f"/jobs/{visit_id}/take", as_="installer2")
    assert late.status_code == 409
    assert late.get_json()["taken_by"] == "installer" and "уже взяла" in late.get_json()["message"]
    assert state_of(api, number) == before

    page = browser.post(f"/jobs/{visit_id}/take", data={"csrf_token": csrf_of(loaded_before)},
                        follow_redirects=True, headers={"Referer": "/jobs"})
    assert "Эту работу уже взяла Бригада №1 (Виктор Монтажов)" in page.get_data(as_text=True)
    assert state_of(api, number) == before


def test_two_crews_at_the_same_moment_one_wins(api):
    number = queued_order(api)
    visit_id = visit_of(api, number)
    start = threading.Barrier(2)
    outcome: dict[str, str] = {}

    def press_take(login: str) -> None:
        with api.app.app_context():
            crew = db.session.execute(select(User).where(User.login == login)).scalar_one()
            db.session.rollback()  # a fresh transaction for the take itself, as a request has
            start.wait()
            try:
                crews.take(visit_id, crew)
                outcome[login] = "took"
            except Conflict as exc:
                outcome[login] = exc.message
            finally:
                db.session.remove()

    threads = [threading.Thread(target=press_take, args=(login,)) for login in ("installer", "installer2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcome.values(), key=len)[0] == "took" and list(outcome.values()).count("took") == 1, outcome
    winner = next(login for login, result in outcome.items() if result == "took")
    loser = next(result for result in outcome.values() if result != "took")
    assert "уже взяла" in loser
    after = state_of(api, number)
    assert (after["visit"], after["crew"], after["assignee"]) == (winner, winner, winner)
    with api.app.app_context():
        takes = db.session.execute(select(func.count(AuditEvent.id)).where(
            AuditEvent.kind == "visit", AuditEvent.new_value.like("%взята из очереди%"))).scalar()
    assert takes == 1


def test_a_job_clashing_with_the_crews_own_work_is_refused(api):
    at = _slot(api)
    assigned_order(api, "installer", at)
    number = queued_order(api, at=at)
    visit_id = visit_of(api, number)
    before = state_of(api, number)
    busy = api.post(f"/jobs/{visit_id}/take", as_="installer")
    assert busy.status_code == 409 and "У вас в это время уже есть работа" in busy.get_json()["message"]
    assert state_of(api, number) == before
    assert api.post(f"/jobs/{visit_id}/take", as_="installer2").status_code == 200
    assert state_of(api, number)["visit"] == "installer2"


def test_only_crews_take_jobs_and_bad_ids_are_not_found(api):
    number = queued_order(api)
    visit_id = visit_of(api, number)
    assert api.get("/jobs", as_="measurer").status_code == 403
    assert api.post(f"/jobs/{visit_id}/take", as_="measurer").status_code == 403
    assert signed_in(api.app, "measurer").get("/jobs").status_code == 403
    for bad in ("abc", "0", "-1", "99999999999999999999", "1.5"):
        response = api.post(f"/jobs/{bad}/take", as_="installer")
        assert response.status_code in (404, 422), (bad, response.status_code)
    assert api.post(f"/jobs/{visit_id + 1000}/take", as_="installer").status_code == 404
    browser = signed_in(api.app, "installer")
    missing = browser.post(f"/jobs/{visit_id + 1000}/take", data={"csrf_token": csrf_of(browser.get("/jobs").data)},
                           follow_redirects=True)
    assert missing.status_code == 200 and "Работа не найдена" in missing.get_data(as_text=True)
    assert state_of(api, number)["visit"] is None


def test_a_measurement_or_an_installation_claimed_in_the_inbox_is_no_job(api):
    number = queued_order(api)
    visit_id = visit_of(api, number)
    with api.app.app_context():
        measurement = db.session.execute(select(Visit.id).join(Order).where(
            Order.number == number, Visit.kind == "measurement")).scalar_one()
    assert api.post(f"/jobs/{measurement}/take", as_="installer").status_code == 404
    # installer2 took the installation task in the inbox instead: the job is theirs, no longer free, and the
    # calendar and the order show them
    task = api.open_task(number)
    assert api.post(f"/tasks/{task['id']}/claim", as_="installer2").status_code == 200
    assert state_of(api, number) | {"events": 0} == {"visit": "installer2", "taken": True, "crew": "installer2",
                                                     "assignee": "installer2", "events": 0}
    assert all(item["order_number"] != number for item in api.get("/jobs", as_="installer").get_json()["items"])
    refused = api.post(f"/jobs/{visit_id}/take", as_="installer")
    assert refused.status_code == 409 and refused.get_json()["taken_by"] == "installer2"
    # … and once the installation is done, nobody can take the visit any more
    api.step(number, "installation")
    done = api.post(f"/jobs/{visit_id}/take", as_="installer")
    assert done.status_code == 409 and "уже не нужна" in done.get_json()["message"]
    assert state_of(api, number)["visit"] == "installer2"


def test_a_head_assigning_a_visit_task_moves_the_visit_unless_the_person_is_busy(api):
    at = _slot(api)
    assigned_order(api, "installer2", at)
    clashing = assigned_order(api, "installer", at)
    task = api.open_task(clashing)
    busy = api.post(f"/tasks/{task['id']}/assign", {"user": "installer2"}, as_="head_installer")
    assert busy.status_code == 409 and "уже есть выезд" in busy.get_json()["message"], busy.get_json()
    assert state_of(api, clashing)["visit"] == state_of(api, clashing)["assignee"] == "installer"
    with api.app.app_context():
        later = _working_slot(4, 5, 4)
    free = assigned_order(api, "installer", later)
    task = api.open_task(free)
    assert api.post(f"/tasks/{task['id']}/assign", {"user": "installer2"}, as_="head_installer").status_code == 200
    assert state_of(api, free) | {"events": 0} == {"visit": "installer2", "taken": False, "crew": "installer2",
                                                   "assignee": "installer2", "events": 0}
