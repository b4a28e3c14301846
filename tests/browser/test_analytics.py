"""The analytics page and the lifecycle heatmap in a browser at 1280 px (screenshots for a person to look at)."""
from __future__ import annotations

from tests.browser.conftest import signed_in
from tests.support.api import Api
from tests.test_analytics import history

DESKTOP = {"width": 1280, "height": 900}
TABLET = {"width": 768, "height": 1024}
# the chart's labels that stick out of its box (ECharts draws them into an SVG as wide as the box: cut off there)
CUT_LABELS = """() => [...document.querySelectorAll('.analytics-chart')].flatMap(chart => {
  const box = chart.getBoundingClientRect();
  return [...chart.querySelectorAll('svg text')].filter(t => t.textContent.trim()).filter(t => {
    const r = t.getBoundingClientRect();
    return r.left < box.left - 1 || r.right > box.right + 1;
  }).map(t => chart.id + ': ' + t.textContent);
})"""
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
    assert row.replace("\u00a0", " ").split() == ["Новый", "заказ", "3", "4", "75", "%", "1"]  # b was late
    assert page.evaluate(CUT_LABELS) == []
    screenshot(page, "analytics-desktop")

    page.click('section[data-figure="on-time"] tr[data-stage="Новый заказ"] [data-cell="late-orders"] a')
    page.wait_for_selector(".task-chip")  # the late kitchen, named as what the list was narrowed to
    assert "С опозданием: этап «Новый заказ»" in page.inner_text(".task-chip")
    assert page.locator("table.orders-table tbody tr").count() == 1
    screenshot(page, "analytics-drill-down")
    page.go_back()

    page.click("text=Тепловая карта процесса")
    page.wait_for_selector('#heatmap[data-ready="true"]')
    assert int(page.get_attribute("#heatmap", "data-coloured")) >= 8  # every task the orders went through
    assert int(page.get_attribute("#heatmap", "data-flows")) >= 8
    # it opens at 1:1 on the start of the lifecycle: the first task's badge is on screen and readable
    assert float(page.get_attribute("#heatmap", "data-zoom")) == 1.0
    badge = page.locator('.heat-badge[data-task="new_order"]')
    assert badge.inner_text().endswith("· 4") and badge.is_visible()
    holder, spot = page.locator("#heatmap").bounding_box(), badge.bounding_box()
    assert holder["x"] <= spot["x"] and spot["x"] + spot["width"] <= holder["x"] + holder["width"]
    screenshot(page, "analytics-heatmap-desktop")
    page.click("#heat-fit")  # the whole lifecycle: colours only, the numbers would pile up
    page.wait_for_function("Number(document.querySelector('#heatmap').dataset.zoom) < 0.7")
    assert not badge.is_visible()
    screenshot(page, "analytics-heatmap-fit")
    page.click("#heat-actual")
    page.wait_for_function("document.querySelector('#heatmap').dataset.zoom === '1.00'")
    assert badge.is_visible()
    context.close()


def test_chart_labels_stay_inside_their_charts_on_a_tablet(browser, live_server, screenshot, clock):
    app, base = live_server
    history(app, Api(app, app.test_client()), clock)
    context, page = signed_in(browser, base, "director", TABLET)
    page.goto(f"{base}/analytics/?{DECEMBER}")
    page.wait_for_selector('body[data-charts-ready="true"]')
    assert page.evaluate(CUT_LABELS) == []
    screenshot(page, "analytics-tablet")
    context.close()
