"""Department heads at their boards, at a desk (1280 px) and on a tablet (768 px): the figures read as text, the nav
leads there, an order on the board opens its card."""
from __future__ import annotations

import re

import pytest

from tests.browser.conftest import no_horizontal_scroll, signed_in
from tests.support.api import Api
from tests.support.boards import at, sales_history, workshop_order

SIZES = {"desktop": {"width": 1280, "height": 900}, "tablet": {"width": 768, "height": 1024}}


@pytest.fixture
def history(live_server, clock):
    """Orders at the workshops (one short of components, one waiting for ordered ones, one ready) and a week of
    new orders for sales; the boards are read on Wednesday 9 December 2026 at 10:00."""
    app, base = live_server
    api = Api(app, app.test_client())
    short = workshop_order(api, clock, (2026, 12, 1, 10))
    waiting = workshop_order(api, clock, (2026, 12, 2, 10), ordered=True)
    workshop_order(api, clock, (2026, 12, 2, 11), received=True)
    orders = sales_history(app, api, clock)
    at(clock, 2026, 12, 9, 10)
    return base, {"short": short, "waiting": waiting, **orders}


@pytest.mark.parametrize("size", SIZES)
def test_the_production_head_reads_components_and_held_orders(browser, history, screenshot, size):
    base, orders = history
    context, page = signed_in(browser, base, "head_production", SIZES[size])
    page.click("nav.mainnav >> text=Доска отдела")
    page.wait_for_url(re.compile(r".*/boards/production$"))
    assert page.inner_text("h1") == "Доска отдела: Производство"
    held = page.locator("[data-list=held] tbody tr")
    assert held.count() == 2
    assert orders["short"] in held.nth(0).inner_text() and "Комплектация" in held.nth(0).inner_text()
    assert orders["waiting"] in held.nth(1).inner_text() and "Производство" in held.nth(1).inner_text()
    assert page.inner_text("[data-components=missing]") == "3"
    assert page.inner_text("[data-components=ordered]") == "3"
    assert page.inner_text("[data-components=arrived]") == "3"
    assert page.locator("[data-group=missing]").get_attribute("open") is not None
    assert no_horizontal_scroll(page)
    screenshot(page, f"boards-production-{size}")

    held.nth(0).locator(f"a:has-text('{orders['short']}')").click()
    page.wait_for_url(re.compile(rf".*/orders/{orders['short']}.*"))
    context.close()


@pytest.mark.parametrize("size", SIZES)
def test_the_sales_head_sees_who_holds_what_and_what_is_late(browser, history, screenshot, size):
    base, orders = history
    context, page = signed_in(browser, base, "head_sales", SIZES[size])
    page.goto(f"{base}/boards/")
    page.wait_for_url(re.compile(r".*/boards/sales$"))  # one board: straight to it
    people = page.locator(".board-workload tbody tr")
    assert "Очередь отдела" in people.nth(0).inner_text()
    sales = page.locator(".board-workload tr[data-person=sales]")
    assert sales.locator("[data-open]").inner_text() == "1" and sales.locator("[data-overdue]").inner_text() == "1"
    late = page.locator("[data-list=late] tbody tr")
    assert orders["d"] in late.nth(0).inner_text() and "+14 раб. ч" in late.nth(0).inner_text().replace("\xa0", " ")
    assert "Под угрозой" in page.locator(f"[data-list=late] tr[data-order='{orders['h']}']").inner_text()
    week = page.inner_text("[data-compliance=week]").replace("\xa0", " ")
    assert "50 %" in week and "1 из 2" in week
    assert "Комплектующие" not in page.inner_text("body")
    assert no_horizontal_scroll(page)
    screenshot(page, f"boards-sales-{size}")
    context.close()


def test_the_director_goes_from_the_list_of_boards_to_one_and_on_to_another(browser, history, screenshot):
    base, orders = history
    context, page = signed_in(browser, base, "director", SIZES["desktop"])
    page.click("nav.mainnav >> text=Доски отделов")
    page.wait_for_url(re.compile(r".*/boards/$"))
    assert page.inner_text("[data-open=sales]") == "3" and page.inner_text("[data-overdue=sales]") == "Просрочено: 1"
    screenshot(page, "boards-index-desktop")
    page.click("text=Отдел закупок")
    page.wait_for_url(re.compile(r".*/boards/procurement$"))
    assert orders["short"] in page.inner_text("[data-list=held]")
    page.click("nav.tabs >> text=Отдел продаж")
    page.wait_for_url(re.compile(r".*/boards/sales$"))
    assert page.locator("nav.tabs [aria-current=page]").inner_text() == "Отдел продаж"
    context.close()
