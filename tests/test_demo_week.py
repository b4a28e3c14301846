"""The demo gives the dispatcher's calendar and the department boards a realistic week."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from app.demo import BUSY_WEEK, TARGETS, load_demo
from app.extensions import db
from app.models import Component, HumanTask, Order, Role, User, Visit
from app.services.calendar import business_calendar
from tests.support.api import Api, deploy_processes

MONDAY = datetime(2026, 4, 6, 9, 30, tzinfo=ZoneInfo("Europe/Moscow"))  # a week with no holidays
EARLY_STAGES = ("Проектирование", "Подготовка договора", "Оплата", "Комплектация", "Производство")


def test_the_demo_fills_a_working_week(app, clock):
    """`flask demo` on a fresh database, as `make run` loads it, on a Monday morning."""
    deploy_processes(app)
    clock.set(MONDAY)
    with app.app_context():
        summary = load_demo(count=len(TARGETS) + 12)  # one order at every stage, then the dozen that shape a week
        assert "measurer3" in summary and "installer3" in summary
        assert len(BUSY_WEEK) >= 30  # `flask demo`'s 50 orders book the week after it too
        now = clock.now()
        people = {role: set(db.session.execute(select(User.login).join(User.roles).where(
            Role.code == role, User.login.not_like("head_%"))).scalars()) for role in ("measurer", "installer")}
        assert len(people["measurer"]) >= 3 and len(people["installer"]) >= 3

        booked = db.session.execute(select(Visit).where(Visit.status == "booked")).scalars().all()
        calendar = business_calendar()
        week = [MONDAY.date() + timedelta(days=n) for n in range(7)]
        busy_days = {v.starts_at.astimezone(calendar.tz).date() for v in booked} & set(week)
        assert len([day for day in busy_days if calendar.is_working_day(day)]) >= 4, sorted(busy_days)
        assert {v.user.login for v in booked if v.kind == "measurement"} >= {"measurer", "measurer2", "measurer3"}
        assert all(v.starts_at > now for v in booked)  # what is still booked lies ahead; the rest is done
        queued = [v for v in booked if v.kind == "delivery" and v.user_id is None]
        assert queued and all(v.order.crew is None for v in queued)

        states = set(db.session.execute(select(Component.status).join(Order).where(
            Order.stage.in_(("Комплектация", "Производство")))).scalars())
        assert {"needed", "ordered", "received"} <= states
        assert "in_workshop" in set(db.session.execute(select(Component.status)).scalars())

        soon = db.session.execute(select(func.count(Order.id)).where(
            Order.status == "active", Order.stage.in_(EARLY_STAGES),
            Order.promised_date <= MONDAY.date() + timedelta(days=7))).scalar()
        assert soon >= 2
        overdue = db.session.execute(select(func.count(HumanTask.id)).where(
            HumanTask.state == "open", HumanTask.due_at < now)).scalar()
        assert overdue >= 2

    jobs = Api(app, app.test_client()).get("/jobs", as_="installer3")
    assert jobs.status_code == 200 and jobs.get_json()["count"] >= 1
    assert "подъём на 5-й этаж" in jobs.get_json()["items"][0]["comment"]

