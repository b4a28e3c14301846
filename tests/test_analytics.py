"""Analytics against a small history with known moments: counts by kind and partner, on-time share, medians and the
90th percentile of working hours, revenue and payments, loops and cancellations; who may look; bad filters."""
from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from html import unescape
from io import BytesIO

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.extensions import db
from app.models import Order, Payment
from app.services import analytics
from app.usecases.uow import unit_of_work
from tests.support.api import Api
from tests.support.boards import at
from tests.support.web import CSRF, signed_in

DECEMBER = {"from": "2026-12-01", "to": "2026-12-31"}
NEW_ORDER = "Новый заказ"


@pytest.fixture
def ui(make_app):
    app = make_app(WTF_CSRF_ENABLED=False)
    return app, Api(app, app.test_client())


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)).replace("\xa0", " "))


def history(app, api, clock) -> dict[str, str]:
    """December 2026 in Moscow (working hours 09:00–18:00; the new-order SLA is 4 working hours):
    a — wardrobe, confirmed in 1 h; b — kitchen from the partner «mega», confirmed after 9 working hours (late);
    c — wardrobe, confirmed in 3 h, then cancelled «Дорого»; d — wardrobe, confirmed in 1.5 h, sent back to
    design once and walked to the end (price 120 000, prepayment 40 000); e — created in November (outside)."""
    orders = {}
    at(clock, 2026, 11, 30, 10)
    orders["e"] = api.create_order("wardrobe")
    at(clock, 2026, 12, 3, 10)  # Thursday
    orders["a"] = api.create_order("wardrobe")
    orders["b"] = api.create_order("kitchen", partner="mega")
    at(clock, 2026, 12, 3, 11)
    api.step(orders["a"], "new_order")
    at(clock, 2026, 12, 3, 12)
    orders["c"] = api.create_order("wardrobe")
    at(clock, 2026, 12, 3, 15)
    api.step(orders["c"], "new_order")
    at(clock, 2026, 12, 4, 10)  # Friday: Thursday 10–18 and Friday 9–10
    api.step(orders["b"], "new_order")
    at(clock, 2026, 12, 4, 11)
    sales = signed_in(app, "sales")
    token = CSRF.search(sales.get(f"/orders/{orders['c']}").data)  # the live server of the browser test checks it
    response = sales.post(f"/orders/{orders['c']}/cancel",
                          data={"reason": "Дорого", **({"csrf_token": token.group(1).decode()} if token else {})})
    assert response.status_code == 302
    at(clock, 2026, 12, 7, 10)  # Monday
    orders["d"] = api.create_order("wardrobe")
    at(clock, 2026, 12, 7, 11, 30)
    variant = {"price": 120000.0, "prepayment": 40000.0}
    api.walk(orders["d"], ["new_order", "plan_measurement", "measurement"], variant)
    api.step(orders["d"], "prepare_contract", {"contract_outcome": "to_design"})
    api.walk(orders["d"], ["design", "prepare_contract", "payment", "procurement", "production", "plan_delivery",
                           "installation"], variant)
    assert api.order(orders["d"])["status"] == "completed"
    with app.app_context(), unit_of_work():
        order = db.session.execute(select(Order).where(Order.number == orders["a"])).scalar_one()
        db.session.add(Payment(order_id=order.id, number="П-1", paid_on=date(2026, 12, 4), amount=Decimal("5000")))
    return orders


def test_the_figures_match_a_hand_computed_history(ui, clock):
    app, api = ui
    orders = history(app, api, clock)
    with app.test_request_context():
        filters = analytics.parse_filters(DECEMBER)
        by_kind = {row.key: (row.created, row.completed, row.cancelled) for row in analytics.orders_by(filters, "kind")}
        assert by_kind == {"wardrobe": (3, 1, 1), "kitchen": (1, 0, 0)}  # e (November) is outside
        by_partner = {row.key: row.created for row in analytics.orders_by(filters, "partner")}
        assert by_partner == {"": 3, "mega": 1}

        new_order = {row.stage: row for row in analytics.on_time(filters)}[NEW_ORDER]
        assert (new_order.on_time, new_order.total, new_order.percent) == (3, 4, 75.0)  # b was late

        [(month, december)] = analytics.on_time_by_month(filters)  # every task was completed in December
        assert (month, december.on_time, december.total) == (date(2026, 12, 1), 13, 14)  # all but b's confirmation

        timing = {(row.kind, row.stage): row for row in analytics.time_in_stage(filters)}
        wardrobe = timing[("wardrobe", NEW_ORDER)]  # 1, 1.5 and 3 working hours
        assert wardrobe.count == 3
        assert wardrobe.median_hours == pytest.approx(1.5, abs=0.02)
        assert wardrobe.p90_hours == pytest.approx(2.7, abs=0.02)  # 1.5 + 0.8 × (3 − 1.5)
        assert timing[("kitchen", NEW_ORDER)].median_hours == pytest.approx(9, abs=0.02)

        money = {row.month: (row.revenue, row.completed, row.payments, row.paid)
                 for row in analytics.money_by_month(filters)}
        assert money == {date(2026, 12, 1): (Decimal("120000"), 1, Decimal("45000"), 2)}  # d's 40 000 + a's 5 000

        flow = analytics.flow(filters)
        assert flow.loops == {"prepare_contract": 1}  # d came back to the contract after design
        assert flow.transitions[("prepare_contract", "design")] == 1
        assert flow.transitions[("new_order", "plan_measurement")] == 4  # every December order was confirmed
        assert flow.cancelled == [("Планирование выезда на замер", 1, [("Дорого", 1)])]  # c: where it stopped, why

    page = signed_in(app, "director").get("/analytics/?" + "&".join(f"{k}={v}" for k, v in DECEMBER.items()))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    text = text_of(html)
    assert "Встроенный шкаф 3 1 1" in text and "Кухонный гарнитур 1 0 0" in text
    assert "Новый заказ 3 4 75 %" in text and "12.2026 13 14 92,9 %" in text
    assert re.search(r"«[^»]+»: вернулись 1 раз", text)
    assert "Планирование выезда на замер 1 Дорого (1)" in text
    # every count is a link to its orders: the wardrobes cancelled in December
    link = re.search(r'href="(/orders\?[^"]*status=cancelled[^"]*)"', html)
    assert link and "kind=wardrobe" in unescape(link.group(1))
    listed = signed_in(app, "director").get(unescape(link.group(1))).get_data(as_text=True)
    assert orders["c"] in listed and orders["a"] not in listed and orders["e"] not in listed


def test_the_director_lands_on_analytics_a_next_wins_others_go_to_their_inbox(ui):
    app, _api = ui
    from tests.support.web import sign_in

    assert sign_in(app.test_client(), "director").location.endswith("/analytics/")
    response = app.test_client().post("/login?next=/orders/", data={"login": "director", "password": "demo"})
    assert response.location == "/orders/"
    assert "/analytics" not in sign_in(app.test_client(), "sales").location


def test_sales_are_refused_heads_see_their_stages_only(ui, clock):
    app, api = ui
    history(app, api, clock)
    refused = signed_in(app, "sales").get("/analytics/")
    assert refused.status_code == 403 and "Аналитику видят" in refused.get_data(as_text=True)
    assert "/analytics/" not in signed_in(app, "sales").get("/").get_data(as_text=True)
    head = signed_in(app, "head_sales").get("/analytics/?from=2026-12-01&to=2026-12-31")
    assert head.status_code == 200
    text = text_of(head.get_data(as_text=True))
    assert "Этапы — только вашего отдела." in text and "Новый заказ 3 4 75 %" in text
    on_time = text.split("В срок по этапам")[1].split("Время на этапе")[0]
    assert "Подготовка договора 2 2 100 %" in on_time and "Замер" not in on_time  # the measurers' stage is not theirs


@pytest.mark.parametrize("query, field_message", [
    ("from=2026-13-01", "Начало периода: дата в формате ГГГГ-ММ-ДД"),
    ("to=вчера", "Конец периода: дата в формате ГГГГ-ММ-ДД"),
    ("from=2026-12-31&to=2026-12-01", "Период: начало позже конца"),
    ("kind=yacht", "Вид заказа: такого вида нет"),
    ("channel=pigeon", "Канал: такого канала нет"),
    ("partner=nobody", "Партнёр: такого партнёра нет"),
])
def test_a_malformed_filter_is_named_inline_and_what_was_typed_stays(ui, query, field_message):
    app, _api = ui
    for path in ("/analytics/", "/analytics/heatmap"):
        response = signed_in(app, "director").get(f"{path}?{query}")
        html = response.get_data(as_text=True)
        assert response.status_code == 422 and field_message in html
        typed = query.split("&")[0].split("=")[1]
        assert f'value="{typed}"' in html


def test_the_heatmap_carries_each_tasks_median_and_the_flows(ui, clock):
    app, api = ui
    orders = history(app, api, clock)
    html = signed_in(app, "director").get("/analytics/heatmap?from=2026-12-01&to=2026-12-31&kind=wardrobe")
    assert html.status_code == 200
    page = html.get_data(as_text=True)
    data = re.search(r'<script type="application/json" id="heat-data">(.*?)</script>', page, re.S).group(1)
    import json

    heat = json.loads(data)
    assert heat["tasks"]["new_order"]["count"] == 3
    assert heat["tasks"]["new_order"]["median"] == pytest.approx(1.5, abs=0.02)
    assert ["prepare_contract", "design", 1] in heat["transitions"]
    assert 'id="heat-bpmn"' in page and "order_lifecycle" in page
    named = re.search(r'<tr data-task="prepare_contract"><th scope="row"><a href="([^"]+)"', page)
    assert named and "task=prepare_contract" in unescape(named.group(1))
    listed = signed_in(app, "director").get(unescape(named.group(1))).get_data(as_text=True)
    assert listed_numbers(listed) == {orders["d"]}  # the one wardrobe that got as far as the contract


def listed_numbers(html: str) -> set[str]:
    return set(re.findall(r'<a href="/orders/([^"/]+)"><strong>', html))


def test_each_per_stage_figure_links_to_exactly_the_orders_it_counts(ui, clock):
    app, api = ui
    orders = history(app, api, clock)
    director = signed_in(app, "director")
    html = director.get("/analytics/?from=2026-12-01&to=2026-12-31").get_data(as_text=True)

    def link_in(row_pattern: str) -> tuple[str, int]:
        row = re.search(row_pattern, html, re.S)
        assert row, row_pattern
        found = re.search(r'<a href="(/orders\?[^"]+)">(\d+)</a>', row.group(row.lastindex or 0))
        assert found, row.group(0)
        return unescape(found.group(1)), int(found.group(2))

    late, late_count = link_in(r'<tr data-stage="Новый заказ">.*?</tr>')  # b's confirmation took 9 working hours
    assert "task_late=1" in late and late_count == 1
    assert listed_numbers(director.get(late).get_data(as_text=True)) == {orders["b"]}
    looped, loop_count = link_in(r'<li data-task="prepare_contract">.*?</li>')  # d went back to design once
    assert loop_count == 1 and listed_numbers(director.get(looped).get_data(as_text=True)) == {orders["d"]}
    step, step_count = link_in(r'<tr data-from="new_order" data-to="plan_measurement">.*?</tr>')
    assert step_count == 4
    assert listed_numbers(director.get(step).get_data(as_text=True)) == {orders[k] for k in "abcd"}
    stopped, _count = link_in(r'data-table="cancelled">.*?(<tr data-stage="Планирование выезда на замер">.*?</tr>)')
    assert listed_numbers(director.get(stopped).get_data(as_text=True)) == {orders["c"]}  # c stopped there, d passed

    # every per-stage count on the page is the number of rows its list shows, and the list's workbook holds them
    links = re.findall(r'<a href="(/orders\?[^"]*(?:task|stopped_at)[^"]*)">(\d+)</a>', html)
    assert len(links) >= 15
    for href, count in links:
        page = director.get(unescape(href)).get_data(as_text=True)
        assert len(listed_numbers(page)) == int(count), href
    from io import BytesIO

    from openpyxl import load_workbook

    workbook = director.get(unescape(step).replace("/orders?", "/orders.xlsx?"))
    sheet = load_workbook(BytesIO(workbook.data)).active
    numbers = {row[0] for row in sheet.iter_rows(min_row=2, values_only=True) if row[0]}
    assert {orders[k] for k in "abcd"} <= numbers and orders["e"] not in numbers


def test_the_list_names_the_task_filter_and_offers_to_drop_it(ui, clock):
    app, api = ui
    orders = history(app, api, clock)
    director = signed_in(app, "director")
    page = director.get("/orders?task=prepare_contract&task_loop=1&kind=wardrobe").get_data(as_text=True)
    chip = re.search(r'<span class="badge task-chip">(.*?)</span>', page, re.S)
    assert chip and "Возвращались: задача «Подготовка договора»" in text_of(chip.group(1))
    dropped = unescape(re.search(r'href="([^"]+)"', chip.group(1)).group(1))
    assert "task" not in dropped and "kind=wardrobe" in dropped
    assert listed_numbers(director.get(dropped).get_data(as_text=True)) == {orders[k] for k in "acde"}


@pytest.mark.parametrize("query, message", [
    ("task=new%20order!", "Задача: «new order!» — не идентификатор задачи процесса"),
    ("task=new_order&task_late=maybe", "Задача выполнена с опозданием: «maybe» — ожидается 1 или 0"),
    ("task_loop=often", "Возврат к задаче: «often» — ожидается 1 или 0"),
    ("task=design&task_next=дизайн", "Следующая задача: «дизайн» — не идентификатор задачи процесса"),
])
def test_a_malformed_task_filter_is_named_on_the_list(ui, query, message):
    app, api = ui
    api.create_order("wardrobe")
    response = signed_in(app, "director").get(f"/orders?{query}")
    assert response.status_code == 422 and message in text_of(response.get_data(as_text=True))
    assert signed_in(app, "director").get(f"/orders.xlsx?{query}").status_code == 422


def test_the_api_lists_orders_by_their_tasks_and_names_a_bad_task_filter(ui, clock):
    app, api = ui
    orders = history(app, api, clock)
    looped = api.get("/orders?task=prepare_contract&task_loop=true")
    assert looped.status_code == 200 and [item["number"] for item in looped.json["items"]] == [orders["d"]]
    late = api.get("/orders?task_stage=Новый заказ&task_late=1&created_from=2026-12-01")
    assert [item["number"] for item in late.json["items"]] == [orders["b"]]
    refused = api.get("/orders?task=new_order&task_late=maybe")
    assert refused.status_code == 422 and "task_late" in refused.json["fields"]


def test_the_tables_download_as_a_workbook_a_sheet_each_for_the_same_filters(ui, clock):
    app, api = ui
    history(app, api, clock)
    from io import BytesIO

    from openpyxl import load_workbook

    director = signed_in(app, "director")
    page = director.get("/analytics/?from=2026-12-01&to=2026-12-31&kind=wardrobe").get_data(as_text=True)
    href = unescape(re.search(r'id="analytics-xlsx" href="([^"]+)"', page).group(1))
    response = director.get(href)
    assert response.status_code == 200 and response.headers["Content-Disposition"].endswith(".xlsx")
    book = load_workbook(BytesIO(response.data))
    assert {"Отбор", "Заказы по видам", "В срок по этапам", "Время на этапе", "Выручка и платежи",
            "Движение между этапами", "Возвраты", "Отмены по этапам"} <= set(book.sheetnames)

    def rows(title: str) -> list[tuple]:
        return list(book[title].iter_rows(min_row=2, values_only=True))

    assert rows("Заказы по видам") == [("Встроенный шкаф", 3, 1, 1)]  # the kind filter holds: no kitchen
    assert ("Новый заказ", 3, 3, 100.0, 0) in rows("В срок по этапам")  # b, the late kitchen, is filtered out
    assert rows("Возвраты") == [("Подготовка договора", 1, 1)]
    assert rows("Отмены по этапам") == [("Планирование выезда на замер", 1, "Дорого (1)")]
    assert rows("Выручка и платежи")[0][1:] == (1, 120000, 2, 45000)  # d's prepayment and a's 5 000
    assert director.get("/analytics/tables.xlsx?kind=yacht").status_code == 422


def test_a_drill_down_shows_its_period_in_the_lists_date_fields_and_the_last_day_counts(ui, clock):
    app, api = ui
    orders = history(app, api, clock)
    director = signed_in(app, "director")
    html = director.get("/analytics/?from=2026-12-01&to=2026-12-03").get_data(as_text=True)
    href = unescape(re.search(r'<a href="(/orders\?[^"]*kind=wardrobe[^"]*)">2</a>', html).group(1))
    listed = director.get(href).get_data(as_text=True)
    assert 'name="created_from" value="2026-12-01"' in listed and 'name="created_to" value="2026-12-03"' in listed
    # a and c were created on 3 December (Moscow): «по 03.12» takes the whole company day
    assert listed_numbers(listed) == {orders["a"], orders["c"]}


def test_revenue_of_a_month_links_to_the_orders_completed_in_that_month(ui, clock):
    app, api = ui
    orders = history(app, api, clock)
    director = signed_in(app, "director")
    html = director.get("/analytics/?from=2026-11-01&to=2026-12-31").get_data(as_text=True)
    cell = re.search(r'<tr data-month="2026-12">.*?data-cell="completed"><a href="([^"]+)">1</a>', html, re.S)
    assert cell and "completed_from=2026-12-01" in unescape(cell.group(1))
    assert "completed_to=2026-12-31" in unescape(cell.group(1))
    assert listed_numbers(director.get(unescape(cell.group(1))).get_data(as_text=True)) == {orders["d"]}
    november = director.get("/orders?status=completed&completed_from=2026-11-01&completed_to=2026-11-30")
    assert listed_numbers(november.get_data(as_text=True)) == set()  # d was completed on 7 December
    assert director.get("/orders?completed_to=31.12.2026").status_code == 422


def test_customers_with_one_name_are_counted_apart_and_each_links_to_their_own_orders(ui, clock):
    """The partner's card for «Иванова Мария Петровна» is not our customer of that name (a partner never shares
    our cards): two rows, and each count lists exactly that card's orders — not every order a search for the name
    would find."""
    app, api = ui
    orders = history(app, api, clock)
    client = signed_in(app, "director")
    page = client.get("/analytics/?from=2026-12-01&to=2026-12-31").get_data(as_text=True)
    section = page.split('data-figure="by-customer"')[1].split("</section>")[0]
    rows = re.findall(r'<tr[^>]*>\s*<th[^>]*>([^<]+)</th>\s*<td[^>]*>\s*<a href="([^"]+)"[^>]*>(\d+)</a>', section)
    assert sorted((name.strip(), int(count)) for name, _link, count in rows) == [
        ("Иванова Мария Петровна", 1), ("Иванова Мария Петровна", 3)]
    listed = {int(count): listed_numbers(client.get(unescape(link)).get_data(as_text=True))
              for _name, link, count in rows}
    assert listed == {3: {orders["a"], orders["c"], orders["d"]}, 1: {orders["b"]}}
    bad = client.get("/orders?customer=abc")
    assert bad.status_code == 422 and "не номер карточки заказчика" in bad.get_data(as_text=True)


def test_a_head_of_production_sees_their_tasks_on_the_heatmap_and_no_money(ui, clock):
    app, api = ui
    history(app, api, clock)
    head = signed_in(app, "head_production")
    page = head.get("/analytics/?from=2026-12-01&to=2026-12-31").get_data(as_text=True)
    assert 'data-figure="money"' not in page and "Выручка" not in page
    assert "Выручка" not in str(load_workbook(BytesIO(head.get(
        "/analytics/tables.xlsx?from=2026-12-01&to=2026-12-31").data)).sheetnames)
    heat = head.get("/analytics/heatmap?from=2026-12-01&to=2026-12-31").get_data(as_text=True)
    data = json.loads(re.search(r'id="heat-data">(.*?)</script>', heat, re.S).group(1))
    assert set(data["tasks"]) == {"production"}
    sales_head = signed_in(app, "head_sales").get("/analytics/?from=2026-12-01&to=2026-12-31")
    assert 'data-figure="money"' in sales_head.get_data(as_text=True)  # revenue is the sales department's figure
