"""The load chart /dispatch/load: booked hours per specialist per day against the working day, figures checked
against hand-computed ones (visits of known lengths on known days, a public holiday, an overbooked day), the
company's day a late visit counts on, what is left out, bad input, who may look, and one grouped query."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from html import unescape

import pytest
from sqlalchemy import event, select

from app.extensions import db
from app.models import Order, OrderStatus, User, Visit
from tests.support.api import Api
from tests.support.web import signed_in

MSK = timezone(timedelta(hours=3))  # Europe/Moscow, the test config's TIMEZONE (no summer time since 2014)
# Monday 2 to Sunday 8 November 2026; Wednesday 4 November is a public holiday (День народного единства).
WEEK = "/dispatch/load?kind=measurement&from=2026-11-02&to=2026-11-08"


@pytest.fixture
def ui(make_app):
    app = make_app()
    return app, Api(app, app.test_client())


def add_visit(app, number: str, login: str | None, local_start: str, hours: float, *, kind="measurement",
              status="booked", order_status=None) -> None:
    """A visit of `hours` starting at `local_start` (Moscow time, "2026-11-02 10:00")."""
    starts = datetime.fromisoformat(local_start).replace(tzinfo=MSK).astimezone(timezone.utc)
    with app.app_context():
        order = db.session.execute(select(Order).where(Order.number == number)).scalar_one()
        user = db.session.execute(select(User).where(User.login == login)).scalar_one() if login else None
        db.session.add(Visit(order_id=order.id, kind=kind, user_id=user.id if user else None, starts_at=starts,
                             ends_at=starts + timedelta(hours=hours), status=status))
        if order_status is not None:
            order.status = order_status
        db.session.commit()


def table(html: str) -> dict[str, list[str]]:
    """The load table as people read it: person's name → the cells of their row (days, then the total)."""
    body = re.search(r'<table class="data load-table".*?</table>', html, flags=re.S)
    assert body is not None, "no load table"
    rows = {}
    for row in re.findall(r"<tr data-person.*?</tr>", body.group(0), flags=re.S):
        cells = [re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", cell))).replace("\u00a0", " ").strip()
                 for cell in re.findall(r"<t[hd]\b.*?</t[hd]>", row, flags=re.S)]
        rows[cells[0]] = cells[1:]
    return rows


def over_days(html: str, login: str) -> list[str]:
    row = re.search(rf'<tr data-person="{login}">.*?</tr>', html, flags=re.S)
    assert row is not None
    return re.findall(r'<td class="load-cell[^"]*\bover\b[^"]*" data-day="([^"]+)"', row.group(0))


def test_booked_hours_per_day_against_the_working_day(ui):
    app, api = ui
    first, second, cancelled_order, completed_order = (api.create_order() for _ in range(4))
    add_visit(app, first, "measurer", "2026-11-02 10:00", 2)
    add_visit(app, second, "measurer", "2026-11-02 13:00", 3)  # Monday: 5 of 9 hours
    add_visit(app, first, "measurer", "2026-11-03 09:00", 6)
    add_visit(app, second, "measurer", "2026-11-03 15:00", 4)  # Tuesday: 10 of 9 — overbooked
    add_visit(app, first, "measurer", "2026-11-04 10:00", 1.5)  # the holiday: nobody works, so any visit is too much
    add_visit(app, completed_order, "measurer", "2026-11-05 11:00", 2.5, status="done",
              order_status=OrderStatus.COMPLETED)  # done on a completed order: it took the time
    add_visit(app, first, "measurer", "2026-11-06 10:00", 2, status="cancelled")  # off the calendar
    add_visit(app, cancelled_order, "measurer", "2026-11-06 12:00", 2, order_status=OrderStatus.CANCELLED)
    add_visit(app, first, "measurer", "2026-11-06 14:00", 4, kind="delivery")  # a crew's visit: another chart
    add_visit(app, first, "measurer", "2026-11-09 10:00", 3)  # the week after: outside the period
    add_visit(app, second, "measurer2", "2026-11-02 23:30", 1)  # late Monday in Moscow (Monday 20:30 UTC)
    add_visit(app, second, "measurer2", "2026-11-03 01:00", 1)  # early Tuesday in Moscow (still Monday in UTC)

    response = signed_in(app, "dispatch").get(WEEK)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    rows = table(html)
    #                             Mon         Tue          Wed(holiday)  Thu           Fri        Sat        Sun
    assert rows["Игорь Замеров"] == ["5 / 9 ч", "⚠ 10 / 9 ч — перегрузка", "⚠ 1,5 / 0 ч — перегрузка", "2,5 / 9 ч",
                                     "0 / 9 ч", "0 / 0 ч", "0 / 0 ч", "19 / 36 ч"]
    assert rows["Олег Рулеткин"] == ["1 / 9 ч", "1 / 9 ч", "0 / 0 ч", "0 / 9 ч", "0 / 9 ч", "0 / 0 ч", "0 / 0 ч",
                                     "2 / 36 ч"]
    assert over_days(html, "measurer") == ["2026-11-03", "2026-11-04"] and over_days(html, "measurer2") == []
    assert "Перегружено: 2 чел.-дн." in html
    assert re.search(r'<th scope="col" class="day-off" data-day="2026-11-04">', html)  # the holiday's column

    chart = re.search(r'<script type="application/json" id="load-data">(.*?)</script>', html, flags=re.S)
    assert chart is not None
    data = json.loads(chart.group(1))
    assert data["capacity"] == [9, 9, 0, 9, 9, 0, 0]
    person = next(p for p in data["people"] if p["name"] == "Игорь Замеров")
    assert person["booked"] == [5, 10, 1.5, 2.5, 0, 0, 0]
    assert person["over"] == [False, True, True, False, False, False, False]


def test_crews_have_their_own_chart(ui):
    app, api = ui
    number = api.create_order()
    add_visit(app, number, "installer", "2026-11-05 09:00", 4, kind="delivery")
    add_visit(app, number, None, "2026-11-05 13:00", 4, kind="delivery")  # in the crews' queue: nobody's load yet
    add_visit(app, number, "measurer", "2026-11-05 09:00", 2)
    html = signed_in(app, "delivery_dispatch").get(WEEK.replace("measurement", "delivery")).get_data(as_text=True)
    rows = table(html)
    assert rows["Бригада №1 (Виктор Монтажов)"][3] == "4 / 9 ч"
    assert rows["Бригада №1 (Виктор Монтажов)"][-1] == "4 / 36 ч"
    assert "Игорь Замеров" not in rows


def test_the_default_period_is_this_week_and_next(ui):
    app, _api = ui
    html = signed_in(app, "dispatch").get("/dispatch/load").get_data(as_text=True)
    days = re.findall(r'<th scope="col"[^>]*data-day="([^"]+)"', html)
    assert len(days) == 14
    first = datetime.fromisoformat(days[0]).date()
    today = datetime.now(MSK).date()
    assert first.weekday() == 0 and first <= today < first + timedelta(days=7)
    assert "Загрузка специалистов" in html and 'aria-current="page"' in html  # the dispatch tabs, this one current


@pytest.mark.parametrize(("query", "message"), [
    ("from=2026-13-01&to=2026-11-08", "Дата «2026-13-01» не распознана: укажите её в виде ГГГГ-ММ-ДД"),
    ("from=2026-11-08&to=2026-11-02", "Начало периода позже его конца"),
    ("from=2026-01-01&to=2026-12-31", "Период длиннее 62 дней: выберите покороче"),
    ("kind=plumbers", "Неизвестный вид работ: выберите замерщиков или бригады"),
])
def test_bad_input_is_named_on_the_page_and_what_was_typed_stays(ui, query, message):
    app, _api = ui
    response = signed_in(app, "dispatch").get(f"/dispatch/load?{query}")
    assert response.status_code == 422
    html = unescape(response.get_data(as_text=True))
    assert message in html
    for name, value in (pair.split("=") for pair in query.split("&") if not pair.startswith("kind")):
        assert f'name="{name}" value="{value}"' in html  # nothing typed is lost
    assert table(html)  # and the default period is still shown


def test_who_may_see_the_load(ui):
    app, _api = ui
    for login in ("dispatch", "delivery_dispatch", "director"):
        assert signed_in(app, login).get("/dispatch/load").status_code == 200, login
    for login in ("measurer", "sales", "installer"):
        assert signed_in(app, login).get("/dispatch/load").status_code == 403, login


def test_the_figures_come_from_one_grouped_query_however_many_visits(ui):
    app, api = ui
    numbers = [api.create_order() for _ in range(3)]
    with app.app_context():
        people = db.session.execute(select(User.id).where(User.login.in_(("measurer", "measurer2")))).scalars().all()
        orders = db.session.execute(select(Order.id).where(Order.number.in_(numbers))).scalars().all()
        start = datetime(2026, 11, 2, 6, tzinfo=timezone.utc)
        db.session.add_all(Visit(order_id=orders[n % 3], kind="measurement", user_id=people[n % 2],
                                 starts_at=start + timedelta(hours=n % 200), ends_at=start + timedelta(hours=n % 200,
                                                                                                      minutes=30))
                           for n in range(3000))
        db.session.commit()
    client = signed_in(app, "dispatch")
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        html = client.get("/dispatch/load?from=2026-11-02&to=2026-11-15").get_data(as_text=True)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    on_visits = [s for s in statements if re.search(r"\bFROM visits\b", s)]
    assert len(on_visits) == 1, on_visits
    totals = {name: cells[-1] for name, cells in table(html).items()}
    assert totals["Игорь Замеров"].startswith("750 / ") and totals["Олег Рулеткин"].startswith("750 / ")
