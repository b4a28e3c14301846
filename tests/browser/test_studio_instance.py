"""The admin opens an order's process in the studio: the diagram highlighted where the order stands; suspend, resume."""
from __future__ import annotations

from tests.browser.conftest import DESKTOP, sign_in
from tests.support.api import Api


def test_the_admin_sees_the_order_on_its_diagram_suspends_and_resumes_it(browser, live_server, screenshot):
    app, base = live_server
    api = Api(app, app.test_client())
    number = api.create_order()
    api.walk(number, ["new_order", "plan_measurement"])

    context = browser.new_context(viewport=DESKTOP, locale="ru-RU")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, base, "admin")

    page.goto(f"{base}/orders/{number}")
    page.click("text=Процесс на схеме")
    page.wait_for_url(f"{base}/studio/orders/{number}")
    page.wait_for_selector('#instance-diagram[data-ready="true"]', timeout=20000)
    assert errors == []
    # The viewer drew the version and marked it: the visit active, what came before done, its timers waiting.
    assert page.locator('.djs-element.st-active[data-element-id="measurement"]').count() == 1
    assert page.locator('.djs-element.st-done[data-element-id="new_order"]').count() == 1
    assert page.locator('.djs-element.st-waiting[data-element-id="measurement_sla"]').count() == 1
    assert page.locator(".djs-connection.st-flow").count() >= 5
    assert page.locator(".bjs-powered-by").count() == 1  # the bpmn.io watermark stays
    fill = page.eval_on_selector('[data-element-id="measurement"] .djs-visual > :first-child',
                                 "node => getComputedStyle(node).fill")
    assert fill == "rgb(227, 237, 255)"  # the active colour, not the default white
    assert "роль measurer" in page.locator("#instance-tasks").inner_text()
    screenshot(page, "studio-instance")

    page.click("#action-suspend summary")
    page.fill("#action-suspend input[name=reason]", "Заказчик попросил паузу")
    page.click('#action-suspend button:has-text("Приостановить")')
    page.wait_for_selector("text=Процесс приостановлен")
    assert page.locator("#instance-status").inner_text() == "приостановлен"
    assert "Заказчик попросил паузу" in page.locator("#instance-history").inner_text()
    screenshot(page, "studio-instance-suspended")

    page.fill("#action-resume input[name=reason]", "Пауза окончена")
    page.click('#action-resume button:has-text("Возобновить")')
    page.wait_for_selector("text=Процесс возобновлён")
    assert page.locator("#instance-status").inner_text() == "выполняется"
    page.wait_for_selector('#instance-diagram[data-ready="true"]', timeout=20000)
    assert errors == []
    context.close()
