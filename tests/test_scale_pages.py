"""Lists at scale: a page costs the same few SQL statements with 3 rows or 12 (no query per row), and shows every row.

The figures at 100,000 orders are bench/scale.py's (docs/PERFORMANCE.md); these tests pin what makes them flat.
"""
from __future__ import annotations

import pytest
from sqlalchemy import event

from app.extensions import db
from tests.support.api import Api
from tests.support.web import signed_in


@pytest.fixture
def ui(make_app):
    app = make_app(WTF_CSRF_ENABLED=False)
    return app, Api(app, app.test_client())


def statements_of(app, client, path: str) -> tuple[int, str]:
    """The SQL statements one page request ran, and the page."""
    seen: list[str] = []

    def record(conn, cursor, statement, *args):
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        response = client.get(path)
    finally:
        event.remove(engine, "before_cursor_execute", record)
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
