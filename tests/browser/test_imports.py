"""A sales manager imports orders from Excel in the browser: downloads the template, checks a file with a bad row,
imports it and sees the worker's result."""
from __future__ import annotations

import re

from tests.browser.conftest import follow, no_horizontal_scroll, signed_in
from tests.test_imports import GOOD, workbook


def test_sales_checks_and_imports_a_workbook(browser, live_server, screenshot, tmp_path):
    app, base = live_server
    path = tmp_path / "crm.xlsx"
    path.write_bytes(workbook([*GOOD, ["CRM-9", "Батут", "", "Кузнецов", "+79161234567", "", "Москва", "", ""]]))
    context, page = signed_in(browser, base, "sales")
    page.goto(f"{base}/orders")
    page.click("#orders-import")
    page.wait_for_url(re.compile(r".*/orders/import$"))
    with page.expect_download() as download:
        page.click("#import-template")
    assert download.value.suggested_filename == "import-zakazov.xlsx"
    page.set_input_files('input[name="file"]', str(path))
    follow(page, "#import-check")
    errors = page.locator("#import-errors tbody tr")
    assert errors.count() == 1 and "Батут" in errors.nth(0).inner_text() and "5" in errors.nth(0).inner_text()
    assert page.locator("#import-would-create tbody tr").count() == 3
    assert no_horizontal_scroll(page)
    screenshot(page, "imports-check")
    page.click("#import-checked")  # the checked file, not uploaded again
    page.wait_for_url(re.compile(r".*/orders/import/\d+$"))
    assert page.inner_text("#import-status") == "Готово"
    assert page.inner_text("#import-created") == "3" and page.inner_text("#import-failed") == "1"
    assert page.inner_text("#import-started") == "3 из 3"
    screenshot(page, "imports-done")
    context.close()
