"""Department boards: the figures against a small history with known dates, who may open which board, the nav link."""
from __future__ import annotations

import re
import threading
import time
from html import unescape

import pytest
from flask import url_for
from sqlalchemy import delete, event, insert, select, text, update

from app.extensions import db
from app.models import Component, Department, HumanTask, Order, User
from app.models.component_counts import OrderComponentCount
from app.services import boards
from app.web import link_maker
from tests.support.api import Api
from tests.support.boards import at, msk, sales_history, workshop_order
from tests.support.sql import statements
from tests.support.web import signed_in


@pytest.fixture
def ui(make_app):
    app = make_app(WTF_CSRF_ENABLED=False)
    return app, Api(app, app.test_client())


def figures(app, code: str, *moment, statements: list | None = None) -> boards.Board:
    """The board's figures at a moment (`statements` collects the SQL they took)."""
    with app.test_request_context():
        dept = db.session.execute(select(Department).where(Department.code == code)).scalar_one()

        def record(conn, cursor, statement, *args):
            if statements is not None:
                statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", record)
        try:
            return boards.board(dept, msk(*moment))
        finally:
            event.remove(db.engine, "before_cursor_execute", record)


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)).replace("\xa0", " "))


def test_the_sales_board_counts_work_lateness_and_compliance_on_a_known_history(ui, clock):
    app, api = ui
    orders = sales_history(app, api, clock)
    statements: list[str] = []
    board = figures(app, "sales", 2026, 12, 9, 10, 0, 30, statements=statements)
    # A fixed number of aggregates and bounded lists: nothing per person, task or order (no lazy loads).
    assert len(statements) <= 12, "\n".join(s[:90] for s in statements)

    queue, *people = board.workload
    assert (queue.person, queue.open, queue.overdue) == (None, 1, 0)  # h: nobody took it
    held = {row.person.login: (row.open, row.overdue) for row in people}
    assert held == {"sales": (1, 1), "head_sales": (1, 0)}  # d is overdue; i is not due yet
    assert people[0].person.login == "sales"  # the busiest (by open, then overdue) first
    assert board.open_total == 3 and board.overdue_total == 1
    assert board.stages == [("Новый заказ", 3)]

    late = [(row.task.order.number, row.overdue, row.at_risk, round(row.late_hours, 1)) for row in board.late]
    # d: due Mon 14:01 → Mon 3:59 + Tue 9 + Wed 1:00:30 working hours late; i: an hour left after its warning;
    # h: two hours left, but its prediction passes the promised date.
    assert late == [(orders["d"], True, False, 14.0), (orders["i"], False, False, -1.0),
                    (orders["h"], False, True, -2.0)]
    assert board.late_total == 3 and board.late[1].task.sla_level == "warning"

    # This week (from Monday 7 December): c on time, f late. This month: a, g, c on time; b, f late.
    assert (board.week.on_time, board.week.total, board.week.percent) == (1, 2, 50.0)
    assert (board.month.on_time, board.month.total, board.month.percent) == (3, 5, 60.0)
    assert board.week.since == msk(2026, 12, 7) and board.month.since == msk(2026, 12, 1)

    assert [task.order.number for task in board.oldest] == [orders["d"], orders["i"], orders["h"]]
    assert not board.workshop and board.held == []

    page = text_of(signed_in(app, "head_sales").get("/boards/sales").get_data(as_text=True))
    assert "Доска отдела: Отдел продаж" in page
    assert "В срок · эта неделя 50 % 1 из 2 задач с 7 дек. 2026 г." in page
    assert "В срок · этот месяц 60 % 3 из 5 задач с 1 дек. 2026 г." in page
    assert re.search(rf"{orders['d']} .*? Новый заказ Анна Продажина .*? \+14 раб. ч Просрочено", page)
    assert re.search(rf"{orders['h']} .*? Новый заказ в очереди .*? осталось 2 раб. ч .*?"
                     r"Под угрозой прогноз 24 дек\. 2026 г\., обещано 20 дек\. 2026 г\.", page)
    assert "Комплектующие" not in page


def test_the_production_board_shows_components_by_state_and_the_orders_they_hold(ui, clock):
    app, api = ui
    at_procurement = workshop_order(api, clock, (2026, 12, 7, 10))  # waiting for all three since Monday
    ordered = workshop_order(api, clock, (2026, 12, 8, 10), ordered=True)  # at production since Tuesday
    ready = workshop_order(api, clock, (2026, 12, 8, 11), received=True)  # at production, nothing missing
    at(clock, 2026, 12, 8, 13)
    gone = api.create_order()
    api.walk(gone, ["new_order", "plan_measurement", "measurement"])
    api.step(gone, "prepare_contract", {"contract_outcome": "to_design"})
    api.step(gone, "design")  # three components needed, then the customer cancels: not counted any more
    assert api.post(f"/orders/{gone}/cancel", {"reason": "Передумал"}, as_="sales").status_code == 200

    at(clock, 2026, 12, 9, 10)  # Wednesday
    board = figures(app, "production", 2026, 12, 9, 10)
    assert board.workshop
    assert board.components == {"missing": 3, "ordered": 3, "arrived": 3}  # the cancelled order's are left out
    assert {number for _c, number in board.component_lists["missing"]} == {at_procurement}
    assert [(c.name, float(c.quantity), c.unit, c.supplier, number) for c, number
            in board.component_lists["ordered"]][0] == ("Петли Blum", 2.0, "шт", "ООО «Фурнитура»", ordered)
    assert {number for _c, number in board.component_lists["arrived"]} == {ready}

    held = [(row.task.order.number, row.task.stage, row.waiting, round(row.waited.total_seconds() / 86400, 1))
            for row in board.held]
    assert held == [(at_procurement, "Комплектация", 3, 2.0), (ordered, "Производство", 3, 1.0)]
    assert board.held_total == 2  # not `ready` (all arrived), not `gone` (cancelled)
    queue, *people = board.workload
    assert (queue.open, {row.person.login: row.open for row in people}) == (2, {"production": 0,
                                                                               "head_production": 0})

    page = text_of(signed_in(app, "director").get("/boards/production").get_data(as_text=True))
    assert "Не заказаны: 3" in page and "Заказаны, ждём: 3" in page and "Поступили: 3" in page
    assert re.search(rf"{at_procurement} .*? Комплектация в очереди 3 поз\. .*? 2 дн\.", page)
    assert re.search(rf"{ordered} .*? Производство в очереди 3 поз\. .*? 1 дн\.", page)
    assert f"{ordered} Петли Blum 2 шт ООО «Фурнитура» заказано" in page


def test_who_may_open_which_board(ui):
    app, _api = ui
    head_sales = signed_in(app, "head_sales")
    refused = head_sales.get("/boards/production")
    assert refused.status_code == 403
    assert "Доску отдела видят его руководитель, директор и администратор" in refused.get_data(as_text=True)
    assert head_sales.get("/boards/sales").status_code == 200
    assert head_sales.get("/boards/").location.endswith("/boards/sales")  # one board: straight to it
    measurer = signed_in(app, "measurer")
    assert measurer.get("/boards/measurer").status_code == 403  # a member, not the head
    assert "Вы не руководите ни одним отделом" in measurer.get("/boards/").get_data(as_text=True)
    director = signed_in(app, "director")
    assert director.get("/boards/production").status_code == 200
    listing = director.get("/boards/").get_data(as_text=True)
    assert all(f'href="/boards/{code}"' in listing for code in ("sales", "production", "procurement", "quality"))
    missing = director.get("/boards/warehouse")
    assert missing.status_code == 404 and "Отдел «warehouse» не найден" in missing.get_data(as_text=True)
    assert signed_in(app, "partner_mega").get("/boards/sales").status_code == 403


def test_the_nav_links_heads_to_their_board_and_management_to_all_of_them(ui):
    app, _api = ui
    nav = re.compile(r'<a href="([^"]+)"[^>]*>(Доск[аи] отдел[аов]+)</a>')
    assert nav.findall(signed_in(app, "head_production").get("/inbox").get_data(as_text=True)) == [
        ("/boards/production", "Доска отдела")]
    assert nav.findall(signed_in(app, "admin").get("/inbox").get_data(as_text=True)) == [
        ("/boards/", "Доски отделов")]
    assert nav.findall(signed_in(app, "production").get("/inbox").get_data(as_text=True)) == []


def test_a_head_s_page_reads_which_departments_they_head_once(ui):
    """The menu's board link, the inbox's scope and its head's controls all ask which departments the person heads:
    one query a page answers them all — and a head of two departments is led to the list of boards."""
    app, api = ui
    api.create_order()
    client = signed_in(app, "head_sales")
    for path in ("/inbox?tab=queue", "/inbox?tab=team", "/orders"):
        with statements(app) as seen:
            assert client.get(path).status_code == 200
        assert sum("FROM departments" in statement for statement in seen) == 1, (path, seen)
    with app.app_context():
        db.session.execute(update(Department).where(Department.code == "production").values(
            head_id=select(User.id).where(User.login == "head_sales").scalar_subquery()))
        db.session.commit()
    nav = re.compile(r'<a href="([^"]+)"[^>]*>(Доск[аи] отдел[аов]+)</a>')
    assert nav.findall(client.get("/inbox").get_data(as_text=True)) == [("/boards/", "Доски отделов")]


def test_the_figures_fragment_refreshes_itself(ui):
    app, _api = ui
    client = signed_in(app, "head_sales")
    page = client.get("/boards/sales").get_data(as_text=True)
    assert 'id="board" hx-get="/boards/sales" hx-trigger="every 120s"' in page
    fragment = client.get("/boards/sales", headers={"HX-Request": "true", "HX-Target": "board"})
    body = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and body.lstrip().startswith('<div id="board"') and "<html" not in body


def counted_by_join(app, limit: int = 2) -> tuple[dict[str, int], dict[int, int], dict[str, list[int]]]:
    """The active orders' components counted from the components themselves: per board group, per order still
    waiting (needed or ordered), and each waiting group's first `limit` ids (the oldest orders first, by position)."""
    with app.app_context():
        rows = db.session.execute(select(Component.id, Component.status, Component.order_id)
                                  .join(Order, Component.order_id == Order.id).where(Order.status == "active")
                                  .order_by(Order.created_at, Order.id, Component.position, Component.id)).all()
    groups = {group: [row.id for row in rows if row.status in statuses]
              for group, statuses in boards.COMPONENT_GROUPS.items()}
    waiting: dict[int, int] = {}
    for row in rows:
        if row.status in boards.NOT_ARRIVED:
            waiting[row.order_id] = waiting.get(row.order_id, 0) + 1
    return ({group: len(ids) for group, ids in groups.items()}, waiting,
            {group: groups[group][:limit] for group in ("missing", "ordered")})


def test_the_component_counts_follow_every_way_components_and_orders_change(ui, clock):
    """The board adds up and lists each order's arrived, needed and ordered components, kept beside the order by the
    database: it must say what counting the components says after steps, edits, Core inserts and updates, a
    finished, reopened and deleted order."""
    app, api = ui
    received = workshop_order(api, clock, (2026, 12, 8, 10), received=True)  # three received by a step
    ordered = workshop_order(api, clock, (2026, 12, 8, 11), ordered=True)
    needed = workshop_order(api, clock, (2026, 12, 8, 12))  # three needed, at procurement
    at(clock, 2026, 12, 9, 10)

    def check(missing: int, on_order: int, arrived: int) -> None:
        with app.test_request_context():
            waiting = boards.Waiting.read()
            kept = {**waiting.counts(), "arrived": boards.arrived_count()}
            firsts = {group: [component.id for component, _number in rows]
                      for group, rows in waiting.lists(limit=2).items()}
            assert (kept, waiting.per_order(), firsts) == counted_by_join(app)
        assert kept == {"missing": missing, "ordered": on_order, "arrived": arrived}

    check(3, 3, 3)
    api.step(ordered, "production", components=[  # the step's components replace the order's
        {"name": "Петли Blum", "quantity": 2, "status": "in_workshop"},
        {"name": "Ручки", "quantity": 1, "status": "received"},
        {"name": "Направляющие", "quantity": 1, "status": "received"}])
    check(3, 0, 6)
    with app.app_context():  # Core, as the bench and imports write: an insert, statuses changed, a row moved
        order_id = {number: db.session.execute(select(Order.id).where(Order.number == number)).scalar_one()
                    for number in (received, ordered, needed)}
        db.session.execute(insert(Component), [{"order_id": order_id[received], "position": 9, "name": "Фасад",
                                                "status": "in_workshop"},
                                               {"order_id": order_id[received], "position": 10, "name": "Стекло",
                                                "status": "needed"},
                                               {"order_id": order_id[received], "position": -1, "name": "Цоколь",
                                                "status": "ordered"}])
        db.session.commit()
    check(4, 1, 7)  # the oldest order's ordered «Цоколь» comes first in its group
    with app.app_context():
        db.session.execute(update(Component).where(Component.name == "Стекло").values(status="received"))
        db.session.execute(update(Component).where(Component.name == "Направляющие",
                                                   Component.order_id == order_id[ordered]).values(status="ordered"))
        db.session.execute(update(Component).where(Component.name == "Фасад").values(order_id=order_id[ordered]))
        db.session.execute(update(Component).where(Component.name == "Цоколь").values(order_id=order_id[needed],
                                                                                      status="needed"))
        db.session.commit()
    check(4, 1, 7)
    with app.app_context():
        db.session.execute(delete(Component).where(Component.name == "Ручки", Component.order_id == order_id[ordered]))
        db.session.execute(delete(Component).where(Component.name == "Цоколь"))
        db.session.commit()
    check(3, 1, 6)
    with app.app_context():  # the order finished, as its process's end writes it
        db.session.get(Order, order_id[received]).status = "completed"
        db.session.commit()
    check(3, 1, 2)  # the finished order's four are left out
    with app.app_context():
        db.session.execute(update(Order).where(Order.id == order_id[received]).values(status="active"))
        db.session.commit()
    check(3, 1, 6)
    extra = api.create_order()
    with app.app_context():
        extra_id = db.session.execute(select(Order.id).where(Order.number == extra)).scalar_one()
        db.session.execute(insert(Component), [{"order_id": extra_id, "name": "Фасад", "status": "received"},
                                               {"order_id": extra_id, "name": "Ящик", "status": "needed"}])
        db.session.commit()
    check(4, 1, 7)
    with app.app_context():  # a deleted order takes its components and its counts with it
        db.session.delete(db.session.get(Order, extra_id))
        db.session.commit()
    check(3, 1, 6)


@pytest.mark.parametrize("endpoint, key, values", [
    ("orders.card", "number", ["2026-00042", "B00012345", "с пробелом и/косой", "100%?&#", "ё"]),
    ("tasks.show", "task_id", [1, 42, 10**9]),
    ("orders.index", "stage", ["Производство", "a b"]),  # no rule of its own: url_for each time (a query string)
])
def test_a_pages_links_read_as_url_for_writes_them(ui, endpoint, key, values):
    """The board's rows link through link_maker, which builds the address once: each must read as url_for's."""
    app, _api = ui
    with app.test_request_context():
        made = link_maker(endpoint, key)
        assert [made(value) for value in values] == [url_for(endpoint, **{key: value}) for value in values]


def test_compliance_and_the_late_count_read_in_one_statement_each_agree_with_a_recount_of_the_rows(ui, clock):
    app, api = ui
    sales_history(app, api, clock)
    with app.test_request_context():
        first = db.session.execute(select(HumanTask.id).where(HumanTask.lane == "sales", HumanTask.state == "completed")
                                   .order_by(HumanTask.id).limit(1)).scalar_one()
        db.session.execute(update(HumanTask).where(HumanTask.id == first).values(  # on Monday 30 November, on time
            completed_at=msk(2026, 11, 30, 12), due_at=msk(2026, 11, 30, 15)))
        db.session.commit()
        rows = db.session.execute(select(HumanTask).where(HumanTask.lane == "sales")).scalars().all()
        at_risk = {t.id: t.order.at_risk for t in rows}
        # Tuesday 1 December: the week began in November, before the month; Wednesday 9th: after it; the 31st
        for moment in ((2026, 12, 1, 12), (2026, 12, 9, 10, 0, 30), (2026, 12, 31, 17)):
            board = figures(app, "sales", *moment)
            now = msk(*moment)
            for figure, since in ((board.week, boards.week_start(now)), (board.month, boards.month_start(now))):
                counted = [t for t in rows if t.state == "completed" and t.due_at is not None
                           and since <= t.completed_at <= now]
                assert figure.since == since
                assert (figure.total, figure.on_time) == (len(counted),
                                                          sum(t.completed_at <= t.due_at for t in counted))
            late = sorted((t for t in rows if t.state == "open" and (t.due_at is not None and t.due_at < now
                                                                       or t.sla_level is not None or at_risk[t.id])),
                          key=lambda t: (t.due_at is None, t.due_at, t.id))
            assert board.late_total == len(late) and [row.task.id for row in board.late] == [t.id for t in late]
            if moment[2] == 1:  # the task of 30 November counts this week, not this month
                assert (board.week.total, board.week.on_time, board.month.total) == (1, 1, 0)
        assert board.month.total == 4 and board.late_total >= 2  # the other four, in December
        ids, total = boards.late_tasks("sales", now, limit=1)  # a list cut short still counts them all
        assert (ids, total) == ([late[0].id], len(late))
        assert boards.late_tasks("no such lane", now) == ([], 0)
        assert [(c.total, c.on_time) for c in boards.compliance("no such lane", (msk(2026, 12, 1),), now)] == [(0, 0)]


def _waiting_on_a_lock(engine) -> bool:
    with engine.connect() as probe:  # a transaction of its own: pg_stat_activity is read once per transaction
        return bool(probe.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                       "AND wait_event_type = 'Lock'")).scalar_one())


def _race(app, first: str, second: str, params: dict) -> None:
    """`first` written and held open while `second` is written by another connection; then first commits. On
    PostgreSQL the second goes as far as it can meanwhile (its statement done or waiting on a lock, seen in
    pg_stat_activity); on SQLite one writer at a time is the design: the second writes after the first's commit."""
    with app.app_context():
        engine = db.engine
    postgres = engine.dialect.name == "postgresql"
    errors: list[BaseException] = []

    def write_second() -> None:
        try:
            with engine.begin() as conn:
                conn.execute(text(second), params)
        except BaseException as exc:  # noqa: BLE001 — handed to the test's thread
            errors.append(exc)

    with engine.connect() as conn:
        conn.begin()
        conn.execute(text(first), params)
        other = threading.Thread(target=write_second)
        if postgres:
            other.start()
            deadline = time.monotonic() + 10
            while other.is_alive() and time.monotonic() < deadline and not _waiting_on_a_lock(engine):
                time.sleep(0.02)
        conn.commit()
    if not postgres:
        other.start()
    other.join(30)
    assert not other.is_alive() and not errors, errors


@pytest.mark.parametrize("first, second", [("insert", "cancel"), ("cancel", "insert"), ("insert", "insert")])
def test_the_component_counts_stay_right_when_two_writers_change_one_order_at_once(ui, clock, first, second):
    """Two transactions at once: a component added to an order as another cancels it (either first), or as another
    adds and moves components of the same order. The counts beside the order must say what counting its
    components says once both have committed: a waiting order cancelled meanwhile must not stay on the board."""
    app, api = ui
    number = workshop_order(api, clock, (2026, 12, 8, 10))  # three needed
    fresh = api.create_order()  # none yet: the first component makes its row
    writes = {
        "insert": "INSERT INTO components (order_id, position, name, quantity, unit, status) "
                  "VALUES (:order_id, 7, 'Фасад', 1, 'шт', 'needed')",
        "cancel": "UPDATE orders SET status = 'cancelled' WHERE id = :order_id",
    }
    with app.app_context():
        ids = [db.session.execute(select(Order.id).where(Order.number == n)).scalar_one() for n in (number, fresh)]
    for order_id in ids:
        second_write = writes[second] if first != second else (
            "UPDATE components SET status = 'ordered' WHERE order_id = :order_id AND status = 'needed'")
        _race(app, writes[first], second_write, {"order_id": order_id})
        with app.test_request_context():
            waiting = boards.Waiting.read()
            kept = ({**waiting.counts(), "arrived": boards.arrived_count()}, waiting.per_order())
            active = db.session.execute(select(OrderComponentCount.order_id, OrderComponentCount.active)
                                        .where(OrderComponentCount.order_id.in_(ids))).all()
            statuses = dict(db.session.execute(select(Order.id, Order.status).where(Order.id.in_(ids))).all())
        assert kept == counted_by_join(app)[:2]
        assert all(flag == (statuses[order_id] == "active") for order_id, flag in active), (active, statuses)
