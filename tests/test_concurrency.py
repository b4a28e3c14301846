"""Writers at the same moment on one database file: each waits its turn, none is turned away.

SQLite has one write lock, and its own wait for it polls, sleeping up to 100 ms between tries; a writer
that lets the lock go and takes it again at once (the scheduler waking timer after timer) used to win
every try, and an order placed meanwhile failed with «database is locked» after the 15-second wait.
"""
from __future__ import annotations

import threading
import time

from sqlalchemy import update

from app.extensions import db
from app.models import User
from app.usecases.uow import unit_of_work

STEP_SECONDS = 0.03  # what one wake-up holds the write lock for: an engine step and its rows


def test_orders_placed_while_another_process_writes_back_to_back_all_go_through(api, app):
    token = api.token("sales")  # issued before the race: only the orders themselves compete
    stop = threading.Event()
    steps = []

    def back_to_back_writer() -> None:
        with app.app_context():
            while not stop.is_set():
                with unit_of_work():  # one unit of work after another, like the scheduler's wake-ups
                    db.session.execute(update(User).where(User.login == "director").values(name=User.name))
                    time.sleep(STEP_SECONDS)
                steps.append(1)
            db.session.remove()

    answers: list[tuple[int, dict]] = []

    def place_order() -> None:
        response = app.test_client().post("/api/v1/orders", headers={"Authorization": f"Bearer {token}"}, json={
            "kind": "wardrobe", "channel": "phone", "address": "г. Москва, ул. Профсоюзная, д. 56, кв. 12",
            "customer": {"name": "Иванова Мария Петровна", "phone": "+7 916 123-45-67"},
            "description": "Шкаф-купе в нишу"})
        answers.append((response.status_code, response.get_json()))

    writer = threading.Thread(target=back_to_back_writer)
    writer.start()
    try:
        while not steps:  # the writer holds the lock and keeps taking it back
            time.sleep(0.01)
        people = [threading.Thread(target=place_order) for _ in range(3)]
        for person in people:
            person.start()
        for person in people:
            person.join(60)
    finally:
        stop.set()
        writer.join(60)

    assert [status for status, _ in answers] == [201, 201, 201], answers
    numbers = {body["number"] for _, body in answers}
    assert len(numbers) == 3
    for number in numbers:
        assert api.order(number)["number"] == number
