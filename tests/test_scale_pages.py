"""Lists at scale: a page costs the same few SQL statements with 3 rows or 12 (no query per row), and shows every row.

The figures at 100,000 orders are bench/scale.py's (docs/PERFORMANCE.md); these tests pin what makes them flat.
"""
from __future__ import annotations

import pytest

from tests.support.api import Api
from tests.support.sql import statements
from tests.support.web import signed_in


@pytest.fixture
def ui(make_app):
    app = make_app(WTF_CSRF_ENABLED=False)
    return app, Api(app, app.test_client())


def statements_of(app, client, path: str) -> tuple[int, str]:
    """The SQL statements one page request ran, and the page."""
    with statements(app) as seen:
        response = client.get(path)
    assert response.status_code == 200
    return len(seen), response.get_data(as_text=True)


def test_the_sales_queue_costs_the_same_statements_with_more_tasks(ui):
    app, api = ui
    first = [api.create_order() for _ in range(3)]
    client = signed_in(app, "sales")
    few, page = statements_of(app, client, "/inbox?tab=queue")
    assert all(number in page for number in first)

    more = [api.create_order(kind="kitchen") for _ in range(9)]
    many, page = statements_of(app, client, "/inbox?tab=queue")
    assert all(number in page for number in first + more)  # every task listed, each with its claim button
    assert page.count('/claim"') == 12
    assert many == few, f"{few} statements for 3 tasks, {many} for 12"


def test_the_orders_list_counts_orders_alone_and_still_sorts_and_finds_by_customer(ui):
    app, api = ui
    numbers = {name: api.create_order(customer={"name": name, "phone": phone})
               for name, phone in (("Яковлева Юлия", "+7 916 555-00-01"), ("Абрамов Антон", "+7 916 555-00-02"),
                                   ("Михайлова Мила", "+7 916 555-00-03"))}
    client = signed_in(app, "director")
    with statements(app) as seen:
        page = client.get("/orders?sort=customer").get_data(as_text=True)
    count = next(s for s in seen if s.lstrip().upper().startswith("SELECT COUNT(*)") and "FROM orders" in s)
    assert "JOIN customers" not in count  # 100,000 orders counted without a join per order
    order = [page.index(numbers[name]) for name in ("Абрамов Антон", "Михайлова Мила", "Яковлева Юлия")]
    assert order == sorted(order)  # by the customer's name, А to Я
    backwards = client.get("/orders?sort=-customer").get_data(as_text=True)
    assert backwards.index(numbers["Яковлева Юлия"]) < backwards.index(numbers["Абрамов Антон"])

    found = client.get("/orders?q=Михайлова").get_data(as_text=True)  # the text search joins the customers
    assert numbers["Михайлова Мила"] in found and numbers["Абрамов Антон"] not in found
    assert numbers["Яковлева Юлия"] in client.get("/orders?q=5550001").get_data(as_text=True)  # by phone digits
