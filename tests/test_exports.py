"""«Скачать Excel» on every list: the workbook holds exactly the rows the page's filters keep (all of them, not one
page), as typed cells under a frozen, filterable header in the user's language; the list's own permission; a
malformed filter is named on the page instead of a workbook of other rows."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.extensions import db
from app.models import Order, Partner, Payment
from app.services.periods import local_today
from app.services.workbooks import Column, list_workbook
from app.usecases.uow import unit_of_work
from tests.support.api import Api
from tests.support.diagrams import deploy_diagram, start
from tests.support.web import signed_in

MOSCOW = ZoneInfo("Europe/Moscow")  # the app's TIMEZONE in tests


@pytest.fixture
def ui(make_app):
    app = make_app(WTF_CSRF_ENABLED=False)
    return app, Api(app, app.test_client())


def workbook(response):
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype.endswith("spreadsheetml.sheet")
    return load_workbook(BytesIO(response.data)).active


def values(sheet) -> list[list]:
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


def stamp(app) -> str:
    """The company's today as the files' names carry it."""
    with app.app_context():
        return f"{local_today():%Y%m%d}"


def export_link(page: str, path: str) -> str:
    return re.search(rf'href="({re.escape(path)}[^"]*)"', page).group(1).replace("&amp;", "&")


def priced(app, number: str, price: str) -> Order:
    with app.app_context(), unit_of_work():
        order = db.session.execute(select(Order).where(Order.number == number)).scalar_one()
        order.price = Decimal(price)
    with app.app_context():
        found = db.session.execute(select(Order).where(Order.number == number)).scalar_one()
        db.session.expunge(found)
        return found


def test_the_orders_workbook_has_the_filtered_orders_as_typed_cells_in_the_chosen_columns(ui):
    app, api = ui
    kitchen, wardrobe = api.create_order("kitchen"), api.create_order("wardrobe")
    order = priced(app, kitchen, "185000.50")
    client = signed_in(app, "sales")
    page = client.get("/orders?kind=kitchen&col=number&col=created&col=kind&col=price&col=customer").data.decode()
    link = export_link(page, "/orders.xlsx")
    assert "kind=kitchen" in link and "Скачать Excel" in page
    response = client.get(link)
    assert f"zakazy-{stamp(app)}.xlsx" in response.headers["Content-Disposition"]
    sheet = workbook(response)
    rows = values(sheet)
    assert rows[0] == ["№", "Создан", "Вид", "Стоимость", "Заказчик"]  # the page's columns, in its order
    assert [row[0] for row in rows[1:]] == [kitchen]  # the wardrobe is not in the workbook
    assert wardrobe not in [row[0] for row in rows]
    created = order.created_at.astimezone(MOSCOW).replace(tzinfo=None)
    assert abs(rows[1][1] - created) < timedelta(seconds=1)  # Moscow time, as Excel keeps it
    assert isinstance(rows[1][1], datetime) and sheet["B2"].number_format == "DD.MM.YYYY HH:MM"
    assert rows[1][2] == "Кухонный гарнитур" and rows[1][4] == "Иванова Мария Петровна"
    assert rows[1][3] == 185000.5 and sheet["D2"].number_format == "#,##0.00"
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:E2"

    client.post("/language", data={"locale": "en", "next": "/"})
    english = values(workbook(client.get("/orders.xlsx?kind=kitchen")))
    assert english[0][1:4] == ["Created", "Type", "Price"]
    assert english[1][2] == "Kitchen"


def test_text_that_looks_like_a_formula_is_exported_as_text(ui):
    """A customer typed «=HYPERLINK(...)» as their name: the workbook shows those characters; Excel does not run
    them as a formula (a link to a stranger's site, in a file the accountant trusts)."""
    app, api = ui
    name = '=HYPERLINK("http://evil.example/","click")'
    api.create_order(customer={"name": name, "phone": "+7 916 555-00-11"})
    sheet = workbook(signed_in(app, "sales").get("/orders.xlsx?col=number&col=customer"))
    cell = sheet["B2"]
    assert (cell.value, cell.data_type) == (name, "s")


def test_a_malformed_order_filter_is_named_on_the_list_and_no_workbook_is_made(ui):
    app, api = ui
    api.create_order("kitchen")
    client = signed_in(app, "sales")
    for path in ("/orders", "/orders.xlsx"):
        response = client.get(f"{path}?created_from=2026-13-45&kind=kitchen&q=Иванова")
        page = response.data.decode()
        assert response.status_code == 422 and response.mimetype == "text/html", path
        assert "Создан с: дата «2026-13-45» не распознана" in page and 'role="alert"' in page
        assert 'value="Иванова"' in page and '<option value="kitchen" selected>' in page  # the rest is kept


def test_the_inbox_workbook_has_every_task_of_the_tab_its_filters_keep(ui):
    app, api = ui
    kitchen, wardrobe = api.create_order("kitchen"), api.create_order("wardrobe")
    client = signed_in(app, "sales")
    page = client.get("/inbox?tab=queue&kind=kitchen").data.decode()
    link = export_link(page, "/inbox.xlsx")
    response = client.get(link)
    assert f"ochered-{stamp(app)}.xlsx" in response.headers["Content-Disposition"]
    sheet = workbook(response)
    rows = values(sheet)
    assert rows[0][:3] == ["Задача", "Заказ или процесс", "Заказчик"]
    assert [row[1] for row in rows[1:]] == [kitchen] and wardrobe not in [row[1] for row in rows]
    assert isinstance(rows[1][6], datetime) and sheet["G2"].number_format == "DD.MM.YYYY HH:MM"
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:I2"
    everything = values(workbook(client.get("/inbox.xlsx?tab=queue")))
    assert {kitchen, wardrobe} <= {row[1] for row in everything[1:]}


def test_the_processes_workbook_keeps_the_process_filter(ui):
    app, api = ui
    deploy_diagram(api, "leave_request.bpmn")
    started = start(api, "leave_request", {"days": 2, "reason": "переезд"}, as_="analyst")
    other = start(api, "leave_request", {"days": 5, "reason": "отпуск"}, as_="analyst")
    api.post(f"/instances/{other['id']}/cancel", {"reason": "передумал"}, as_="admin")
    client = signed_in(app, "admin")
    page = client.get("/processes?process_id=leave_request&status=running").data.decode()
    response = client.get(export_link(page, "/processes.xlsx"))
    assert f"processy-{stamp(app)}.xlsx" in response.headers["Content-Disposition"]
    rows = values(workbook(response))
    assert rows[0][:5] == ["№", "Процесс", "Код процесса", "Версия", "Статус"]
    assert [row[0] for row in rows[1:]] == [started["id"]] and rows[1][4] == "Выполняется"
    assert isinstance(rows[1][5], str) and rows[1][5]  # who started it
    assert isinstance(rows[1][6], datetime) and rows[1][7] is None and rows[1][8] == 1  # one open task
    everything = values(workbook(client.get("/processes.xlsx")))
    assert sorted(row[0] for row in everything[1:]) == sorted([started["id"], other["id"]])


def pay(app, number: str, *payments: tuple[str, date, str | None]) -> None:
    with app.app_context(), unit_of_work():
        order = db.session.execute(select(Order).where(Order.number == number)).scalar_one()
        for i, (amount, paid_on, method) in enumerate(payments, 1):
            db.session.add(Payment(order_id=order.id, number=f"ПКО-{i}", paid_on=paid_on, amount=Decimal(amount),
                                   method=method))


def test_the_payments_list_and_its_workbook_keep_the_period_method_and_partner(ui):
    app, api = ui
    direct, brought = api.create_order(), api.create_order(partner="mega")
    pay(app, direct, ("10000.00", date(2026, 11, 5), "cash"), ("2500.50", date(2026, 11, 20), "cashless"),
        ("700.00", date(2026, 10, 31), "cash"))
    pay(app, brought, ("4000.00", date(2026, 11, 6), "cash"))
    client = signed_in(app, "accountant")
    query = "from=2026-11-01&to=2026-11-30&method=cash&partner=direct"
    page = client.get(f"/payments?{query}").data.decode()
    assert page.count("data-payment=") == 1 and "ПКО-1" in page
    response = client.get(export_link(page, "/payments.xlsx"))
    assert f"platezhi-{stamp(app)}.xlsx" in response.headers["Content-Disposition"]
    sheet = workbook(response)
    rows = values(sheet)
    assert rows[0] == ["Дата", "Заказ", "Заказчик", "Партнёр", "Сумма", "Способ", "Получатель", "Документ",
                       "Источник"]
    assert rows[1:] == [[datetime(2026, 11, 5), direct, "Иванова Мария Петровна", None, 10000, "Наличные",
                         "компания", "ПКО-1", "manual"]]
    assert sheet["A2"].number_format == "DD.MM.YYYY" and sheet["E2"].number_format == "#,##0.00"
    mega = values(workbook(client.get("/payments.xlsx?from=2026-11-01&to=2026-11-30&partner=mega")))
    with app.app_context():
        mega_name = db.session.execute(select(Partner.name).where(Partner.code == "mega")).scalar_one()
    assert [(row[1], row[3], row[4]) for row in mega[1:]] == [(brought, mega_name, 4000)]

    client.post("/language", data={"locale": "en", "next": "/"})
    english = values(workbook(client.get(f"/payments.xlsx?{query}")))
    assert english[0][:5] == ["Date", "Order", "Customer", "Partner", "Amount"] and english[1][5] == "Cash"


def test_the_payments_workbook_has_every_row_not_one_page(ui):
    app, api = ui
    number = api.create_order()
    pay(app, number, *[("100.00", date(2026, 11, 1 + i % 28), "cash") for i in range(60)])
    client = signed_in(app, "director")
    page = client.get("/payments?from=2026-11-01&to=2026-11-30").data.decode()
    assert page.count("data-payment=") == 50 and "6 000,00" in page.replace("\xa0", " ").replace("\u202f", " ")
    rows = values(workbook(client.get("/payments.xlsx?from=2026-11-01&to=2026-11-30")))
    assert len(rows) == 61 and sum(row[4] for row in rows[1:]) == 6000


@pytest.mark.parametrize("query, message", [
    ("from=2026-02-30", "Дата «2026-02-30» не распознана"),
    ("from=2026-12-10&to=2026-12-01", "Период: начало позже конца"),
    ("method=barter", "Способ оплаты «barter» неизвестен"),
    ("partner=nobody", "Партнёр «nobody» не найден"),
])
def test_a_malformed_payments_filter_is_named_on_the_page(ui, query, message):
    app, _api = ui
    client = signed_in(app, "accountant")
    for path in ("/payments", "/payments.xlsx"):
        response = client.get(f"{path}?{query}")
        page = response.data.decode()
        assert response.status_code == 422 and response.mimetype == "text/html" and message in page, path
        assert 'role="alert"' in page


@pytest.mark.parametrize("login, staff_lists, payments", [
    ("partner_mega", False, False), ("sales", True, False), ("accountant", True, True), ("director", True, True),
])
def test_who_may_download_which_list(ui, login, staff_lists, payments):
    app, _api = ui
    client = signed_in(app, login)
    for path in ("/orders.xlsx", "/inbox.xlsx", "/processes.xlsx"):
        assert client.get(path).status_code == (200 if staff_lists else 403), path
    for path in ("/payments", "/payments.xlsx"):
        assert client.get(path).status_code == (200 if payments else 403), path
    assert ('href="/payments"' in client.get("/inbox").data.decode()) == payments  # the nav link


def test_a_workbook_cut_at_its_limit_says_so_under_the_table(make_app):
    app = make_app()
    with app.test_request_context():
        data = list_workbook("Заказы", [Column("№", 10)], [["1"], ["2"]], cut=True, limit=2)
    sheet = load_workbook(BytesIO(data)).active
    assert sheet.auto_filter.ref == "A1:A3"
    assert sheet["A5"].value == ("Строк больше, чем 2: выгружены только первые. "
                                 "Сузьте фильтры, чтобы выгрузить остальные")
