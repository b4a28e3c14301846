"""Predicted completion dates: the figures from a hand-made history, the date an active order gets from them
(working hours, over a weekend), the fallbacks, and the prediction following the order from stage to stage."""
from __future__ import annotations

from datetime import date, timedelta
from uuid import uuid4

import pytest
from sqlalchemy import event, insert, select, update

from app import clock
from app.engine import engine
from app.engine.paths import typical_path
from app.extensions import WRITE_OPTION, db
from app.models import ForecastStat, HumanTask, Order, ProcessDefinition, ProcessInstance
from app.services import prediction
from app.services.calendar import business_calendar
from app.usecases.uow import unit_of_work
from tests.support.api import Api
from tests.support.history import MSK, definition_id, make_order, msk
from workers.scheduler import Scheduler


@pytest.fixture
def app(make_app):
    return make_app(PREDICTION_MIN_SAMPLES=3)


@pytest.fixture
def api(app):
    return Api(app, app.test_client())


def history(kind: str = "wardrobe", stage: str = "production") -> None:
    """Three finished orders: from `stage` to the end 7 working hours (over a weekend), 18 and 36; from
    procurement before it 30, 27 and 45."""
    make_order(kind, [("procurement", msk(14, 9)), (stage, msk(16, 14))], msk(19, 12))  # Fri 14-18, Mon 9-12
    make_order(kind, [("procurement", msk(12, 9)), (stage, msk(13, 9))], msk(14, 18))  # Tue and Wed
    make_order(kind, [("procurement", msk(9, 9)), (stage, msk(12, 9))], msk(15, 18))  # Mon to Thu


def test_the_figures_and_the_date_come_from_the_finished_orders_in_working_hours(app):
    with app.app_context(), unit_of_work():
        history()
        assert prediction.refresh_stats() == 4  # production and procurement, for wardrobes and for every kind
        stat = db.session.get(ForecastStat, ("wardrobe", "production"))
        assert (stat.samples, stat.p50_hours, round(stat.p80_hours, 6), round(stat.mean_hours, 6)) == (
            3, 18.0, 28.8, round(61 / 3, 6))
        assert db.session.get(ForecastStat, ("wardrobe", "procurement")).p50_hours == 3 * 9 + 3  # Wed-Fri, Mon 9-12
        active = make_order("wardrobe", [("production", msk(23, 10))])
        found = prediction.refresh_order(active, msk(23, 16))  # Friday 16:00
        written = (active.predicted_on, active.predicted_p80_on, active.prediction_method)
    # p50 18 h: Friday 2 h, Monday 9 h, Tuesday 7 h; p80 28.8 h: Wednesday 17:48
    assert found == prediction.Prediction(date(2027, 4, 27), date(2027, 4, 28), "history", "production")
    assert written == (date(2027, 4, 27), date(2027, 4, 28), "history")


def test_an_order_at_two_tasks_at_once_is_as_late_as_the_slower(app):
    with app.app_context(), unit_of_work():
        history()
        prediction.refresh_stats()
        both = make_order("wardrobe", [("procurement", msk(23, 10))])
        db.session.add(HumanTask(task_guid=str(uuid4()), instance_id=both.instance.id, order_id=both.id,
                                 bpmn_id="production", name="production", stage="production", lane="production",
                                 created_at=msk(23, 10)))
        found = prediction.predict(both, msk(23, 16))
    assert found.stage == "procurement" and found.date == date(2027, 4, 29)  # 30 h: Fri 2, Mon-Wed 27, Thu 1


def test_a_kind_with_too_few_orders_borrows_every_kinds_figures(app):
    with app.app_context(), unit_of_work():
        history("wardrobe")
        make_order("kitchen", [("production", msk(12, 9))], msk(12, 18))  # one kitchen: 9 h
        prediction.refresh_stats()
        kitchen = make_order("kitchen", [("production", msk(23, 10))])
        found = prediction.predict(kitchen, msk(23, 16))
        every = db.session.get(ForecastStat, (prediction.ALL_KINDS, "production"))
        assert (every.samples, every.p50_hours) == (4, 13.5)  # 7, 9, 18, 36
    assert found.method == "history-all-kinds"
    assert found.date == date(2027, 4, 27)  # 13.5 h: Fri 2, Mon 9, Tue 11:30


def test_without_history_the_order_gets_the_sla_sum_along_the_diagram(api, app, clock):
    clock.set(msk(12, 10))  # Monday
    number = api.create_order("wardrobe")
    with app.app_context():
        order = db.session.execute(select(Order).where(Order.number == number)).scalar_one()
        task = db.session.execute(select(HumanTask).where(HumanTask.order_id == order.id)).scalar_one()
        definition = db.session.get(ProcessDefinition, definition_id())
        path = typical_path(engine().specs(definition.id, definition.checksum, lambda: definition.spec_json),
                            "new_order")
        # the wardrobe's norms (processes/sla.dmn) of the stages after «Новый заказ» on the default way
        rest = 8 + 72 + 24 + 48 + 72 + 240 + 8 + 48
        expected = business_calendar().add(task.due_at, rest).astimezone(MSK).date()
        assert (order.prediction_method, order.predicted_on, order.predicted_p80_on) == ("sla", expected, expected)
    assert path == ["new_order", "plan_measurement", "measurement", "prepare_contract", "payment", "procurement",
                    "production", "plan_delivery", "installation", "feedback"]
    assert api.order(number)["number"] == number


def test_the_prediction_follows_the_order_to_its_next_stage(api, app, clock):
    with app.app_context(), unit_of_work():
        history(stage="plan_measurement")
        prediction.refresh_stats()
    clock.set(msk(23, 10))  # Friday
    number = api.create_order("wardrobe")
    with app.app_context():
        assert db.session.execute(select(Order.prediction_method).where(Order.number == number)).scalar() == "sla"
    clock.set(msk(23, 16))
    api.step(number, "new_order")
    with app.app_context():
        order = db.session.execute(select(Order).where(Order.number == number)).scalar_one()
        assert (order.prediction_method, order.predicted_on) == ("history", date(2027, 4, 27))


def test_a_finished_order_has_no_prediction(app):
    with app.app_context(), unit_of_work():
        history()
        prediction.refresh_stats()
        done = make_order("wardrobe", [("production", msk(12, 9))], msk(13, 12))
        done.predicted_on = date(2027, 4, 30)
        assert prediction.refresh_order(done, msk(23, 16)) is None
        assert done.predicted_on is None and done.prediction_method is None


def test_the_active_orders_are_refreshed_in_batches(app):
    with app.app_context(), unit_of_work():
        history()
        prediction.refresh_stats()
        orders = [make_order("wardrobe", [("production", msk(23, 10))]) for _ in range(3)]
        assert prediction.refresh_active(2, now=msk(23, 16)) == (2, orders[1].id)
        assert orders[2].predicted_on is None
        assert prediction.refresh_active(2, after=orders[1].id, now=msk(23, 16)) == (1, None)
        assert orders[2].predicted_on == date(2027, 4, 27)
        assert prediction.WorkingClock(business_calendar()).between(msk(16, 14), msk(19, 12)) == 7
        assert timedelta(hours=7) == msk(19, 12) - msk(19, 5)


def test_the_scheduler_recounts_the_figures_without_holding_the_write_lock(app):
    """At 100,000 orders the recount reads for seconds; on SQLite a unit of work holding the write lock meanwhile
    kept every person's step waiting. The recount's read runs outside any unit of work; only storing the figures
    (a moment) writes."""
    with app.app_context():
        with unit_of_work():
            history()
        seen: list[tuple[str, bool]] = []

        def record(conn, _cursor, statement, _parameters, _context, _many):
            seen.append((statement, bool(conn.get_execution_options().get(WRITE_OPTION))))

        event.listen(db.engine, "before_cursor_execute", record)
        try:
            assert Scheduler().refresh_predictions(clock.now())["stats"] == 4
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
        [recount] = [writing for statement, writing in seen if "human_tasks JOIN orders" in statement]
        [store] = [writing for statement, writing in seen if statement.startswith("DELETE FROM forecast_stats")]
        assert (recount, store) == (False, True)
        assert len(db.session.execute(select(ForecastStat)).scalars().all()) == 4


def test_a_timer_due_while_the_figures_are_recounted_is_woken_without_waiting_for_the_recount(app, api):
    """At 100,000 orders the recount reads for seconds (once an hour): it runs beside the scheduler's loop, which
    meanwhile wakes the timers that come due."""
    api.create_order()
    with app.app_context():
        with unit_of_work():
            order = make_order("wardrobe", [("production", msk(12, 9))], msk(15, 18))
            instance_id = order.instance.id
        # Enough finished tasks for the recount to take a while (a tenth of a second or more).
        db.session.execute(insert(HumanTask), [
            {"task_guid": str(uuid4()), "instance_id": instance_id, "order_id": order.id, "bpmn_id": "production",
             "name": "production", "stage": "production", "lane": "production", "created_at": msk(12, 9),
             "state": "completed", "completed_at": msk(15, 18)} for _ in range(20_000)])
        db.session.execute(update(ProcessInstance).where(ProcessInstance.order_id != order.id)
                           .values(next_timer_at=clock.now() - timedelta(seconds=1)))  # the new order's: due
        db.session.commit()
        woken: list[int] = []
        scheduler = Scheduler(on_wake=lambda instance, _due, _at: woken.append(instance))
        refreshed = scheduler.refresh_predictions(clock.now())  # the round's own wake-up came before: none here
        assert refreshed is not None and refreshed["stats"] == 2  # production: wardrobes, and every kind
        assert len(woken) == 1  # woken while the figures were being recounted
