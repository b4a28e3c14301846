"""SLA deadlines on the business calendar; warnings and escalations as the timers fire."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Escalation, HumanTask, Notification
from app.services.calendar import BusinessCalendar
from tests.support.timers import sla_order, wake_at

MSK = ZoneInfo("Europe/Moscow")


def msk(*args) -> datetime:
    return datetime(*args, tzinfo=MSK)


def calendar(**config) -> BusinessCalendar:
    return BusinessCalendar.from_config({"TIMEZONE": "Europe/Moscow", "WORK_HOURS": "09:00-18:00",
                                         "WORK_DAYS": "0,1,2,3,4", "HOLIDAYS_COUNTRY": "RU", **config})


def test_working_hours_skip_the_night_the_weekend_and_a_public_holiday():
    cal = calendar()
    assert cal.holiday_name(msk(2026, 6, 12).date()) is not None  # День России, a Friday
    # Thursday 16:00 + 4 working hours: 2 h on Thursday, Friday is a holiday, then the weekend → Monday 11:00.
    assert cal.add(msk(2026, 6, 11, 16, 0), 4) == msk(2026, 6, 15, 11, 0).astimezone(timezone.utc)
    # An ordinary Tuesday evening request: the clock starts next morning.
    assert cal.add(msk(2026, 6, 16, 20, 30), 3) == msk(2026, 6, 17, 12, 0)
    # A Saturday start counts from Monday 09:00; 9 h is one whole working day.
    assert cal.add(msk(2026, 6, 20, 10, 0), 9) == msk(2026, 6, 22, 18, 0)
    assert cal.working_hours_between(msk(2026, 6, 11, 16, 0), msk(2026, 6, 15, 11, 0)) == 4


def test_the_new_year_holidays_and_company_exceptions():
    cal = calendar()
    # 30 Dec 2026 (Wed) 17:00 + 2 h: 1 h that day; 31 Dec is a working day in the package's calendar or not —
    # either way nothing counts on 1–8 January, which are public holidays.
    deadline = cal.add(msk(2026, 12, 30, 17, 0), 2).astimezone(MSK)
    assert deadline.date() in {msk(2026, 12, 31).date(), msk(2027, 1, 11).date()}
    assert all(not cal.is_working_day(msk(2027, 1, day).date()) for day in range(1, 9))
    # A company day off and a working Saturday come from the configuration.
    custom = calendar(EXTRA_HOLIDAYS="2026-06-15", EXTRA_WORKDAYS="2026-06-13")
    assert custom.add(msk(2026, 6, 11, 16, 0), 4) == msk(2026, 6, 13, 11, 0)
    assert custom.add(msk(2026, 6, 13, 17, 0), 2) == msk(2026, 6, 16, 10, 0)


def test_a_task_deadline_follows_the_business_calendar(api, app):
    number = api.create_order()
    task = api.open_task(number)
    with app.app_context():
        row = db.session.get(HumanTask, task["id"])
        expected = BusinessCalendar.from_config(app.config).add(row.created_at, 4)  # new order: 4 working hours
        assert abs((row.due_at - expected).total_seconds()) < 2


def test_warning_then_head_then_director_each_recorded_and_notified_then_cleared(make_app):
    # The 4-hour new-order SLA warns at 3 h and escalates at 4 h and 8 h; the clock moves, nobody sleeps.
    app, api, number, task, created = sla_order(make_app)

    def escalations():
        with app.app_context():
            return [(e.level, e.cleared_at is None) for e in
                    db.session.execute(select(Escalation).order_by(Escalation.id)).scalars()]

    def sent(event):
        with app.app_context():
            return {(n.recipient, n.channel) for n in db.session.execute(
                select(Notification).where(Notification.event == event)).scalars()}

    assert wake_at(app, created, hours=2, minutes=59) == 0 and escalations() == []
    assert wake_at(app, created, hours=3, minutes=1) == 1
    assert escalations() == [("warning", True)]
    assert ("sales@bespoke.example", "email") in sent("sla_warning")  # nobody holds the task: its lane is told
    assert api.open_task(number)["sla_level"] == "warning"

    assert wake_at(app, created, hours=3, minutes=59) == 0
    assert wake_at(app, created, hours=4, minutes=1) == 1
    assert escalations() == [("warning", True), ("head", True)]
    assert ("head_sales@bespoke.example", "email") in sent("sla_breach")
    assert api.get("/tasks?scope=all&overdue=1", as_="director").get_json()["count"] == 1

    assert wake_at(app, created, hours=7, minutes=59) == 0
    assert wake_at(app, created, hours=8, minutes=1) == 1
    assert [level for level, _ in escalations()] == ["warning", "head", "director"]
    assert ("director@bespoke.example", "email") in sent("sla_director")
    # The timers did not interrupt the task; completing it clears every escalation.
    assert api.open_task(number)["id"] == task["id"]
    api.step(number, "new_order")
    assert escalations() == [("warning", False), ("head", False), ("director", False)]
    with app.app_context():
        assert db.session.get(HumanTask, task["id"]).state == "completed"


def test_the_shared_table_of_working_hours_counts_as_the_calendar_does_as_it_grows_either_way():
    from app.services.daily_stats import SHARED_DAYS, WorkingHours

    cal = calendar(EXTRA_HOLIDAYS="2026-06-17", EXTRA_WORKDAYS="2026-06-20")
    late = msk(2026, 6, 22, 11, 30)
    pairs = [(msk(2026, 6, 11, 16, 0), msk(2026, 6, 15, 11, 0)),  # over a public holiday and a weekend
             (msk(2026, 6, 16, 20, 30), msk(2026, 6, 22, 10, 15)),  # a company day off, a working Saturday
             (msk(2024, 12, 28, 8, 0), late),  # back over two new year holidays: the table grows backwards
             (msk(2026, 6, 22, 9, 0), msk(2027, 1, 12, 17, 59)),  # and forwards
             (msk(2026, 6, 13, 12, 0), msk(2026, 6, 14, 23, 0))]  # a weekend only: nothing
    seen = []
    for a, b in pairs:
        table = WorkingHours.shared(cal, [a, b])
        assert table.between(a, b) == cal.working_hours_between(a, b) == table.between(a, b)
        assert table.between(b, a) == 0
        seen.append(table)
        assert all(old.between(x, y) == cal.working_hours_between(x, y)  # a table handed out earlier still answers
                   for old, (x, y) in zip(seen, pairs, strict=False))
    assert cal.working_hours_between(*pairs[4]) == 0
    assert WorkingHours.shared(cal, [msk(2025, 3, 3, 10, 0), late]) is seen[-1]  # within it: the same table
    assert WorkingHours.shared(cal, [pairs[0][0]]) is seen[-1]
    # a span wider than the shared one gets its own table, and the shared one stays as it was
    far = msk(2026, 6, 22, 10, 0).replace(year=2026 - SHARED_DAYS // 366 - 1)
    wide = WorkingHours.shared(cal, [far, late])
    assert wide is not seen[-1] and WorkingHours.shared(cal, [pairs[1][0]]) is seen[-1]
    assert wide.between(far, late) == pytest.approx(cal.working_hours_between(far, late))
    assert WorkingHours.shared(cal, []).between(late, late) == 0
