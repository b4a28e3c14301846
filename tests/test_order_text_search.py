"""The orders list's text search at scale: it reads the text-search indexes (FTS5 trigram on SQLite, pg_trgm on
PostgreSQL) instead of every order, and finds exactly what «contains the text, case aside» finds."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import pytest
from sqlalchemy import select, text

from app.extensions import db
from app.models import Customer, Order, User
from app.services.order_search import search_orders, sorted_by
from tests.support.api import Api
from tests.support.sql import statements
from tests.support.web import signed_in

PEOPLE = (("Фёдорова Алёна", "+7 916 555-10-01", "г. Москва, ул. Ленина, д. 5"),
          ("ЁЖИКОВ ПЁТР", "+7 916 555-10-02", "Санкт-Петербург, Невский пр., 100% готов"),
          ("Smith John", "+7 495 777-10-03", "London, Baker Street 221b"),
          ("O'Brien Anna", "+7 812 300-40-50", "Казань, ул. Баумана_2"),
          ("федоров иван", "+7 916 555-10-05", "г. Москва, ЛЕНИНСКИЙ пр-т, 12"))
QUERIES = ("фёдоров", "ФЁДОР", "алё", "ёжиков", "пётр", "SMITH", "john", "o'brien", "ленин", "ул. л", "пр., 100%",
           "баумана_2", "5551001", "555-10", "7771003", "ан", "B", "нет-такого", '"кавычки"', "москва, ул")


@pytest.fixture
def api(make_app):
    app = make_app()
    return Api(app, app.test_client())


def expected(api, query: str) -> set[str]:
    """The orders whose number, customer name or address contains the text case aside, or (4+ digits) whose
    customer's phone contains the digits — worked out in Python over every order."""
    digits = "".join(ch for ch in query if ch.isdigit())
    with api.app.app_context():
        rows = db.session.execute(select(Order.number, Order.address, Customer.name, Customer.phone)
                                  .join(Order.customer)).all()
    wanted = query.lower()
    return {number for number, address, name, phone in rows
            if any(wanted in (value or "").lower() for value in (number, address, name))
            or (len(digits) >= 4 and digits in (phone or ""))}


def found(api, query: str) -> set[str]:
    listing = api.get("/orders?per_page=100&q=" + query.replace("%", "%25").replace("&", "%26")).get_json()
    return {item["number"] for item in listing["items"]}


def test_the_text_search_finds_what_contains_the_text_in_any_case_and_follows_changes(api):
    numbers = [api.create_order(customer={"name": name, "phone": phone}, address=address)
               for name, phone, address in PEOPLE]
    for query in QUERIES + (numbers[2], numbers[3][-5:].lower()):
        assert found(api, query) == expected(api, query), query
    assert found(api, "ёжиков") == {numbers[1]} and found(api, "ленин") == {numbers[0], numbers[4]}

    with api.app.app_context():  # a renamed customer and a moved order are found by what they say now
        db.session.execute(select(Customer).where(Customer.name == "Smith John")).scalar_one().name = "Шмидт Иоганн"
        db.session.execute(select(Order).where(Order.number == numbers[0])).scalar_one().address = "Тверь, Садовая"
        db.session.commit()
    assert found(api, "smith") == set() and found(api, "ШМИДТ") == {numbers[2]}
    assert found(api, "ленин") == {numbers[4]} and found(api, "садовая") == {numbers[0]}
    with api.app.app_context():  # a deleted order leaves the index with it
        db.session.delete(db.session.execute(select(Order).where(Order.number == numbers[4])).scalar_one())
        db.session.commit()
    assert found(api, "ленин") == set() and found(api, "фёдоров") == {numbers[0]}


def plan(api, query: str) -> str:
    """How the database means to run the list's query for `q=query`."""
    with api.app.app_context():
        director = db.session.execute(select(User).where(User.login == "director")).scalar_one()
        listed = sorted_by(search_orders(director, {"q": query}), {})
        sql = str(listed.compile(db.engine, compile_kwargs={"literal_binds": True}))
        if db.engine.dialect.name == "sqlite":
            return "\n".join(str(row) for row in db.session.execute(text("EXPLAIN QUERY PLAN " + sql)))
        db.session.execute(text("SET LOCAL enable_seqscan = off"))  # a handful of rows: it would read them all
        plan = "\n".join(row[0] for row in db.session.execute(text("EXPLAIN " + sql)))
        db.session.rollback()
        return plan


def test_the_text_search_reads_the_index_not_every_order(api):
    api.create_order(customer={"name": "Фёдорова Алёна", "phone": "+7 916 555-10-01"})
    found_plan = plan(api, "фёдоров")
    if api.app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        assert "SCAN orders_fts VIRTUAL TABLE" in found_plan and "SCAN customers_fts VIRTUAL TABLE" in found_plan
        # Whether orders are then read through that list or scanned is the planner's choice by the table's size
        # (ANALYZE of the pooled test database): at 100,000 orders it reads the list (docs/PERFORMANCE.md).
    else:
        assert "ix_customers_name_trgm" in found_plan and "ix_orders_number_trgm" in found_plan, found_plan
    assert "fts" not in plan(api, "фё") and "trgm" not in plan(api, "фё")  # two letters: no index can say


def test_a_search_counts_and_pages_the_orders_the_index_names_without_reading_each_one(api):
    """A broad search (10,000 orders at scale) is counted from the index's entries: no customer joined, no lower()
    of each matching order's number, name and address; what it finds is still «contains, case aside», for every
    letter of the Russian and Latin alphabets in either case."""
    letters = "абвгдеёжзийклмнопрстуфхцчшщъыьэюяabcdefghijklmnopqrstuvwxyz"
    names = [f"Тест {letter}{letter}{letter} {letter.upper() * 3}" for letter in letters[:12]]
    for name in names:
        api.create_order(customer={"name": name, "phone": "+7 900 000-00-00"})
    for letter in letters:
        for query in (letter * 3, letter.upper() * 3, f"{letter}{letter.upper()}{letter}"):
            assert found(api, query) == expected(api, query), query
    client = signed_in(api.app, "director")
    with statements(api.app) as seen:
        page = client.get("/orders?q=" + quote("тест")).get_data(as_text=True)
    assert all(number in page for number in expected(api, "тест")) and len(expected(api, "тест")) == len(names)
    listed = [s for s in seen if s.startswith(("SELECT count(*)", "SELECT orders.id", "SELECT id")) and "MATCH" in s
              or "ILIKE" in s]
    if api.app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # the matches counted from the indexes, then the creation index walked to the page's last one
        assert len(listed) == 2 and "INDEXED BY ix_orders_analytics" in listed[1], seen
    else:
        assert len(listed) == 1, seen  # the page's ids with the list's total beside them: the matches found once
    for statement in listed:
        assert "JOIN customers" not in statement, statement
        if api.app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
            assert "lower(" not in statement, statement


def test_a_searched_list_names_its_total_on_every_page_and_past_the_last(api, monkeypatch):
    """The page's ids carry the search's total: the heading and the pager say it on the last page too, and a page
    past the end (nothing to carry it) still counts."""
    monkeypatch.setattr("app.orders.routes.PER_PAGE", 2)
    numbers = {api.create_order(customer={"name": f"Пагинов Тест №{n}", "phone": f"+7 900 000-00-0{n}"})
               for n in range(5)}
    api.create_order(customer={"name": "Другой Человек", "phone": "+7 900 000-00-09"})
    client = signed_in(api.app, "director")
    shown = set()
    for page in (1, 2, 3, 4):
        html = client.get("/orders?q=" + quote("пагинов") + f"&page={page}").get_data(as_text=True)
        assert "всего 5" in html, page
        shown |= {number for number in numbers if number in html}
    assert shown == numbers


@pytest.mark.parametrize("walk_share", [0, 10**6], ids=["sorting-the-matches", "walking-the-index"])
def test_a_search_by_text_alone_pages_its_matches_in_the_order_of_creation_either_way(api, monkeypatch, walk_share):
    """A search by a text alone, the list's own order: newest first (or oldest, asked), ties newest number first,
    each match once (found by its customer and its address both), the same pages whether the matches are sorted
    as any list's or SQLite walks the creation index (`WALK_SHARE` chooses; PostgreSQL always sorts) — and when
    another filter narrows the search too, only what both allow."""
    monkeypatch.setattr("app.orders.routes.PER_PAGE", 3)
    monkeypatch.setattr("app.services.order_search.WALK_SHARE", walk_share)
    numbers = [api.create_order(customer={"name": f"Листов Тест №{n}", "phone": f"+7 900 000-00-1{n}"},
                                kind="kitchen" if n % 3 else "wardrobe") for n in range(7)]
    numbers.append(api.create_order(customer={"name": "Другой Человек", "phone": "+7 900 000-00-29"},
                                    address="Москва, ул. Листовая, 3"))  # the text in the address only
    numbers.append(api.create_order(customer={"name": "Листов Тест №8", "phone": "+7 900 000-00-28"},
                                    address="Москва, Листовой пер., 1"))  # in both: listed once
    unmatched = api.create_order(customer={"name": "Никак Не Совпадёт", "phone": "+7 900 000-00-99"})
    created = {number: datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(days=day)  # not in the numbers' order
               for number, day in zip(numbers + [unmatched], (5, 1, 9, 3, 3, 7, 0, 8, 2, 6), strict=True)}
    with api.app.app_context():
        for number, moment in created.items():
            db.session.execute(select(Order).where(Order.number == number)).scalar_one().created_at = moment
        db.session.commit()
    newest_first = sorted(numbers, key=lambda number: (created[number], number), reverse=True)
    client = signed_in(api.app, "director")

    def listed(query: str) -> tuple[list[str], set[str]]:
        shown, totals = [], set()
        for page in (1, 2, 3, 4):
            html = client.get(f"/orders?q={quote('листов')}{query}&page={page}").get_data(as_text=True)
            shown += re.findall(r"<strong>(\d{4}-\d{5})</strong>", html)
            totals |= set(re.findall(r"всего (\d+)", html))
        return shown, totals

    assert listed("") == (newest_first, {"9"})
    assert listed("&sort=-created") == (newest_first, {"9"})
    oldest_first = sorted(sorted(numbers, reverse=True), key=created.get)  # ties still newest number first
    assert listed("&sort=created") == (oldest_first, {"9"})
    kitchens = [number for number in newest_first if number in numbers[1:7] and numbers.index(number) % 3]
    assert listed("&kind=kitchen") == (kitchens, {str(len(kitchens))})
    html = client.get(f"/orders?q={quote('листов')}&page=9").get_data(as_text=True)
    assert "всего 9" in html and not re.findall(r"<strong>(\d{4}-\d{5})</strong>", html)  # past the last page


def test_the_page_finds_what_the_text_says_whatever_it_holds_when_it_walks_the_index(api, monkeypatch):
    """Quotes, '%', '_', ё and Ё, phone digits, a text of nothing found: the list page's own way for a text alone
    (SQLite walks the creation index for it) finds exactly what «contains, case aside» finds."""
    monkeypatch.setattr("app.services.order_search.WALK_SHARE", 10**6)  # every search counts as «many» here
    numbers = [api.create_order(customer={"name": name, "phone": phone}, address=address)
               for name, phone, address in PEOPLE]
    client = signed_in(api.app, "director")
    for query in QUERIES + (numbers[2], numbers[3][-5:].lower()):
        if len(query.strip()) < 3:
            continue  # the index cannot say: the general way (the API's test above)
        html = client.get("/orders?q=" + quote(query)).get_data(as_text=True)
        assert set(re.findall(r"<strong>(\d{4}-\d{5})</strong>", html)) == expected(api, query), query
