"""Lists at 100,000 orders: the inbox shows its tasks a page at a time and goes on from the last one, the orders
list's pager names a few pages rather than all of them, and the boards' and inbox's figures over open tasks are
read from the (state, lane, stage, …) index alone."""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from urllib.parse import quote

import pytest
from sqlalchemy import select, text

from app.extensions import db
from app.inbox.routes import PER_PAGE
from app.models import HumanTask, Order, Partner, PartnerCommission
from app.orders.routes import page_links
from app.services.reference import create_user
from app.usecases.uow import unit_of_work
from tests.support.api import Api
from tests.support.diagrams import deploy_diagram, start
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
    narrowed = client.get("/inbox?tab=queue&stage=" + quote("Нет такого этапа")).get_data(as_text=True)
    for page in (second, narrowed):  # the tab counts its every task, whichever of them the list shows
        assert f'data-count="queue">{PER_PAGE + 3}<' in page
    assert narrowed.count('/claim"') == 0
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


def analyzed(app) -> None:
    with app.app_context():  # what the planner knows of a real database
        db.session.execute(text("ANALYZE"))
        db.session.commit()


def inbox_tasks(client, tab: str) -> set[int]:
    page = client.get(f"/inbox?tab={tab}").get_data(as_text=True)
    return {int(task) for task in re.findall(r'data-task="(\d+)"', page)}


def test_the_inbox_queue_reads_its_lanes_open_tasks_from_the_index_and_lists_what_the_process_named(ui):
    app, api = ui
    with app.app_context(), unit_of_work():  # named by the process for an accountant's task, without the role
        create_user("ln_second", "Второй кассир", "demo", ["sales"])
    deploy_diagram(api, "ln_owners.bpmn")
    assert api.client.put("/api/v1/processes/ln_owners/settings", json={"lane_roles": {"Бухгалтерия": "accountant"}},
                          headers=api._headers("analyst")).status_code == 200
    [pay] = start(api, "ln_owners", as_="analyst")["tasks"]
    for _ in range(3):
        api.create_order()
    analyzed(app)
    for login, sees_pay in (("accountant", True), ("ln_second", True), ("head_accountant", False), ("sales", False)):
        client = signed_in(app, login)
        listed = api.get("/tasks?scope=queue", as_=login).get_json()["items"]
        assert inbox_tasks(client, "queue") == {task["id"] for task in listed}  # the same tasks as the API's queue
        assert (pay["id"] in inbox_tasks(client, "queue")) is sees_pay
    assert len(inbox_tasks(signed_in(app, "sales"), "queue")) >= 3

    seen = statements_of(app, signed_in(app, "sales"), "/inbox?tab=queue")
    statement, parameters = next(s for s in seen if "count(*) OVER ()" in s[0]  # the queue's page with its count
                                 and "assignee_id IS NULL" in s[0])
    assert not any(s[0].startswith("SELECT count(*)") and "assignee_id IS NULL" in s[0] for s in seen)  # only once
    plan = plan_of(app, statement, parameters)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):  # the lane's entries, not every free open task
        assert re.search(r"SEARCH \w+ USING (COVERING )?INDEX ix_human_tasks_open_\w+ \(state=\? AND lane=\?",
                         plan), plan
    else:  # a handful of rows, costed as such: at least the lane's condition stands apart from the candidacies
        # (an OR of the two kept PostgreSQL off the (state, lane) index at 100,000 orders)
        assert "lane)::text = 'sales'::text" in plan and " OR " not in plan, plan


def test_the_stage_filter_offers_the_open_tasks_stages_read_by_a_few_index_seeks(ui):
    app, api = ui
    numbers = [api.create_order() for _ in range(4)]
    api.walk(numbers[0], ["new_order"])
    api.walk(numbers[1], ["new_order", "plan_measurement", "measurement"])  # open tasks of three lanes and stages
    analyzed(app)
    with app.app_context():
        expected = sorted(db.session.execute(select(HumanTask.stage).where(HumanTask.state == "open")
                                             .distinct()).scalars())
    client = signed_in(app, "sales")
    page = client.get("/inbox?tab=queue").get_data(as_text=True)
    offered = re.search(r'<select name="stage".*?</select>', page, re.S).group(0)
    assert re.findall(r"<option >([^<]+)</option>", offered) == expected and len(expected) >= 3

    statement, parameters = next(s for s in statements_of(app, client, "/inbox?tab=queue") if "stage" in s[0]
                                 and "human_tasks.state = " in s[0] and "count(" not in s[0] and "LIMIT" not in s[0])
    plan = plan_of(app, statement, parameters)
    # seeks from one lane to the next and from one stage to the next within a lane, not a read of every open task
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        assert re.search(r"INDEX ix_human_tasks_open_\w+ \(state=\? AND lane>\?\)", plan), plan
        assert re.search(r"INDEX ix_human_tasks_open_board \(state=\? AND lane=\? AND stage>\?\)", plan), plan
    else:
        assert "Recursive Union" in plan and "(lane = " in plan, plan
        assert not re.search(r"Index Cond: \(\(?state\)?(::text)? = 'open'::text\)$", plan, re.M), plan


@pytest.mark.parametrize("login, path", [("sales", "/inbox?tab=queue"), ("director", "/boards/production"),
                                         ("director", "/boards/sales")])
def test_lists_of_tasks_are_sorted_and_cut_on_the_tasks_before_their_orders_are_joined(ui, login, path):
    """A thousand queued or late tasks: the page's 50 are picked from the tasks (and an order's flag) alone, then
    only their rows read with their order, customer and partner — one query for the board's three lists."""
    app, api = ui
    numbers = [api.create_order() for _ in range(4)]
    api.walk(numbers[0], ["new_order", "plan_measurement", "measurement", "prepare_contract", "payment"])
    client = signed_in(app, login)
    seen = [s for s, _ in statements_of(app, client, path)]
    cuts = [s for s in seen if "FROM human_tasks" in s and "LIMIT" in s]
    assert cuts and all("customers" not in s and "partners" not in s for s in cuts), "\n\n".join(cuts)
    # the inbox shows the customer; a board only the order (no customer, partner or their commissions read)
    loads = [s for s in seen if "FROM human_tasks" in s and ("customers" in s if path.startswith("/inbox") else
                                                             "JOIN orders" in s and "count(" not in s)]
    assert len(loads) == 1 and "human_tasks.id IN" in loads[0], "\n\n".join(loads)
    assert not any("partner_commissions" in s for s in seen if path.startswith("/boards")), seen
    late = [s for s in seen if "sla_level IS NOT NULL" in s]  # the board's late tasks: counted and cut at once
    assert len(late) == (1 if path.startswith("/boards") else 0)
    assert all("count(*) OVER ()" in s and "LIMIT" in s for s in late), late
    assert not any("JOIN orders" in s for s in late), late  # at-risk orders by their index, no join per task
    # the orders still waiting for components read once from their kept counts (for the groups' counts and lists
    # and the orders they hold up), the shown components loaded, the arrived ones listed (counted from each order's
    # kept count); no component read to be counted, no open workshop task's components counted one by one
    waiting = [s for s in seen if "FROM order_component_counts" in s and "needed" in s]
    assert len(waiting) == (1 if path == "/boards/production" else 0), waiting
    components = [s for s in seen if "FROM components" in s]
    assert len(components) == (2 if path == "/boards/production" else 0), components
    assert not any("human_tasks" in s for s in components), components


def test_the_orders_stage_filter_offers_every_stage_read_by_one_seek_each(ui):
    app, api = ui
    numbers = [api.create_order() for _ in range(4)]
    api.walk(numbers[0], ["new_order"])
    api.walk(numbers[1], ["new_order", "plan_measurement", "measurement"])
    analyzed(app)
    with app.app_context():
        expected = sorted(set(db.session.execute(select(Order.stage).distinct()).scalars()) - {""})
    client = signed_in(app, "director")
    page = client.get("/orders").get_data(as_text=True)
    offered = re.search(r'<select name="stage">.*?</select>', page, re.S).group(0)
    assert re.findall(r"<option >([^<]+)</option>", offered) == expected and len(expected) >= 3

    statement, parameters = next(s for s in statements_of(app, client, "/orders")  # the filter's choices
                                 if s[0].startswith(("WITH RECURSIVE", "SELECT DISTINCT orders.stage")))
    plan = plan_of(app, statement, parameters)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):  # from one stage to the next, not every order
        assert re.search(r"SEARCH \w+ USING COVERING INDEX ix_orders_stage \(stage>\?\)", plan), plan
    else:
        assert "Recursive Union" in plan, plan


def test_the_active_orders_by_promised_date_come_in_the_lists_order_from_their_index(ui):
    """The planning view — active orders by the promised date, the earliest first, one date's orders newest first,
    those with no date last on both databases — reads its page from the (status, promised date) index; no list page
    reads the partners' commission overrides (an order's partner is shown, its percentages are not)."""
    app, api = ui
    numbers = [api.create_order("kitchen", partner="mega") for _ in range(7)]
    days = [date(2027, 3, 1), date(2027, 1, 15), date(2027, 3, 1), date(2026, 12, 20), date(2027, 2, 1),
            date(2026, 12, 1), None]  # the last has no promised date yet: after the dated ones either way
    with app.app_context(), unit_of_work():
        orders = {o.number: o for o in db.session.execute(select(Order).where(Order.number.in_(numbers))).scalars()}
        for number, day in zip(numbers, days, strict=True):
            orders[number].promised_date = day
        orders[numbers[5]].status = "cancelled"  # the earliest date, but not active: not listed
        mega = db.session.execute(select(Partner).where(Partner.code == "mega")).scalar_one()
        db.session.add(PartnerCommission(partner_id=mega.id, kind="kitchen", pct=Decimal("12.5")))
        ids = {number: orders[number].id for number in numbers}
    analyzed(app)
    client = signed_in(app, "director")
    page = client.get("/orders?status=active&sort=promised").get_data(as_text=True)
    listed = [n for n in re.findall(r'name="orders" value="([^"]+)"', page) if n in numbers]
    expected = sorted(numbers[:5], key=lambda n: (days[numbers.index(n)], -ids[n]))
    assert listed == [*expected, numbers[6]] and listed[0] == numbers[3] and listed[-3:-1] == [numbers[2], numbers[0]]
    latest_first = client.get("/orders?status=active&sort=-promised").get_data(as_text=True)
    assert [n for n in re.findall(r'name="orders" value="([^"]+)"', latest_first) if n in numbers] == [
        numbers[2], numbers[0], numbers[4], numbers[1], numbers[3], numbers[6]]

    seen = statements_of(app, client, "/orders?status=active&sort=promised")
    statement, parameters = next(s for s in seen if s[0].startswith("SELECT orders.id") and "LIMIT" in s[0])
    plan = plan_of(app, statement, parameters)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):  # the status's entries in date order
        assert re.search(r"SEARCH orders USING COVERING INDEX ix_orders_status_promised \(status=\?\)", plan), plan
    else:
        assert "ix_orders_status_promised" in plan, plan
    for path in ("/orders", "/orders?q=Иванова", "/orders?status=active&sort=-promised"):
        assert not any("partner_commissions" in s for s, _ in statements_of(app, client, path)), path
    assert not any("partner_commissions" in s for s, _ in statements_of(app, signed_in(app, "sales"),
                                                                         "/inbox?tab=queue"))
    assert "12,5" in signed_in(app, "admin").get("/admin/partners").get_data(as_text=True)  # where they are shown
