"""The analytics' daily rows (`task_days`): what completing tasks counts into them equals a count of the task rows
themselves and what the backfill rebuilds; past EXACT_TASKS the page reads its percentiles from their histogram."""
from __future__ import annotations

import threading
from collections import defaultdict
from contextlib import suppress
from datetime import date
from itertools import groupby

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import aliased

from app.extensions import db
from app.models import HumanTask, Order, User, task_days
from app.models.analytics import (
    COUNT_COLUMNS,
    FLOW_COUNT_COLUMNS,
    FLOW_KEY_COLUMNS,
    HOUR_BUCKETS,
    KEY_COLUMNS,
    flow_days,
    flow_months,
    rating_days,
    task_months,
)
from app.services import analytics, daily_stats
from app.services.calendar import business_calendar, company_tz
from app.usecases.tasks import complete_task
from app.usecases.uow import savepoint, unit_of_work
from tests.support.api import Api
from tests.support.boards import at
from tests.support.held import held_open
from tests.support.sql import statements
from tests.test_analytics import DECEMBER, NEW_ORDER, history


@pytest.fixture
def ui(make_app):
    app = make_app(WTF_CSRF_ENABLED=False)
    return app, Api(app, app.test_client())


def _stored() -> dict[tuple, dict[str, int]]:
    return {tuple(row[name] for name in KEY_COLUMNS): {name: row[name] for name in COUNT_COLUMNS}
            for row in db.session.execute(select(task_days)).mappings()}


def _counted_from_tasks() -> dict[tuple, dict[str, int]]:
    """The same rows counted straight from the task rows, with the calendar's own working-hours arithmetic."""
    tz, calendar = company_tz(), business_calendar()
    rows: dict[tuple, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNT_COLUMNS, 0))
    first, first_late = set(), set()
    for task, order in db.session.execute(
            select(HumanTask, Order).join(Order, HumanTask.order_id == Order.id)
            .where(HumanTask.state == "completed").order_by(HumanTask.completed_at, HumanTask.id)):
        row = rows[(order.created_at.astimezone(tz).date(), order.kind, task.stage, task.bpmn_id, task.lane,
                    task.completed_at.astimezone(tz).date().replace(day=1))]
        hours = calendar.working_hours_between(task.created_at, task.completed_at)
        row["tasks"] += 1
        row[f"h{sum(hours >= edge for edge in HOUR_BUCKETS):02d}"] += 1
        row["orders"] += (task.order_id, task.stage) not in first
        first.add((task.order_id, task.stage))
        if task.due_at is not None:
            late = task.completed_at > task.due_at
            row["with_due"] += 1
            row["on_time"] += not late
            row["late_orders"] += late and (task.order_id, task.stage) not in first_late
            if late:
                first_late.add((task.order_id, task.stage))
    return dict(rows)


def test_completed_tasks_are_counted_per_day_as_the_task_rows_say_and_the_backfill_agrees(ui, clock):
    app, api = ui
    orders = history(app, api, clock)
    at(clock, 2026, 12, 31, 23)  # f comes in on New Year's Eve; its first task is done at midnight, in January
    orders["f"] = api.create_order("kitchen")
    at(clock, 2027, 1, 1, 0)
    api.step(orders["f"], "new_order")
    with app.app_context():
        stored = _stored()
        assert stored == _counted_from_tasks()
        december, january = date(2026, 12, 1), date(2027, 1, 1)
        contract = stored[(date(2026, 12, 7), "wardrobe", "Подготовка договора", "prepare_contract", "sales",
                           december)]
        assert (contract["tasks"], contract["orders"]) == (2, 1)  # d came back to the contract: one order, twice
        late = stored[(date(2026, 12, 3), "kitchen", NEW_ORDER, "new_order", "sales", december)]
        assert (late["with_due"], late["on_time"], late["late_orders"]) == (1, 0, 1)  # b: 9 working hours
        wardrobes = stored[(date(2026, 12, 3), "wardrobe", NEW_ORDER, "new_order", "sales", december)]
        assert wardrobes["tasks"] == 2  # a in 1 h, c (cancelled later) in 3 h, give or take the clock's tick
        for hours in (1, 3):
            assert wardrobes[daily_stats.bucket(hours - 0.01)] + wardrobes[daily_stats.bucket(hours + 0.01)] == 1
        assert stored[(date(2026, 12, 31), "kitchen", NEW_ORDER, "new_order", "sales", january)]["tasks"] == 1
        with unit_of_work():
            db.session.execute(task_days.delete())
        with unit_of_work():
            daily_stats.backfill(db.session.connection())
        assert _stored() == stored


def test_a_large_cohort_reads_its_percentiles_from_the_histogram_and_counts_the_same(make_app, clock):
    app = make_app(WTF_CSRF_ENABLED=False, ANALYTICS_EXACT_TASKS=0)
    api = Api(app, app.test_client())
    history(app, api, clock)
    with app.app_context():
        filters = analytics.parse_filters(DECEMBER)
        timing = {(row.kind, row.stage): row for row in analytics.time_in_stage(filters)}
        wardrobe = timing[("wardrobe", NEW_ORDER)]  # 1, 1.5 and 3 working hours: exactly 1.5 and 2.7
        assert (wardrobe.count, wardrobe.orders) == (3, 3)
        assert wardrobe.median_hours == pytest.approx(1.5, abs=0.5)  # within a bucket: 1.5–2 h, 3–4 h
        assert wardrobe.p90_hours == pytest.approx(2.7, abs=1)
        assert timing[("kitchen", NEW_ORDER)].median_hours == pytest.approx(9, abs=4)  # the 8–12 h bucket
        heat = analytics.median_by_task(filters)
        assert heat["new_order"][0] == 4 and heat["new_order"][1] == pytest.approx(2.25, abs=1)
        new_order = {row.stage: row for row in analytics.on_time(filters)}[NEW_ORDER]
        assert (new_order.on_time, new_order.total, new_order.late_orders) == (3, 4, 1)
        assert [(month, row.on_time, row.total) for month, row in analytics.on_time_by_month(filters)] == [
            (date(2026, 12, 1), sum(row.on_time for row in analytics.on_time(filters)),
             sum(row.total for row in analytics.on_time(filters)))]


def test_a_cohort_narrowed_by_partner_is_counted_from_its_tasks_as_before(ui, clock):
    app, api = ui
    history(app, api, clock)
    with app.app_context():
        with unit_of_work():
            db.session.execute(task_days.delete())  # the partner's figures do not come from the daily rows
            db.session.execute(task_months.delete())
        mega = analytics.parse_filters({**DECEMBER, "partner": "mega"})
        assert [(row.stage, row.on_time, row.total, row.late_orders) for row in analytics.on_time(mega)] == [
            (NEW_ORDER, 0, 1, 1)]
        assert [(row.kind, row.count) for row in analytics.time_in_stage(mega)] == [("kitchen", 1)]
        assert analytics.on_time(analytics.parse_filters(DECEMBER)) == []  # the whole cohort does


def _stored_flow() -> dict[tuple, dict]:
    return {tuple(row[name] for name in FLOW_KEY_COLUMNS): {name: row[name] for name in (*FLOW_COUNT_COLUMNS, "name")}
            for row in db.session.execute(select(flow_days)).mappings()}


def _flow_counted_from_tasks() -> dict[tuple, dict]:
    """The flow rows counted straight from each order's task rows in the order they opened."""
    tz = company_tz()
    rows: dict[tuple, dict] = defaultdict(lambda: dict.fromkeys(FLOW_COUNT_COLUMNS, 0))
    tasks = db.session.execute(select(HumanTask, Order).join(Order, HumanTask.order_id == Order.id)
                               .order_by(HumanTask.order_id, HumanTask.created_at, HumanTask.id)).all()
    for _order_id, group in groupby(tasks, key=lambda pair: pair[0].order_id):
        before: list[str] = []  # the order's tasks opened so far
        for task, order in group:
            prev = before[-1] if before else ""
            row = rows[(order.created_at.astimezone(tz).date(), order.kind, prev, task.bpmn_id, task.lane)]
            row["tasks"] += 1
            row["pair_orders"] += bool(prev) and (prev, task.bpmn_id) not in set(zip(before, before[1:], strict=False))
            row["loops"] += task.bpmn_id in before
            row["loop_orders"] += before.count(task.bpmn_id) == 1  # its first return there
            row["name"] = task.name
            before.append(task.bpmn_id)
    return dict(rows)


def test_opened_tasks_are_counted_into_the_flow_rows_as_the_task_rows_say_and_the_backfill_agrees(ui, clock):
    app, api = ui
    history(app, api, clock)
    with app.app_context():
        stored = _stored_flow()
        assert stored == _flow_counted_from_tasks()
        assert sum(row["loops"] for row in stored.values()) == 1  # d came back to the contract once
        firsts = sum(row["tasks"] for key, row in stored.items() if key[2] == "")  # each order's first task
        assert firsts == len(set(db.session.execute(select(HumanTask.order_id)).scalars())) > 1
        with unit_of_work():
            db.session.execute(flow_days.delete())
            db.session.execute(flow_months.delete())
        assert analytics.flow(analytics.parse_filters(DECEMBER)).transitions == {}  # the page reads the rows
        with unit_of_work():
            daily_stats.backfill_flow(db.session.connection())
            daily_stats.months_from_days(db.session.connection())
        assert _stored_flow() == stored
        flow = analytics.flow(analytics.parse_filters(DECEMBER))
        assert flow.loops == {"prepare_contract": 1} and flow.loop_orders == {"prepare_contract": 1}
        assert flow.transitions[("new_order", "plan_measurement")] == 4


@pytest.mark.parametrize("exact", [0, 5_000])  # percentiles from the histogram / from the tasks
def test_the_page_reads_its_task_figures_in_one_pass_over_the_daily_rows_and_they_equal_each_figure_s_own(
        make_app, clock, exact):
    app = make_app(WTF_CSRF_ENABLED=False, ANALYTICS_EXACT_TASKS=exact)
    api = Api(app, app.test_client())
    history(app, api, clock)
    with app.app_context():
        for args, lanes in ((DECEMBER, None), ({**DECEMBER, "kind": "wardrobe"}, None), (DECEMBER, {"sales"}),
                            (DECEMBER, set())):
            filters = analytics.parse_filters(args)
            with statements(app) as seen:
                together = analytics.task_figures(filters, lanes)
            assert sum(1 for s in seen if "FROM task_days" in s) == 1  # was three
            assert together == (analytics.on_time(filters, lanes), analytics.on_time_by_month(filters, lanes),
                                analytics.time_in_stage(filters, lanes))
            if args is DECEMBER and lanes is None:
                assert all(together) and any(row.late_orders for row in together[0])  # b was late


CONFIRM = {"decision": "confirm"}  # the new-order step's input: it reads nothing


def _new_orders(app, api, count: int) -> tuple[list[dict], int]:
    """`count` orders of one day, kind and stage (so their completions count into the same daily rows): their open
    tasks, and the id of the person who does them."""
    tasks = [api.open_task(api.create_order()) for _ in range(count)]
    with app.app_context():
        doer = db.session.execute(select(User.id).where(User.login == api.doer(tasks[0]))).scalar_one()
        db.session.remove()
    return tasks, doer


def test_completions_of_one_stage_at_once_do_not_wait_for_each_other_s_daily_rows(make_app):
    """Every completion of a stage adds to the same daily rows. On PostgreSQL a second completion goes through while
    the first one's unit of work is still open (the rows are added as the last thing before the commit, not
    mid-step, where they held the row's lock for the rest of the step); on SQLite the second takes its turn."""
    app = make_app()
    api = Api(app, app.test_client())
    (first, second), doer = _new_orders(app, api, 2)
    answers: list[int] = []
    other = threading.Thread(target=lambda: answers.append(api.complete(second, CONFIRM).status_code))
    with held_open(app, lambda: complete_task(first["id"], CONFIRM, db.session.get(User, doer))):
        other.start()
        other.join(5)
        through_meanwhile = not other.is_alive()
    other.join(30)
    assert answers == [200]
    postgres = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).get_backend_name() == "postgresql"
    assert through_meanwhile is postgres  # SQLite: one writer at a time, by design
    with app.app_context():
        assert _stored() == _counted_from_tasks()
        assert _stored_flow() == _flow_counted_from_tasks()
        assert sum(row["tasks"] for key, row in _stored().items() if key[3] == "new_order") == 2


class Refused(Exception):
    pass


def test_what_a_failed_unit_of_work_or_savepoint_counted_is_not_added_to_the_daily_rows(make_app):
    app = make_app()
    api = Api(app, app.test_client())
    tasks, doer = _new_orders(app, api, 3)
    with app.app_context():
        with pytest.raises(Refused), unit_of_work():
            complete_task(tasks[0]["id"], CONFIRM, db.session.get(User, doer))
            raise Refused  # e.g. a later part of the same request refused: the whole unit rolls back
        with unit_of_work():
            with suppress(Refused), savepoint():
                complete_task(tasks[1]["id"], CONFIRM, db.session.get(User, doer))
                raise Refused  # only the savepoint's part rolls back
            complete_task(tasks[2]["id"], CONFIRM, db.session.get(User, doer))
        assert _stored() == _counted_from_tasks()
        assert _stored_flow() == _flow_counted_from_tasks()
        assert sum(row["tasks"] for key, row in _stored().items() if key[3] == "new_order") == 1


def test_each_order_keeps_the_stage_of_its_newest_task_where_the_cancelled_ones_stopped(ui, clock):
    app, api = ui
    orders = history(app, api, clock)  # c was cancelled at the measurement's planning
    with app.app_context():
        newest = aliased(HumanTask)
        last = select(HumanTask.stage).where(HumanTask.id == select(func.max(newest.id)).where(
            newest.order_id == Order.id).correlate(Order).scalar_subquery()).correlate(Order).scalar_subquery()
        kept = {number: (stage, from_tasks) for number, stage, from_tasks in db.session.execute(
            select(Order.number, Order.last_task_stage, last))}
        assert all(stage == from_tasks for stage, from_tasks in kept.values()), kept
        assert kept[orders["c"]][0] == "Планирование выезда на замер"
        with unit_of_work():  # the migration's rebuild agrees
            db.session.execute(update(Order).values(last_task_stage=None))
            daily_stats.last_task_stages(db.session.connection(), [order.id for order in db.session.execute(
                select(Order)).scalars()])
        assert dict(db.session.execute(select(Order.number, Order.last_task_stage)).all()) == {
            number: stage for number, (stage, _) in kept.items()}


def _rows_of(table, keys, counts) -> dict[tuple, dict]:
    return {tuple(row[name] for name in keys): {name: row[name] for name in counts}
            for row in db.session.execute(select(table)).mappings()}


PERIODS = [DECEMBER, {"from": "2026-12-04", "to": "2026-12-31"}, {"from": "2026-11-30", "to": "2026-12-31"},
           {"from": "2026-11-01", "to": "2026-12-06"}, {"from": "2026-12-01", "to": ""}, {"from": "", "to": ""},
           {"from": "", "to": "2026-12-31"}, {"from": "2026-11-15", "to": "2027-01-10"},
           {"from": "2026-12-03", "to": "2026-12-07"}]


def _figures(filters) -> tuple:
    return analytics.task_figures(filters), analytics.flow(filters), analytics.median_by_task(filters)


@pytest.mark.parametrize("exact", [0, 5_000])  # percentiles from the histogram / from the tasks
def test_the_month_rows_are_the_day_rows_summed_and_a_period_reads_the_same_figures_either_way(
        make_app, clock, monkeypatch, exact):
    app = make_app(WTF_CSRF_ENABLED=False, ANALYTICS_EXACT_TASKS=exact)
    api = Api(app, app.test_client())
    orders = history(app, api, clock)  # e came in November, the others in December
    at(clock, 2027, 1, 2, 10)  # and one in January, with its first task done
    orders["f"] = api.create_order("kitchen")
    api.step(orders["f"], "new_order")
    tables = ((task_days, task_months, KEY_COLUMNS, COUNT_COLUMNS),
              (flow_days, flow_months, FLOW_KEY_COLUMNS, FLOW_COUNT_COLUMNS))
    with app.app_context():
        for days, months, keys, counts in tables:
            assert _rows_of(months, keys, counts) == daily_stats.by_month(_rows_of(days, keys, counts))
            assert {key[0] for key in _rows_of(months, keys, counts)} >= {date(2026, 12, 1), date(2027, 1, 1)}
        stored = [_rows_of(months, keys, counts) for _days, months, keys, counts in tables]
        with unit_of_work():  # the migration's rebuild, and the backfills', agree
            daily_stats.months_from_days(db.session.connection())
        assert [_rows_of(months, keys, counts) for _days, months, keys, counts in tables] == stored
        with unit_of_work():
            daily_stats.backfill(db.session.connection())
            daily_stats.backfill_flow(db.session.connection())
            daily_stats.months_from_days(db.session.connection())
        assert [_rows_of(months, keys, counts) for _days, months, keys, counts in tables] == stored
        with app.test_request_context():
            with statements(app) as seen:
                from_months = {str(args): _figures(analytics.parse_filters(args)) for args in PERIODS}
            assert any("FROM task_months" in s for s in seen) and any("FROM flow_months" in s for s in seen)
            monkeypatch.setattr(analytics, "_whole_months", lambda filters: None)  # every period from its days
            with statements(app) as seen:
                from_days = {str(args): _figures(analytics.parse_filters(args)) for args in PERIODS}
            assert not any("_months" in s for s in seen)
        assert from_months == from_days
        assert from_months[str(DECEMBER)][1].transitions  # the figures are there to compare


def test_a_task_row_the_commit_itself_first_writes_is_counted_into_the_flow_and_rating_rows(ui, clock):
    """Rows flushed by the commit (nothing staged before it) are counted too: the counts staged by that last flush
    are not left behind, for the flow rows nor the rating's."""
    app, api = ui
    number = api.create_order("wardrobe")
    with app.app_context():
        order = db.session.execute(select(Order).where(Order.number == number)).scalar_one()
        first = db.session.execute(select(HumanTask).where(HumanTask.order_id == order.id)).scalar_one()
        doer = db.session.execute(select(User.id).where(User.login == "sales")).scalar_one()
        flow_before = sum(row["tasks"] for row in _stored_flow().values())
        rating_before = db.session.execute(select(func.coalesce(func.sum(rating_days.c.tasks), 0))).scalar_one()
        with unit_of_work():  # no flush until the commit's
            db.session.add(HumanTask(task_guid="by-hand-1", instance_id=first.instance_id, order_id=order.id,
                                     bpmn_id="by_hand", name="Вручную", stage=first.stage, lane="sales",
                                     state="completed", completed_by_id=doer, completed_at=clock.now()))
        assert sum(row["tasks"] for row in _stored_flow().values()) == flow_before + 1
        assert db.session.execute(select(func.sum(rating_days.c.tasks))).scalar_one() == rating_before + 1
        assert _stored_flow() == _flow_counted_from_tasks()
