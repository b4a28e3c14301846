"""The analytics page and the lifecycle heatmap in a browser at 1280 px (screenshots for a person to look at)."""
from __future__ import annotations

from tests.browser.conftest import signed_in
from tests.support.api import Api
from tests.test_analytics import history

DESKTOP = {"width": 1280, "height": 900}
DECEMBER = "from=2026-12-01&to=2026-12-31"


def test_the_director_lands_on_the_charts_and_reads_the_heatmap(browser, live_server, screenshot, clock):
    app, base = live_server
    history(app, Api(app, app.test_client()), clock)
    context, page = signed_in(browser, base, "director", DESKTOP)
    assert page.url.rstrip("/").endswith("/analytics")  # the director's home
    page.goto(f"{base}/analytics/?{DECEMBER}")
    page.wait_for_selector('body[data-charts-ready="true"]')
    for chart in ("by-kind", "by-channel", "by-partner", "by-customer", "on-time", "on-time-months", "timing",
                  "money"):
        assert page.locator(f"#chart-{chart} svg path").count() > 3, chart
    row = page.locator('section[data-figure="on-time"] tr[data-stage="Новый заказ"]').inner_text()
    assert row.replace("\u00a0", " ").split() == ["Новый", "заказ", "3", "4", "75", "%"]
    screenshot(page, "analytics-desktop")

    page.click("text=Тепловая карта процесса")
    page.wait_for_selector('#heatmap[data-ready="true"]')
    assert int(page.get_attribute("#heatmap", "data-coloured")) >= 8  # every task the orders went through
    assert int(page.get_attribute("#heatmap", "data-flows")) >= 8
    assert page.locator('.heat-badge[data-task="new_order"]').inner_text().endswith("· 4")
    screenshot(page, "analytics-heatmap-desktop")
    context.close()
