"""Lists at 100,000 orders: the inbox shows its tasks a page at a time and goes on from the last one, the orders
list's pager names a few pages rather than all of them, and the boards' and inbox's figures over open tasks are
read from the (state, lane, stage, …) index alone."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from app.extensions import db
from app.inbox.routes import PER_PAGE
from app.orders.routes import page_links
from tests.support.api import Api
from tests.support.sql import statements
from tests.support.web import signed_in


@pytest.fixture
def ui(make_app):
    app = make_app(WTF_CSRF_ENABLED=False)
    return app, Api(app, app.test_client())


def test_the_inbox_shows_a_page_of_tasks_and_goes_on_from_the_last_one(ui):
    app, api = ui
    numbers = {api.create_order() for _ in range(PER_PAGE + 3)}
    client = signed_in(app, "sales")
    first = client.get("/inbox?tab=queue").get_data(as_text=True)
    assert f'data-count="queue">{PER_PAGE + 3}<' in first  # the tab still counts every task
    assert first.count('/claim"') == PER_PAGE
    following = re.search(r'href="(/inbox\?[^"]*after=\d+[^"]*)" rel="next"', first)
    assert following and "tab=queue" in following.group(1)
    second = client.get(following.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert second.count('/claim"') == 3 and 'rel="next"' not in second and "К первым задачам" in second
    listed = [set(re.findall(r">(\d{4}-\d{5})</a>", page)) for page in (first, second)]
    assert not listed[0] & listed[1] and listed[0] | listed[1] == numbers  # each task once, none left out

    filtered = client.get("/inbox?tab=queue&after=999999999").get_data(as_text=True)
    assert filtered.count('/claim"') == PER_PAGE  # an unknown task to go on from: the first page


def test_the_orders_pager_names_the_ends_and_the_neighbours():
    assert page_links(1, 1) == [1]
    assert page_links(1, 5) == [1, 2, 3, 4, 5]
    assert page_links(1, 2000) == [1, 2, 3, 4, None, 2000]
    assert page_links(1000, 2000) == [1, None, 997, 998, 999, 1000, 1001, 1002, 1003, None, 2000]
    assert page_links(2000, 2000) == [1, None, 1997, 1998, 1999, 2000]
    assert page_links(5, 2000)[:8] == [1, 2, 3, 4, 5, 6, 7, 8]  # no «…» standing for nothing


def statements_of(app, client, path: str) -> list[tuple[str, object]]:
    with statements(app, with_parameters=True) as seen:
        assert client.get(path).status_code == 200
    return seen


def plan_of(app, statement: str, parameters) -> str:
    with app.app_context():
        connection = db.session.connection().connection.driver_connection
        cursor = connection.cursor()
        if db.engine.dialect.name == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            found = "\n".join(str(row) for row in cursor.fetchall())
        else:
            cursor.execute("SET LOCAL enable_seqscan = off")  # a handful of rows: it would read them all
            cursor.execute("EXPLAIN " + statement, parameters)
            found = "\n".join(row[0] for row in cursor.fetchall())
        db.session.rollback()
    return found


@pytest.mark.parametrize("login, path, starts", [
    ("director", "/boards/production", "SELECT human_tasks.assignee_id + "),  # the workload per person
    ("director", "/boards/production", "SELECT human_tasks.stage, count(*)"),  # open tasks per stage
    ("sales", "/inbox?tab=queue", "SELECT DISTINCT human_tasks.stage"),  # the stage filter's choices
])
def test_figures_over_open_tasks_read_the_board_index(ui, login, path, starts):
    app, api = ui
    for _ in range(3):
        api.create_order()
    with app.app_context():  # what the planner knows of a real database
        db.session.execute(text("ANALYZE"))
        db.session.commit()
    statement, parameters = next(s for s in statements_of(app, signed_in(app, login), path) if s[0].startswith(starts))
    plan = plan_of(app, statement, parameters)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        assert "ix_human_tasks_open_board" in plan
    else:  # a handful of rows: PostgreSQL's costs pick any of the indexes on open tasks, but one of them
        assert re.search(r"Index (Only )?Scan using ix_human_tasks_\w+ on human_tasks|Bitmap Index Scan on "
                         r"ix_human_tasks_", plan), plan
