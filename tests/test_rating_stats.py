"""The rating's daily rows: kept by the flushes that complete and open tasks, equal to a recount from the task rows
(and to the rebuild), and the rating summed from them equal to the figures counted straight from the tasks."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import case, func, select
from sqlalchemy.orm import aliased

from app.extensions import db
from app.models import HumanTask
from app.models.analytics import RATING_COUNT_COLUMNS, RATING_KEY_COLUMNS, rating_days
from app.policy import CUSTOMERS
from app.services import rating_stats, ratings
from app.services.periods import within
from app.usecases.uow import unit_of_work
from tests.support.api import Api
from tests.support.boards import at
from tests.test_analytics import history


@pytest.fixture
def ui(make_app):
    app = make_app(WTF_CSRF_ENABLED=False)
    return app, Api(app, app.test_client())


def _stored() -> dict[tuple, dict[str, int]]:
    return {tuple(row[name] for name in RATING_KEY_COLUMNS): {name: row[name] for name in RATING_COUNT_COLUMNS}
            for row in db.session.execute(select(rating_days)).mappings()}


def _from_tasks(first: date | None, last: date | None) -> dict[tuple[int, str], tuple[int, ...]]:
    """(person, lane) → tasks, with a deadline, on time, reworked, orders: counted from the period's task rows."""
    done = [HumanTask.state == "completed", HumanTask.completed_by_id.is_not(None),
            HumanTask.lane.not_in(["", *CUSTOMERS]), *within(HumanTask.completed_at, first, last)]
    key = (HumanTask.completed_by_id, HumanTask.lane)
    later = aliased(HumanTask)
    again = select(later.id).where(later.order_id == HumanTask.order_id, later.bpmn_id == HumanTask.bpmn_id,
                                   later.id != HumanTask.id, later.created_at >= HumanTask.completed_at).exists()
    reworked = dict(((user, lane), count) for user, lane, count in db.session.execute(
        select(*key, func.count()).where(*done, HumanTask.order_id.is_not(None), again).group_by(*key)))
    return {(user, lane): (tasks, due, int(on_time or 0), reworked.get((user, lane), 0), orders)
            for user, lane, tasks, due, on_time, orders in db.session.execute(
                select(*key, func.count(), func.count(HumanTask.due_at),
                       func.sum(case((HumanTask.completed_at <= HumanTask.due_at, 1), else_=0)),
                       func.count(HumanTask.order_id.distinct())).where(*done).group_by(*key))}


def _summed(first: date | None, last: date | None) -> dict[tuple[int, str], tuple[int, ...]]:
    return {key: (row.tasks, row.with_due, row.on_time, row.reworked, row.orders)
            for key, row in ratings._rows(first, last).items()}


PERIODS = [(date(2026, 12, 1), date(2026, 12, 31)), (None, None), (date(2026, 12, 8), None),
           (date(2026, 12, 9), date(2026, 12, 9)), (date(2026, 12, 10), date(2026, 12, 14)), (None, date(2026, 12, 8)),
           (date(2026, 12, 4), date(2026, 12, 8))]


def test_the_rating_s_rows_follow_every_completion_and_return_and_equal_the_task_rows_counts(ui, clock):
    app, api = ui
    history(app, api, clock)  # d came back to the contract; c was cancelled
    # g: the same people work it on several days, and it comes back to the contract on another day than the first
    at(clock, 2026, 12, 8, 10)
    g = api.create_order("wardrobe")
    api.walk(g, ["new_order", "plan_measurement"])
    at(clock, 2026, 12, 9, 12)
    api.walk(g, ["measurement"])
    api.step(g, "prepare_contract", {"contract_outcome": "to_design"})
    at(clock, 2026, 12, 10, 12)
    api.walk(g, ["design"])
    at(clock, 2026, 12, 11, 12)
    api.step(g, "prepare_contract", {"contract_outcome": "to_design"})
    at(clock, 2026, 12, 14, 12)
    api.walk(g, ["design", "prepare_contract"])
    with app.app_context():
        stored = _stored()
        assert any(key[3] != date(1, 1, 1) for key in stored)  # a person came back to an order on a later day
        assert sum(row["reworked"] for row in stored.values()) >= 3  # d's contract, g's contract twice, g's design
        for first, last in PERIODS:
            assert _summed(first, last) == _from_tasks(first, last), (first, last)
        december = _summed(date(2026, 12, 11), date(2026, 12, 14))
        assert {row[4] for row in december.values()} == {1}  # g, once for each person who worked it then
        with unit_of_work():
            db.session.execute(rating_days.delete())
        assert ratings._rows(None, None) == {}  # the page reads the rows
        with unit_of_work():
            rating_stats.backfill(db.session.connection())
        assert _stored() == stored

