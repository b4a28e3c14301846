"""The dispatcher's list of visits (filters, the unplanned orders, the Excel workbook) and the Gantt of orders
across their stages, as the dispatcher and the heads see them."""
from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.extensions import db
from app.models import HumanTask, Order, User, Visit
from app.services import visits
from app.usecases.uow import unit_of_work
from tests.support.api import Api
from tests.support.web import signed_in

MOSCOW = ZoneInfo("Europe/Moscow")  # the app's TIMEZONE in tests


@pytest.fixture
def ui(make_app):
    app = make_app(WTF_CSRF_ENABLED=False)
    return app, Api(app, app.test_client())


def planned(api: Api, measurer: str) -> str:
    """An order whose measurement the dispatcher booked for `measurer` (through the planning form)."""
    number = api.create_order()
    api.walk(number, ["new_order"])
    api.step(number, "plan_measurement", variant={"measurer": measurer})
    return number


def visit_of(app, number: str) -> Visit:
    with app.app_context():
        visit = db.session.execute(select(Visit).join(Visit.order).where(Order.number == number)).scalar_one()
        db.session.expunge(visit)
        return visit


def local_day(moment: datetime) -> date:
    return moment.astimezone(MOSCOW).date()


def section(page: str, table_id: str) -> str:
    """The HTML of one table of the page (the visits or the unplanned orders)."""
    start = page.index(f'id="{table_id}"')
    return page[start:page.index("</table>", start)]


def test_the_list_shows_the_visits_its_filters_keep_and_the_orders_still_to_plan(ui):
    app, api = ui
    first, second = planned(api, "measurer"), planned(api, "measurer2")
    waiting = api.create_order()
    api.walk(waiting, ["new_order"])  # now at «Планирование выезда на замер»
    days = sorted(local_day(visit_of(app, n).starts_at) for n in (first, second))
    period = f"from={days[0]}&to={days[1]}"
    client = signed_in(app, "dispatch")

    page = client.get(f"/dispatch/list?{period}").data.decode()
    visits, unplanned = section(page, "visits"), section(page, "unplanned")
    assert first in visits and second in visits and waiting not in visits
    assert waiting in unplanned and first not in unplanned
    assert "Игорь Замеров" in visits and "Олег Рулеткин" in visits and "запланирован" in visits
    assert "Замер" in visits and "ул. Профсоюзная" in visits and "+7" in visits

    only_second = section(client.get(f"/dispatch/list?{period}&person=measurer2").data.decode(), "visits")
    assert second in only_second and first not in only_second
    by_number = client.get(f"/dispatch/list?{period}&q={first}").data.decode()
    assert first in section(by_number, "visits") and second not in section(by_number, "visits")
    assert waiting not in section(by_number, "unplanned")  # the text filter narrows the queue too
    for empty in ("kind=delivery", "status=done", "person=queue"):
        assert first not in section(client.get(f"/dispatch/list?{period}&{empty}").data.decode(), "visits")
    before = client.get(f"/dispatch/list?from={days[0] - timedelta(days=9)}&to={days[0] - timedelta(days=1)}")
    assert first not in section(before.data.decode(), "visits")

    kept = client.get(f"/dispatch/list?{period}&person=measurer2&status=booked").data.decode()
    assert re.search(r'<option value="measurer2" selected>', kept)  # the form keeps the filters …
    assert re.search(r'<option value="booked" selected>', kept) and f'value="{days[0]}"' in kept
    export = re.search(r'href="(/dispatch/list\.xlsx\?[^"]+)"', kept).group(1).replace("&amp;", "&")
    assert "person=measurer2" in export and f"from={days[0]}" in export  # … and so does the export's link


def test_the_list_opens_on_this_week_and_shows_who_took_a_job_from_the_queue(ui):
    app, api = ui
    number = planned(api, "measurer")
    now = datetime.now(MOSCOW)
    monday = now.replace(hour=10, minute=0, second=0, microsecond=0) - timedelta(days=now.weekday())
    with app.app_context():
        with unit_of_work():
            order = db.session.execute(select(Order).where(Order.number == number)).scalar_one()
            measurement = visits.booked(order, "measurement")
            measurement.status = "cancelled"
            measurement.starts_at, measurement.ends_at = monday, monday + timedelta(hours=2)
            delivery = visits.book(order, "delivery", None, monday + timedelta(days=2), 4, None)  # to the queue
            delivery.user = db.session.execute(select(User).where(User.login == "installer2")).scalar_one()
            delivery.taken_at = monday + timedelta(days=1, hours=3)  # … and a crew took it
    page = signed_in(app, "head_dispatch").get("/dispatch/list").data.decode()
    rows = section(page, "visits").split("<tr ")[1:]
    assert len(rows) == 2 and all(number in row for row in rows)
    assert "Замер" in rows[0] and "отменён" in rows[0] and "visit-cancelled" in rows[0]
    assert "Доставка и монтаж" in rows[1] and "4 ч" in rows[1]
    assert "Бригада №2 (Артём Сборкин), " + (monday + timedelta(days=1)).strftime("%d.%m.%Y") + ", 13:00" in rows[1]
    assert f'value="{monday.date()}"' in page and f'value="{monday.date() + timedelta(days=6)}"' in page


def test_the_workbook_has_the_filtered_visits_as_typed_cells_under_a_frozen_filterable_header(ui):
    app, api = ui
    planned(api, "measurer")  # on the same days, for someone else: not in the workbook
    second = planned(api, "measurer2")
    visit = visit_of(app, second)
    day = local_day(visit.starts_at)
    client = signed_in(app, "dispatch")
    response = client.get(f"/dispatch/list.xlsx?from={day}&to={day}&person=measurer2")
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    assert f"vyezdy-{day:%Y%m%d}-{day:%Y%m%d}.xlsx" in response.headers["Content-Disposition"]
    sheet = load_workbook(BytesIO(response.data)).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[0][:5] == ["Начало", "Окончание", "Длительность, ч", "Вид", "Заказ"]
    assert [row[4] for row in rows[1:]] == [second]  # the filters' rows and no others
    starts = visit.starts_at.astimezone(MOSCOW).replace(tzinfo=None)
    assert rows[1][0] == starts and rows[1][1] == starts + timedelta(hours=2)  # Excel datetimes, Moscow time
    assert rows[1][2] == 2 and isinstance(rows[1][2], (int, float))
    assert rows[1][3] == "Замер" and rows[1][8] == "Олег Рулеткин" and rows[1][9] == "запланирован"
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:L2"
    assert sheet.column_dimensions["G"].width == 40 and sheet["A2"].number_format == "DD.MM.YYYY HH:MM"

    client.post("/language", data={"locale": "en", "next": "/"})
    english = load_workbook(BytesIO(client.get(f"/dispatch/list.xlsx?from={day}&to={day}").data)).active
    assert [cell.value for cell in english[1]][:4] == ["Start", "End", "Length, h", "Type"]
    assert "Measurement" in [cell.value for cell in english[2]]


@pytest.mark.parametrize("query, message", [
    ("from=2026-13-45", "Дата «2026-13-45» не распознана"),
    ("from=2026-12-10&to=2026-12-01", "Период: начало позже конца"),
    ("kind=sauna", "Вид выезда «sauna» неизвестен"),
    ("status=lost", "Статус «lost» неизвестен"),
    ("person=nobody", "Сотрудник «nobody» не найден"),
    ("q=" + "шкаф" * 60, "Поиск: Слишком длинно: не больше 200 знаков"),
])
def test_a_malformed_filter_is_named_on_the_page_and_the_rest_kept(ui, query, message):
    app, _api = ui
    client = signed_in(app, "dispatch")
    others_typed = "person" not in query and "q=" not in query
    extra = "&person=measurer&q=Профсоюзная" if others_typed else ""
    for path in ("/dispatch/list", "/dispatch/list.xlsx"):  # the export says the same, it never guesses
        response = client.get(f"{path}?{query}{extra}")
        page = response.data.decode()
        assert response.status_code == 422 and message in page and 'role="alert"' in page
        if others_typed:
            assert 'value="Профсоюзная"' in page and '<option value="measurer" selected>' in page
    assert client.get("/dispatch/list?page=abc").status_code == 200


@pytest.mark.parametrize("login, allowed", [
    ("dispatch", True), ("delivery_dispatch", True), ("head_dispatch", True), ("director", True), ("admin", True),
    ("measurer", False), ("installer", False), ("sales", False), ("partner_mega", False),
])
def test_who_sees_the_dispatch_views(ui, login, allowed):
    app, _api = ui
    client = signed_in(app, login)
    for path in ("/dispatch/list", "/dispatch/list.xlsx", "/dispatch/gantt"):
        response = client.get(path)
        assert response.status_code == (200 if allowed else 403), (path, response.status_code)
    assert app.test_client().get("/dispatch/gantt").status_code == 302  # a visitor is sent to sign in


def test_the_gantt_sets_each_stage_planned_against_actual_and_marks_the_late_one(ui, clock):
    app, api = ui
    number = planned(api, "measurer")  # new_order and plan_measurement done, measurement open
    other = api.create_order("kitchen")
    with app.app_context():
        with unit_of_work():
            order = db.session.execute(select(Order).where(Order.number == number)).scalar_one()
            order.promised_date, order.predicted_on, order.predicted_p80_on = (
                date(2027, 1, 15), date(2027, 1, 20), date(2027, 1, 25))
            order.at_risk = True
            order_id = order.id
            tasks = db.session.execute(select(HumanTask).where(HumanTask.order_id == order.id)
                                       .order_by(HumanTask.created_at, HumanTask.id)).scalars().all()
            ids = {task.bpmn_id: task.id for task in tasks}
            assert all(task.due_at is not None for task in tasks)
            due = {task.bpmn_id: task.due_at for task in tasks}
    clock.set(due["measurement"] + timedelta(hours=1))  # the measurement is still open past its deadline
    client = signed_in(app, "director")
    page = client.get("/dispatch/gantt").data.decode()
    assert number in page and other in page

    table = page[page.index(f'data-order="{number}"'):]
    table = table[:table.index("</table>")]
    rows = {task_id: row for task_id, row in re.findall(r'<tr data-task="(\d+)" class="([\w-]+)"', table)}
    assert rows == {str(ids["new_order"]): "on-time", str(ids["plan_measurement"]): "on-time",
                    str(ids["measurement"]): "late"}
    assert "в работе" in table and "опоздание" in table and "прогноз позже обещанного" in table

    chart = {row["id"]: row for row in json.loads(
        re.search(r'<script type="application/json" id="gantt-tasks">(.*?)</script>', page, re.S).group(1))}
    planned_bar, actual_bar = chart[f"plan-{ids['measurement']}"], chart[f"fact-{ids['measurement']}"]
    assert planned_bar["custom_class"] == "gantt-planned"
    assert planned_bar["end"] == due["measurement"].astimezone(MOSCOW).strftime("%Y-%m-%d %H:%M")
    assert actual_bar["custom_class"] == "gantt-late-open"  # red, still open
    assert chart[f"fact-{ids['new_order']}"]["custom_class"] == "gantt-actual"
    predicted = chart[f"predicted-{order_id}"]
    assert (predicted["start"], predicted["end"], predicted["custom_class"]) == (
        "2027-01-20", "2027-01-25", "gantt-predicted-late")
    assert chart[f"promised-{order_id}"]["start"] == "2027-01-15"
    assert chart[f"order-{order_id}"]["custom_class"] == "gantt-order-risk"

    risky = client.get("/dispatch/gantt?at_risk=1").data.decode()
    assert number in risky and other not in risky
    kitchens = client.get("/dispatch/gantt?kind=kitchen").data.decode()
    assert other in kitchens and number not in kitchens
    at_stage = client.get("/dispatch/gantt?stage=Замер").data.decode()
    assert number in at_stage and other not in at_stage


def test_the_gantt_pages_its_orders_and_the_pages_keep_the_filters(ui):
    app, api = ui
    kitchens = [api.create_order("kitchen") for _ in range(21)]  # a page holds 20
    wardrobe = api.create_order("wardrobe")
    client = signed_in(app, "dispatch")
    first = client.get("/dispatch/gantt?kind=kitchen").data.decode()
    assert kitchens[0] in first and kitchens[19] in first and kitchens[20] not in first and wardrobe not in first
    link = re.search(r'href="(/dispatch/gantt\?[^"]*page=2[^"]*)"', first).group(1).replace("&amp;", "&")
    assert "kind=kitchen" in link
    second = client.get(link).data.decode()
    assert kitchens[20] in second and kitchens[0] not in second and wardrobe not in second


def test_a_malformed_gantt_filter_is_named_and_the_chart_still_drawn(ui):
    app, api = ui
    number = api.create_order()
    client = signed_in(app, "dispatch")
    for query, message in (("kind=yacht", "Вид заказа «yacht» неизвестен"),
                           ("stage=Луна", "Этапа «Луна» нет у активных заказов"),
                           ("from=вчера", "Дата «вчера» не распознана")):
        response = client.get(f"/dispatch/gantt?{query}")
        page = response.data.decode()
        assert response.status_code == 422 and message in page and number in page
