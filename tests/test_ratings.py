"""Employee ratings: KPIs, scores and places against a small history with hand-computed values; the admins'
weights changing the scores; who sees which rows."""
from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import RatingWeight
from app.services import ratings
from app.usecases.uow import unit_of_work
from tests.support.history import msk
from tests.support.ratings import measurers_april
from tests.support.sql import statements
from tests.support.web import signed_in

APRIL = {"from": "2027-04-01", "to": "2027-04-30"}


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)).replace("\xa0", " "))


@pytest.fixture
def app(make_app):
    app = make_app(WTF_CSRF_ENABLED=False)
    with app.app_context(), unit_of_work():
        measurers_april()
    return app


def measurer_table(app) -> ratings.RoleTable:
    from datetime import date

    with app.test_request_context():
        tables = {table.role: table for table in ratings.rating(date(2027, 4, 1), date(2027, 4, 30))}
        for table in tables.values():
            for row in table.rows:
                row.user.login  # loaded while the session is open  # noqa: B018
        return tables["measurer"]


def test_components_scores_and_places_match_the_hand_computed_ones(app):
    table = measurer_table(app)
    assert table.people == 3 and table.median_tasks == 2  # 3, 2 and 1 tasks in April
    rows = {row.user.login: row for row in table.rows}
    first, second, third = rows["measurer"], rows["measurer2"], rows["head_measurer"]
    assert (first.tasks, first.with_due, first.on_time, first.reworked) == (3, 2, 2, 1)
    assert (first.orders, first.claims) == (3, 1)
    assert (first.rating_mean, first.ratings) == (4.0, 2)
    # on time 2/2; throughput 50 × 3/2; rework 1 − 1/3; claims 1 − 1/3; ratings (4 − 1)/4
    assert {k: round(v, 2) for k, v in first.components.items()} == {
        "on_time": 100.0, "throughput": 75.0, "rework": 66.67, "claims": 66.67, "ratings": 75.0}
    # (30·100 + 20·75 + 20·66.67 + 15·66.67 + 15·75) / 100
    assert first.score == 79.6 and first.place == 1
    assert second.components == {"on_time": 50.0, "throughput": 50.0, "rework": 100.0, "claims": 100.0,
                                 "ratings": 100.0}
    assert second.score == 75.0 and second.place == 2  # (1500 + 1000 + 2000 + 1500 + 1500) / 100
    # no ratings: their weight is left out — (30·0 + 20·25 + 20·100 + 15·100) / 85
    assert third.components == {"on_time": 0.0, "throughput": 25.0, "rework": 100.0, "claims": 100.0,
                                "ratings": None}
    assert third.score == 47.1 and third.place == 3
    assert [row.user.login for row in table.rows] == ["measurer", "measurer2", "head_measurer"]


def test_the_period_s_counts_are_summed_from_the_daily_rows_not_read_from_the_tasks(app):
    with statements(app) as seen:
        table = measurer_table(app)
    assert {row.user.login: (row.tasks, row.orders) for row in table.rows} == {
        "measurer": (3, 3), "measurer2": (2, 2), "head_measurer": (1, 1)}
    # the counts, the orders worked and the returns from the daily rows (a year's ~400,000 tasks were read twice:
    # 0.5 s SQLite, 1.1 s PostgreSQL at 100,000 orders); the claims' and the ratings' few orders from their tasks
    assert sum(1 for s in seen if "FROM rating_days" in s) == 1
    assert sum(1 for s in seen if "FROM human_tasks" in s) == 2


def test_the_director_sees_every_row_with_its_components(app):
    page = signed_in(app, "director").get("/ratings/", query_string=APRIL)
    assert page.status_code == 200
    text = text_of(page.get_data(as_text=True))
    assert re.search(r"1 из 3 Игорь Замеров 79,6 100,0 2 из 2 75,0 задач: 3 66,7 возвратов: 1 "
                     r"66,7 рекламаций: 1 на 3 зак\. 75,0 4,0 из 5, оценок: 2", text), text
    assert "2 из 3 Олег Рулеткин 75,0" in text
    assert "3 из 3 Вадим Метров 47,1 0,0 0 из 1 25,0 задач: 1" in text
    assert "Дизайнер / технолог" in text  # the designer's task on order A: a table of its own role


def test_the_admins_weights_change_the_scores_and_places(app):
    admin = signed_in(app, "admin")
    form = {f"{role}.{kpi}": "20" for role in ("measurer", "designer") for kpi in ratings.KPIS}
    form.update({"measurer.on_time": "0", "measurer.throughput": "0", "measurer.rework": "0",
                 "measurer.claims": "0", "measurer.ratings": "1"})
    assert admin.post("/ratings/weights", data=form).status_code == 302
    table = measurer_table(app)
    rows = {row.user.login: (row.score, row.place) for row in table.rows}
    # only the customers' ratings count now: measurer2's 5 beats measurer's 4; head_measurer has none — no place
    assert rows == {"measurer2": (100.0, 1), "measurer": (75.0, 2), "head_measurer": (None, None)}
    with app.app_context():
        stored = ratings.weights()
    assert stored["measurer"] == {"on_time": 0, "throughput": 0, "rework": 0, "claims": 0, "ratings": 1}
    page = text_of(admin.get("/ratings/weights").get_data(as_text=True))
    assert "Веса рейтинга" in page


def test_bad_weights_are_refused_inline_keeping_what_was_typed(app):
    admin = signed_in(app, "admin")
    form = {f"measurer.{kpi}": "0" for kpi in ratings.KPIS}
    form.update({"designer.on_time": "-5", "designer.throughput": "много", "designer.rework": "1",
                 "designer.claims": "1", "designer.ratings": "1"})
    page = admin.post("/ratings/weights", data=form)
    assert page.status_code == 422
    html = page.get_data(as_text=True)
    assert 'value="много"' in html and 'value="-5"' in html
    text = text_of(html)
    assert "Веса не сохранены" in text
    assert "Вес — число от 0 до 1000" in text and "Введите число, например 20 или 12,5" in text
    assert "Хотя бы один вес роли должен быть больше нуля" in text
    with app.app_context():
        assert db.session.execute(select(RatingWeight)).first() is None  # nothing stored


def test_an_employee_sees_only_their_own_row_and_place(app):
    text = text_of(signed_in(app, "measurer2").get("/ratings/", query_string=APRIL).get_data(as_text=True))
    assert "2 из 3 Олег Рулеткин 75,0" in text
    assert "Игорь Замеров" not in text and "Вадим Метров" not in text
    assert "Вы видите свою строку и своё место" in text


def test_a_head_sees_their_department_and_other_heads_nothing_of_it(app):
    head = text_of(signed_in(app, "head_measurer").get("/ratings/", query_string=APRIL).get_data(as_text=True))
    assert "1 из 3 Игорь Замеров" in head and "2 из 3 Олег Рулеткин" in head and "3 из 3 Вадим Метров" in head
    other = text_of(signed_in(app, "head_sales").get("/ratings/", query_string=APRIL).get_data(as_text=True))
    assert "Игорь Замеров" not in other and "нет выполненных задач" in other


def test_only_admins_change_weights_and_partners_see_no_rating(app):
    assert signed_in(app, "director").get("/ratings/weights").status_code == 403
    assert signed_in(app, "partner_mega").get("/ratings/").status_code == 403


def test_a_bad_period_is_named_and_the_month_shown(app):
    page = signed_in(app, "director").get("/ratings/", query_string={"from": "2027-13-01", "to": "2027-04-30"})
    assert page.status_code == 400
    assert "Начало периода: дата «2027-13-01» не распознана" in text_of(page.get_data(as_text=True))


def test_the_customers_own_tasks_rate_nobody(app):
    from tests.support.ratings import done, order

    with app.app_context(), unit_of_work():
        done("customer", order(), msk(20, 9), msk(20, 10), bpmn_id="rate_order", lane="customer")
    director = signed_in(app, "director")
    assert "Заказчик" not in text_of(director.get("/ratings/", query_string=APRIL).get_data(as_text=True))
    assert 'name="customer.on_time"' not in signed_in(app, "admin").get("/ratings/weights").get_data(as_text=True)


def test_the_rating_reads_in_english(app):
    director = signed_in(app, "director")
    director.post("/language", data={"locale": "en", "next": "/ratings/"})
    text = text_of(director.get("/ratings/", query_string=APRIL).get_data(as_text=True))
    assert "Employee rating" in text and "Customer ratings" in text
    assert "1 of 3 Игорь Замеров 79.6 100.0 2 of 2 75.0 tasks: 3" in text
