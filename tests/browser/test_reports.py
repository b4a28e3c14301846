"""The director builds a report in the browser: payments summed by order kind for April, as a table and a chart,
then saves it shared with the accountants and finds it in the list."""
from __future__ import annotations

import re

from tests.browser.conftest import follow, no_horizontal_scroll, signed_in
from tests.support.reports import history


def test_the_director_builds_charts_and_saves_a_report(browser, live_server, screenshot):
    app, base = live_server
    history(app)
    context, page = signed_in(browser, base, "director")
    page.click("nav.mainnav >> text=Отчёты")
    page.wait_for_url(re.compile(r".*/reports/$"))
    assert "Сохранённых отчётов пока нет" in page.inner_text("#no-reports")
    page.click("#new-report")
    page.select_option("select[name=source]", "payments")
    page.click("text=Сменить источник")
    page.select_option("select[name=group1]", "kind")
    page.select_option("select[name=aggregate]", "sum")
    page.select_option("select[name=measure]", "amount")
    page.select_option("select[name=f1_field]", "paid_on")
    page.select_option("select[name=f1_op]", "between")
    page.fill("input[name=f1_value]", "2027-04-01")
    page.fill("input[name=f1_to]", "2027-04-30")
    page.click("#run-report")
    page.wait_for_selector("#report-chart[data-drawn='1']")
    rows = [row.inner_text().split("\t") for row in page.locator("#report-table tbody tr").all()]
    assert [[cell.strip().replace("\xa0", " ") for cell in row] for row in rows] == [
        ["Кухонный гарнитур", "150 000"], ["Встроенный шкаф", "30 000"]]
    assert page.locator("#report-chart svg").count() == 1
    assert no_horizontal_scroll(page)
    screenshot(page, "reports-built")

    page.fill("input[name=name]", "Оплаты за апрель")
    page.check("input[name=shared_roles][value=accountant]")
    page.click("#save-button")
    page.wait_for_url(re.compile(r".*/reports/\d+$"))
    assert page.inner_text("h1") == "Оплаты за апрель"
    assert page.locator("#report-table tbody tr").count() == 2
    follow(page, "text=Все отчёты")
    assert "Оплаты за апрель" in page.inner_text("#saved-reports")
    context.close()


def test_payments_per_month_as_bars(browser, live_server, screenshot):
    """Grouped by month, the table and the chart read «март 2027», «апрель 2027» in calendar order."""
    from tests.support.reports import payments_recorded
    from tests.test_report_periods import MOSCOW_PAYMENTS

    app, base = live_server
    payments_recorded(app, MOSCOW_PAYMENTS)
    context, page = signed_in(browser, base, "director")
    page.goto(f"{base}/reports/build?source=payments&choose=1")
    page.select_option("select[name=group1]", "recorded_at")
    page.select_option("select[name=group1_bucket]", "month")
    page.select_option("select[name=aggregate]", "sum")
    page.select_option("select[name=measure]", "amount")
    page.click("#run-report")
    page.wait_for_selector("#report-chart[data-drawn='1']")
    rows = [row.inner_text().split("\t") for row in page.locator("#report-table tbody tr").all()]
    assert [[cell.strip().replace("\xa0", " ") for cell in row] for row in rows] == [
        ["март 2027", "12 000"], ["апрель 2027", "13 000"], ["май 2027", "1 400"]]
    assert "апрель 2027" in page.inner_text("#report-chart")
    assert no_horizontal_scroll(page)
    screenshot(page, "reports-by-month")
    context.close()
