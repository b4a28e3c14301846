"""The admin in the studio: versions, the diff of v1 and v2 on the diagrams, a dry run and a migration, a rollback."""
from __future__ import annotations

import re

from tests.browser.conftest import follow, signed_in
from tests.support.api import Api
from tests.support.versions import deploy_v2, version_of_order


def test_an_admin_diffs_migrates_and_rolls_back(browser, live_server, screenshot):
    app, base = live_server
    api = Api(app, app.test_client())
    planning = [api.create_order(), api.create_order(kind="kitchen")]
    for number in planning:
        api.step(number, "new_order")
    measuring = api.create_order()
    api.walk(measuring, ["new_order", "plan_measurement"])
    deploy_v2(app)

    context, page = signed_in(browser, base, "admin")
    page.goto(f"{base}/studio/")
    page.click("#process-order_lifecycle >> text=Версии")
    page.wait_for_url(re.compile(r".*/studio/order_lifecycle/versions$"))
    assert page.inner_text("#version-2 td:nth-child(7)").strip() == "активная"
    assert page.inner_text("#version-1 td:nth-child(6)").strip() == "3"

    # The diff: v2's new task in green on the right, v1's «Замер» (gone under that id) in red on the left.
    page.click('button:has-text("Сравнить")')
    page.wait_for_url(re.compile(r".*/diff\?from=1&to=2$"))
    page.wait_for_selector('#diff-old[data-ready="true"]')
    page.wait_for_selector('#diff-new[data-ready="true"]')
    assert page.locator('#diff-new [data-element-id="call_customer"].diff-added').count() == 1
    assert page.locator('#diff-old [data-element-id="measurement"].diff-removed').count() == 1
    assert page.locator('#diff-old [data-element-id="gw_new_order"].diff-changed').count() == 1
    assert page.locator('#diff-new [data-element-id="gw_new_order"].diff-changed').count() == 1
    assert page.locator(".bjs-powered-by").count() == 2  # the bpmn.io watermark stays visible
    changes = page.inner_text("#changes")
    assert "Звонок заказчику" in changes and "call_customer" in changes
    assert "call_customer.schema.json" in page.inner_text("#form-changes")
    screenshot(page, "studio-diff")

    # Dry run over every order on v1, then the move.
    page.goto(f"{base}/studio/order_lifecycle/versions")
    follow(page, "text=Перенести заказы")
    stages = page.locator('select[name="stage"] option').all_inner_texts()
    assert stages == ["—", "Замер", "Планирование выезда на замер"]  # where the orders of v1 wait
    page.select_option('select[name="from_version"]', "1")
    page.select_option('select[name="to_version"]', "2")
    page.check('input[name="mode"][value="all"]')
    follow(page, 'button:has-text("Пробный прогон")')
    dry = page.inner_text("#dry-run")
    assert "можно перенести 2 из 3" in dry
    assert f"{measuring}\tнельзя задача «Замер» (measurement) отсутствует в v2" in dry
    assert all(version_of_order(app, n) == 1 for n in [*planning, measuring])
    screenshot(page, "studio-migration-dry-run")
    page.click('button:has-text("Перенести")')
    page.wait_for_url(re.compile(r".*/studio/migrations/\d+$"))
    page.wait_for_selector("text=Завершён")
    assert "Перенесено: 2" in page.inner_text("#moved") and "Не перенесено: 1" in page.inner_text("#failed")
    failed = page.inner_text("tr.item-failed")
    assert measuring in failed and "задача «Замер» (measurement) отсутствует в v2" in failed
    screenshot(page, "studio-migration")
    assert [version_of_order(app, n) for n in [*planning, measuring]] == [2, 2, 1]

    # Rollback: v1 again for new orders, after a confirmation that names both versions.
    page.goto(f"{base}/studio/order_lifecycle/versions")
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    page.click('#version-1 button:has-text("Сделать активной")')
    page.wait_for_selector("text=Новые заказы получают v1 (было v2)")
    assert asked and "v1 вместо v2" in asked[0]
    assert page.inner_text("#version-1 td:nth-child(7)").strip() == "активная"
    screenshot(page, "studio-versions")
    newcomer = api.create_order()
    assert version_of_order(app, newcomer) == 1
    context.close()
