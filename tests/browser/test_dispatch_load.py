"""The load chart in a browser at desktop and tablet widths (screenshots for a person to look at), and an order card
with its at-risk badge and predicted date."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from tests.browser.conftest import no_horizontal_scroll, signed_in
from tests.support.api import Api
from tests.test_dispatch_load import MSK, add_visit
from tests.test_prediction_display import predict

TABLET = {"width": 768, "height": 1024}
DESKTOP = {"width": 1280, "height": 900}


def book_a_week(app, api: Api) -> date:
    """Visits over this week and next for two measurers, Tuesday overbooked; this week's Monday."""
    today = datetime.now(MSK).date()
    monday = today - timedelta(days=today.weekday())
    numbers = [api.create_order() for _ in range(3)]
    plan = {"measurer": [(0, "10:00", 2), (0, "13:00", 3), (1, "09:00", 6), (1, "15:00", 4), (3, "11:00", 2.5),
                         (7, "10:00", 4), (9, "12:00", 2)],
            "measurer2": [(0, "09:00", 2), (2, "10:00", 5), (4, "14:00", 3), (8, "10:00", 8), (10, "09:00", 2)]}
    for login, visits in plan.items():
        for n, (offset, at, hours) in enumerate(visits):
            add_visit(app, numbers[n % 3], login, f"{monday + timedelta(days=offset)} {at}", hours)
    return monday


def test_the_load_chart_at_desktop_and_tablet_widths(browser, live_server, screenshot):
    app, base = live_server
    api = Api(app, app.test_client())
    monday = book_a_week(app, api)
    for name, viewport in (("desktop", DESKTOP), ("tablet", TABLET)):
        context, page = signed_in(browser, base, "dispatch", viewport)
        page.goto(f"{base}/dispatch/load")
        page.wait_for_selector('#load-chart[data-drawn="1"] svg')
        assert page.locator("#load-chart svg path").count() > 10  # bars and the capacity line were drawn
        tuesday = monday + timedelta(days=1)
        over = page.locator(f'tr[data-person="measurer"] td.over[data-day="{tuesday.isoformat()}"]')
        # 9 working hours, or none should Tuesday be a public holiday
        assert re.match(r"⚠ 10 / [09] ч\b", over.inner_text().replace("\u00a0", " ").strip())
        assert page.locator("#load-summary").inner_text().startswith("⚠ Перегружено:")
        assert no_horizontal_scroll(page)  # the table scrolls inside its frame, the page does not
        screenshot(page, f"dispatch-load-{name}")
        context.close()

    context, page = signed_in(browser, base, "dispatch", TABLET)
    page.goto(f"{base}/dispatch/load?from=2026-11-08&to=2026-11-02")
    assert page.locator("#load-error").inner_text() == "Начало периода позже его конца"
    assert page.input_value('input[name="from"]') == "2026-11-08"
    context.close()


def test_an_order_card_with_the_at_risk_badge(browser, live_server, screenshot):
    app, base = live_server
    api = Api(app, app.test_client())
    number, calm = api.create_order(), api.create_order()
    predict(app, number, at_risk=True)
    predict(app, calm)
    for name, viewport in (("desktop", DESKTOP), ("tablet", TABLET)):
        context, page = signed_in(browser, base, "sales", viewport)
        page.goto(f"{base}/orders/{number}")
        badge = page.locator("#order-at-risk .badge.at-risk")
        assert badge.inner_text().strip() == "⚠ Под угрозой срыва срока"
        assert "12 декабря" in page.locator("#order-predicted").inner_text()
        assert no_horizontal_scroll(page)
        screenshot(page, f"order-card-at-risk-{name}")
        page.goto(f"{base}/orders")
        page.check('input[name="at_risk"]')
        page.click('button:has-text("Показать")')
        page.wait_for_url(lambda url: "at_risk=1" in url)
        assert page.locator("table.orders-table tbody tr").count() == 1
        assert "Под угрозой срыва срока" in page.locator("table.orders-table tbody tr").inner_text()
        screenshot(page, f"orders-at-risk-{name}")
        context.close()
