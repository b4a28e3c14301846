"""The dispatcher's list of visits and the Gantt of orders in a real browser, at desktop and tablet widths."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.clock import today
from app.extensions import db
from app.models import Order
from app.usecases.uow import unit_of_work
from tests.browser.conftest import no_horizontal_scroll, signed_in
from tests.support.api import Api

DESKTOP = {"width": 1280, "height": 900}
TABLET = {"width": 768, "height": 1024}


def busy_week(app) -> list[str]:
    """Three booked measurements, an order waiting to be planned, and one whose prediction is past its promise."""
    api = Api(app, app.test_client())
    numbers = []
    for measurer in ("measurer", "measurer2", "measurer"):
        number = api.create_order()
        api.walk(number, ["new_order"])
        api.step(number, "plan_measurement", variant={"measurer": measurer})
        numbers.append(number)
    waiting = api.create_order("kitchen")
    api.walk(waiting, ["new_order"])
    with app.app_context():
        with unit_of_work():
            order = db.session.execute(select(Order).where(Order.number == numbers[0])).scalar_one()
            order.promised_date, order.predicted_on = today() + timedelta(days=10), today() + timedelta(days=14)
            order.predicted_p80_on, order.at_risk = today() + timedelta(days=18), True
    return [*numbers, waiting]


def test_the_list_and_the_gantt_at_desktop_and_tablet_widths(browser, live_server, screenshot):
    app, base = live_server
    *planned, waiting = busy_week(app)
    period = f"from={today()}&to={today() + timedelta(days=30)}"
    for size, viewport in (("desktop", DESKTOP), ("tablet", TABLET)):
        context, page = signed_in(browser, base, "dispatch", viewport)
        page.goto(f"{base}/dispatch/list?{period}")
        page.get_by_role("link", name="Список").wait_for()
        assert page.locator("#visits tbody tr").count() == 3
        assert page.locator("#unplanned").get_by_text(waiting).is_visible()
        assert no_horizontal_scroll(page)
        screenshot(page, f"dispatch-list-{size}")
        if size == "desktop":
            page.select_option('select[name="person"]', "measurer2")
            page.get_by_role("button", name="Показать").click()
            page.wait_for_url("**person=measurer2**")
            assert page.locator("#visits tbody tr").count() == 1
            with page.expect_download() as download:
                page.get_by_role("link", name="Скачать Excel").click()
            assert download.value.suggested_filename.endswith(".xlsx")

        page.goto(f"{base}/dispatch/gantt")
        page.wait_for_selector('#gantt[data-ready="true"]')
        bars = page.locator("#gantt .bar-wrapper")
        assert bars.count() > 10
        assert page.locator("#gantt .bar-wrapper.gantt-planned").count() >= 4
        assert page.locator("#gantt .bar-wrapper.gantt-predicted-late").count() == 1
        assert page.locator("#gantt .bar-wrapper.gantt-promised").count() == 1
        assert page.locator(f'.gantt-table [data-order="{planned[0]}"]').get_by_text("под угрозой срока").is_visible()
        assert no_horizontal_scroll(page)
        screenshot(page, f"dispatch-gantt-{size}")
        page.get_by_role("button", name="По неделям").click()
        assert page.get_by_role("button", name="По неделям").get_attribute("aria-pressed") == "true"
        if size == "desktop":
            screenshot(page, "dispatch-gantt-desktop-weeks")
        context.close()
