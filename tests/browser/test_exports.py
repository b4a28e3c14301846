"""«Скачать Excel» in a real browser: the accountant's payments list filtered and downloaded, the inbox's link
following the filters htmx applies, at desktop and tablet widths."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from io import BytesIO

from openpyxl import load_workbook
from sqlalchemy import select

from app.extensions import db
from app.models import Order, Payment
from app.usecases.uow import unit_of_work
from tests.browser.conftest import no_horizontal_scroll, signed_in
from tests.support.api import Api

DESKTOP = {"width": 1280, "height": 900}
TABLET = {"width": 768, "height": 1024}


def paid_orders(app) -> tuple[str, str]:
    api = Api(app, app.test_client())
    direct, brought = api.create_order(), api.create_order("kitchen", partner="mega")
    with app.app_context(), unit_of_work():
        for number, amount, method in ((direct, "12500.00", "cash"), (direct, "3000.00", "cashless"),
                                       (brought, "40000.00", "cash")):
            order = db.session.execute(select(Order).where(Order.number == number)).scalar_one()
            db.session.add(Payment(order_id=order.id, number=f"ПКО-{amount}", paid_on=date(2026, 11, 5),
                                   amount=Decimal(amount), method=method))
    return direct, brought


def test_the_accountant_filters_payments_and_downloads_what_the_page_shows(browser, live_server, screenshot):
    app, base = live_server
    direct, brought = paid_orders(app)
    for size, viewport in (("desktop", DESKTOP), ("tablet", TABLET)):
        context, page = signed_in(browser, base, "accountant", viewport)
        page.goto(f"{base}/payments?from=2026-11-01&to=2026-11-30")
        assert page.locator("#payments tbody tr[data-payment]").count() == 3
        assert no_horizontal_scroll(page)
        screenshot(page, f"payments-{size}")
        if size == "desktop":
            page.select_option('select[name="method"]', "cash")
            page.select_option('select[name="partner"]', "direct")
            page.get_by_role("button", name="Показать").click()
            page.wait_for_url("**method=cash**")
            assert page.locator("#payments tbody tr[data-payment]").count() == 1
            with page.expect_download() as download:
                page.get_by_role("link", name="Скачать Excel").click()
            assert download.value.suggested_filename.startswith("platezhi-")
            sheet = load_workbook(BytesIO(open(download.value.path(), "rb").read())).active
            assert [row[1].value for row in sheet.iter_rows(min_row=2)] == [direct]
            page.goto(f"{base}/payments?method=barter")
            assert page.get_by_role("alert").get_by_text("Способ оплаты «barter» неизвестен").is_visible()
            screenshot(page, "payments-malformed")
        context.close()

    context, page = signed_in(browser, base, "sales", DESKTOP)
    page.goto(f"{base}/inbox?tab=queue")
    page.select_option('select[name="kind"]', "kitchen")  # htmx redraws the list, its link included
    page.wait_for_url("**kind=kitchen**")
    link = page.get_by_role("link", name="Скачать Excel")
    page.wait_for_function("document.querySelector('.list-export a').href.includes('kind=kitchen')")
    with page.expect_download() as download:
        link.click()
    sheet = load_workbook(BytesIO(open(download.value.path(), "rb").read())).active
    assert [row[1].value for row in sheet.iter_rows(min_row=2)] == [brought]
    screenshot(page, "inbox-export-link")
    page.goto(f"{base}/orders")
    screenshot(page, "orders-export-link")
    context.close()
