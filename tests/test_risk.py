"""At-risk escalation: an order predicted past its promised date tells its stage's head once, however many
scheduler rounds pass, clears when the order catches up and fires again only when it falls behind again."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, Escalation, Notification, Order
from app.services import prediction
from app.usecases import risk
from app.usecases.uow import unit_of_work
from tests.support.api import Api
from tests.support.history import make_order, msk
from workers.scheduler import Scheduler


@pytest.fixture
def app(make_app):
    return make_app(PREDICTION_MIN_SAMPLES=3)


@pytest.fixture
def api(app):
    return Api(app, app.test_client())


def history(app) -> None:
    """Three wardrobes finished 45 working hours after their new-order task, 9 after planning the measurement."""
    with app.app_context(), unit_of_work():
        for _ in range(3):
            make_order("wardrobe", [("new_order", msk(5, 9)), ("plan_measurement", msk(9, 9))], msk(12, 9))
        prediction.refresh_stats()


def promised(api, app, day: date | None) -> str:
    """A new wardrobe promised for `day` (the contract's date, written straight onto the order)."""
    number = api.create_order("wardrobe")
    with app.app_context(), unit_of_work():
        db.session.execute(select(Order).where(Order.number == number)).scalar_one().promised_date = day
    return number


def order_row(app, number: str) -> dict:
    with app.app_context():
        order = db.session.execute(select(Order).where(Order.number == number)).scalar_one()
        return {"at_risk": order.at_risk, "predicted_on": order.predicted_on, "method": order.prediction_method}


def escalations(app) -> list[tuple[str, bool]]:
    with app.app_context():
        return [(e.stage, e.cleared_at is None) for e in db.session.execute(
            select(Escalation).where(Escalation.level == "at_risk").order_by(Escalation.id)).scalars()]


def told(app) -> list[tuple[str, str]]:
    with app.app_context():
        return [(n.recipient, n.body) for n in db.session.execute(
            select(Notification).where(Notification.event == "order_at_risk", Notification.channel == "email")
            .order_by(Notification.id)).scalars()]


def risk_audit(app) -> list[tuple[str | None, str | None]]:
    with app.app_context():
        return [(e.old_value, e.new_value) for e in db.session.execute(
            select(AuditEvent).where(AuditEvent.kind == "risk").order_by(AuditEvent.id)).scalars()]


def test_the_head_is_told_once_and_the_risk_clears_when_the_order_catches_up(api, app, clock):
    history(app)
    clock.set(msk(12, 10))  # Monday; 45 working hours on is next Monday 10:00
    number = promised(api, app, date(2027, 4, 16))
    assert order_row(app, number) == {"at_risk": False, "predicted_on": date(2027, 4, 19), "method": "history"}

    scheduler = Scheduler()
    with app.app_context():
        scheduler.run_once()
        clock.advance(minutes=5)
        scheduler.run_once()  # the refresh is not due again within the hour: no sweep
        clock.advance(hours=2)
        assert scheduler.run_once()["predictions"]["fired"] == 0  # due again, swept again: told already
    assert order_row(app, number)["at_risk"] is True
    assert escalations(app) == [("Новый заказ", True)]
    [(recipient, body)] = told(app)
    assert recipient == "head_sales@bespoke.example"  # «Новый заказ» is the sales lane's
    assert number in body and "16 апреля 2027" in body and "19 апреля 2027" in body
    assert risk_audit(app) == [("False", "True")]

    # Planning the measurement is 9 working hours from the end: the order is back within its promise.
    api.step(number, "new_order")
    assert order_row(app, number) == {"at_risk": True, "predicted_on": date(2027, 4, 13), "method": "history"}
    assert escalations(app) == [("Новый заказ", False)]  # its task is done
    with app.app_context():
        assert risk.sweep() == {"fired": 0, "cleared": 1}
        assert risk.sweep() == {"fired": 0, "cleared": 0}
    assert order_row(app, number)["at_risk"] is False
    assert risk_audit(app) == [("False", "True"), ("True", "False")]

    # Nobody plans it for a week: it falls behind again, and the dispatch head hears of it once.
    clock.advance(days=7)
    with app.app_context():
        assert scheduler.run_once()["predictions"]["fired"] == 1
        assert risk.sweep() == {"fired": 0, "cleared": 0}
    assert order_row(app, number)["at_risk"] is True
    assert escalations(app) == [("Новый заказ", False), ("Планирование выезда на замер", True)]
    assert [recipient for recipient, _ in told(app)] == ["head_sales@bespoke.example",
                                                         "head_dispatch@bespoke.example"]


def test_a_later_promise_clears_the_risk_and_its_escalation(api, app, clock):
    history(app)
    clock.set(msk(12, 10))
    number = promised(api, app, date(2027, 4, 16))
    with app.app_context():
        assert risk.sweep() == {"fired": 1, "cleared": 0}
        with unit_of_work():
            order = db.session.execute(select(Order).where(Order.number == number)).scalar_one()
            order.promised_date = date(2027, 4, 19)  # the customer agreed to Monday
        assert risk.sweep() == {"fired": 0, "cleared": 1}
    assert order_row(app, number)["at_risk"] is False
    assert escalations(app) == [("Новый заказ", False)]


def test_a_prediction_on_the_weekend_after_a_friday_promise_is_not_at_risk(app):
    with app.app_context(), unit_of_work():
        order = make_order("wardrobe", [("production", msk(12, 9))], promised=date(2027, 4, 16))
        order.predicted_on = date(2027, 4, 18)  # Sunday: no working day lost
        calendar = risk.business_calendar()
        assert risk.late(order, calendar) is False
        order.predicted_on = date(2027, 4, 19)
        assert risk.late(order, calendar) is True


def test_finished_cancelled_and_unpromised_orders_are_never_at_risk(api, app, clock):
    history(app)
    clock.set(msk(12, 10))
    unpromised = promised(api, app, None)
    with app.app_context(), unit_of_work():
        late_by_far = date(2027, 4, 12) - timedelta(days=30)
        done = make_order("wardrobe", [("production", msk(5, 9))], msk(9, 12), promised=late_by_far)
        cancelled = make_order("wardrobe", [("production", msk(5, 9))], promised=late_by_far)
        cancelled.status = "cancelled"
        for order in (done, cancelled):
            order.predicted_on = date(2027, 5, 31)
    with app.app_context():
        assert risk.sweep() == {"fired": 0, "cleared": 0}
    assert order_row(app, unpromised)["predicted_on"] == date(2027, 4, 19)
    assert escalations(app) == [] and told(app) == []


def test_an_order_at_risk_that_is_cancelled_is_no_longer_at_risk(api, app, clock):
    history(app)
    clock.set(msk(12, 10))
    number = promised(api, app, date(2027, 4, 16))
    with app.app_context():
        risk.sweep()
    response = api.post(f"/orders/{number}/cancel", {"reason": "Передумали"}, as_="sales")
    assert response.status_code == 200, response.get_json()
    assert order_row(app, number) == {"at_risk": False, "predicted_on": None, "method": None}
    assert escalations(app) == [("Новый заказ", False)]


def test_the_notification_names_the_order_the_stage_and_both_dates_in_either_language(app):
    from app.services.notification_templates import render

    with app.app_context(), unit_of_work():
        order = make_order("wardrobe", [("production", msk(12, 9))], promised=date(2027, 4, 16))
        params = {"stage_name": "Производство", "promised_on": "2027-04-16", "predicted_on": "2027-04-21"}
        subject_ru, text_ru, _ = render("order_at_risk", order, params, "ru")
        subject_en, text_en, _ = render("order_at_risk", order, params, "en")
        number = order.number
    assert number in subject_ru and "«Производство»" in text_ru
    assert "обещано 16 апреля 2027, ориентировочно 21 апреля 2027" in text_ru
    assert "promised 16 April 2027, now expected 21 April 2027" in text_en
