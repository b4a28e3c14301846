"""A process no order starts, walked in the browser: the admin starts «Заявка на отгул» from «Процессы» with its
start form, sales approves it from the inbox, the admin hands in the pass (a manual task: «Готово»), it is done."""
from __future__ import annotations

from tests.browser.conftest import follow, no_horizontal_scroll, signed_in
from tests.support.api import Api
from tests.support.diagrams import deploy_diagram


def test_an_admin_starts_a_process_sales_approves_it_and_the_manual_task_finishes_it(browser, live_server,
                                                                                     screenshot):
    app, base = live_server
    deploy_diagram(Api(app, app.test_client()), "leave_request.bpmn")  # its lane «sales» is a role already
    errors: list[str] = []

    context, page = signed_in(browser, base, "admin")
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.click('nav.mainnav a:has-text("Процессы")')
    page.wait_for_url(f"{base}/processes")
    page.click('[data-process="leave_request"] a:has-text("Запустить")')
    page.wait_for_url(f"{base}/processes/leave_request/start")
    page.fill('input[name="days"]', "40")  # over the form's 14
    page.fill('[name="reason"]', "Переезд на новую квартиру")
    page.click('button[type="submit"]')
    page.wait_for_selector("#f-days-error")
    assert "Процесс не запущен" in page.locator(".error-box").inner_text()
    assert page.input_value('[name="reason"]') == "Переезд на новую квартиру"  # nothing typed is lost
    assert page.input_value('input[name="days"]') == "40"
    screenshot(page, "generic-start-refused")

    page.fill('input[name="days"]', "2")
    page.click('button[type="submit"]')
    page.wait_for_url(lambda url: "/processes/instances/" in url)
    instance_url = page.url
    assert "Выполняется" in page.locator(".order-head").inner_text()
    assert "Согласовать отгул" in page.locator("#instance-tasks").inner_text()
    # A diagram drawn without a layout (no BPMNDiagram) cannot be drawn: the page says so instead of failing.
    assert page.locator("#instance-no-diagram").is_visible()
    screenshot(page, "generic-instance-running")

    sales_context, sales = signed_in(browser, base, "sales")
    sales.on("pageerror", lambda exc: errors.append(str(exc)))
    sales.goto(f"{base}/inbox?tab=queue")
    row = sales.locator("tr", has=sales.locator('a:has-text("Согласовать отгул")'))
    assert "Заявка на отгул" in row.inner_text()
    screenshot(sales, "generic-inbox")
    row.locator('a:has-text("Согласовать отгул")').click()
    sales.wait_for_selector("#instance-context")
    assert "Заявка на отгул" in sales.locator("#instance-context").inner_text()
    sales.check('input[type=checkbox][name="approved"]')
    sales.fill('[name="comment"]', "Согласовано, хорошего переезда")
    screenshot(sales, "generic-approve")
    sales.click('button[type="submit"]')
    sales.wait_for_selector("text=Задача выполнена")
    sales_context.close()

    page.goto(f"{base}/inbox")
    page.click('a:has-text("Сдать пропуск на вахту")')
    page.wait_for_selector("#task-documentation")
    assert page.locator("#task-documentation").inner_text() == "Отнесите пропуск на вахту до конца дня."
    assert no_horizontal_scroll(page)
    screenshot(page, "generic-manual-task")
    page.click('button[type="submit"]:has-text("Готово")')
    page.wait_for_selector("text=Задача выполнена")

    page.goto(instance_url)
    assert page.locator('.order-head [data-status="completed"]').inner_text() == "Завершён"
    assert "Согласовано, хорошего переезда" in page.locator("#instance-data").inner_text()
    assert "Задача «Сдать пропуск на вахту»: выполнена" in page.locator("#instance-history").inner_text()
    screenshot(page, "generic-instance-completed")
    follow(page, 'nav.mainnav a:has-text("Процессы")')
    row = page.locator("#instances tbody tr")
    assert row.count() == 1 and "Завершён" in row.inner_text()
    screenshot(page, "generic-processes")
    assert errors == []
    context.close()


def test_a_process_without_a_start_form_starts_with_one_button_and_its_diagram_shows_where_it_stands(
        browser, live_server, screenshot):
    app, base = live_server
    deploy_diagram(Api(app, app.test_client()), "pages_checklist.bpmn")
    errors: list[str] = []
    context, page = signed_in(browser, base, "analyst")
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{base}/processes/pages_checklist/start")
    assert "Процесс запускается без данных." in page.locator(".task-form").inner_text()
    page.click('button[type="submit"]:has-text("Запустить")')
    # A task outside any lane is the starter's own: the start lands on it.
    page.wait_for_selector("#task-documentation")
    assert "Включите свет в шоуруме" in page.locator("#task-documentation").inner_text()
    page.click("#task-instance")
    page.wait_for_selector("#instance-diagram[data-ready]", timeout=20000)
    assert page.get_attribute("#instance-diagram", "data-ready") == "true", page.inner_text("#instance-diagram")
    assert page.locator('.djs-element.st-active[data-element-id="check_showroom"]').count() == 1
    assert page.locator('.djs-element.st-done[data-element-id="start"]').count() == 1
    screenshot(page, "generic-instance-diagram")
    assert errors == []
    context.close()
