"""The issue's whole studio scenario in one browser run: the analyst adds «Звонок заказчику» after «Новый заказ» with a
form built in the form editor, sees the marker, fixes it and deploys v2; the admin diffs v1/v2, dry-runs and migrates
the orders waiting at «Планирование выезда на замер», rolls back to v1, and a new order then runs v1.

The pieces are tested in depth beside it (test_studio_modeler, test_studio_forms, test_studio_versions); this one
proves they make one path a user can walk."""
from __future__ import annotations

import re

from sqlalchemy import select

from app.extensions import db
from app.models import ProcessDefinition
from tests.browser.conftest import follow, signed_in
from tests.browser.test_studio_forms import build_call_customer_form
from tests.browser.test_studio_modeler import (
    CALL,
    add_call_task,
    lead_on_to_decision,
    marked,
    open_studio,
    problem,
    save,
    shape,
)
from tests.support.api import Api
from tests.support.versions import version_of_order


def test_the_analyst_deploys_a_call_task_and_the_admin_migrates_and_rolls_back(browser, live_server, screenshot):
    app, base = live_server
    api = Api(app, app.test_client())
    planning = [api.create_order(), api.create_order(kind="kitchen")]
    for number in planning:
        api.step(number, "new_order")  # now waiting at «Планирование выезда на замер»
    fresh = api.create_order()  # still at «Новый заказ»: not selected by the stage

    # -- the analyst -----------------------------------------------------------------------------------------------
    context, page = signed_in(browser, base, "analyst")
    open_studio(page, base)
    task = add_call_task(page)
    lead_on_to_decision(page, task)
    save(page)
    marked(page, "new_order", present=False)
    marked(page, task, kind="bespoke-warning")  # a stage without a form: marked (amber) and listed with its name
    assert CALL in problem(page, task).inner_text()

    # «Новая форма…» in the panel names the form and opens the form editor on it.
    problem(page, task).locator("button").click()
    page.wait_for_selector('#properties-body select[data-key="form"]')
    page.once("dialog", lambda dialog: dialog.accept("call_customer"))
    page.select_option('#properties-body select[data-key="form"]', "__new__")
    page.wait_for_url(re.compile(r".*/studio/order_lifecycle/forms/call_customer\.schema\.json$"))
    build_call_customer_form(page)
    screenshot(page, "studio-scenario-form")

    open_studio(page, base)
    page.evaluate("(id) => window.bespokeModeler.get('canvas').scrollToElement(id, {top: 200, left: 300})", task)
    shape(page, task).click()
    assert page.locator('#properties-body select[data-key="form"]').input_value() == "call_customer.schema.json"
    marked(page, task, kind="bespoke-warning", present=False)
    assert page.locator("#problem-list li.problem").count() == 0
    page.click("#open-publish")
    page.fill("#publish-comment", "Звонок заказчику после нового заказа")
    page.click("#publish-submit")
    page.wait_for_url(f"{base}/studio/")
    assert "Опубликована версия v2" in page.inner_text("body")
    context.close()
    with app.app_context():
        v2 = db.session.execute(select(ProcessDefinition).where(ProcessDefinition.version == 2)).scalar_one()
        assert v2.active and v2.source == "studio"
        assert set(v2.forms["call_customer.schema.json"]["properties"]) == {"reached", "call_result", "comment"}
        assert v2.forms["call_customer.uischema.json"]["ui:order"][:3] == ["reached", "call_result", "comment"]

    # -- the admin ---------------------------------------------------------------------------------------------------
    context, page = signed_in(browser, base, "admin")
    page.goto(f"{base}/studio/order_lifecycle/versions")
    page.click('button:has-text("Сравнить")')
    page.wait_for_url(re.compile(r".*/diff\?from=1&to=2$"))
    page.wait_for_selector('#diff-new[data-ready="true"]')
    assert page.locator(f'#diff-new [data-element-id="{task}"].diff-added').count() == 1
    assert CALL in page.inner_text("#changes")
    assert "call_customer.schema.json" in page.inner_text("#form-changes")
    screenshot(page, "studio-scenario-diff")

    page.goto(f"{base}/studio/order_lifecycle/versions")
    page.click("text=Перенести заказы")
    page.select_option('select[name="from_version"]', "1")
    page.select_option('select[name="to_version"]', "2")
    page.check('input[name="mode"][value="stage"]')
    page.select_option('select[name="stage"]', "Планирование выезда на замер")
    follow(page, 'button:has-text("Пробный прогон")')
    dry = page.inner_text("#dry-run")
    assert "можно перенести 2 из 2" in dry and all(number in dry for number in planning) and fresh not in dry
    page.click('button:has-text("Перенести")')
    page.wait_for_url(re.compile(r".*/studio/migrations/\d+$"))
    page.wait_for_selector("text=Завершён")
    assert "Перенесено: 2" in page.inner_text("#moved")
    screenshot(page, "studio-scenario-migration")
    assert [version_of_order(app, n) for n in [*planning, fresh]] == [2, 2, 1]

    page.goto(f"{base}/studio/order_lifecycle/versions")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click('#version-1 button:has-text("Сделать активной")')
    page.wait_for_selector("text=Новые заказы получают v1 (было v2)")
    context.close()

    newcomer = api.create_order()
    assert version_of_order(app, newcomer) == 1
    # The migrated orders go on on v2: their open task is still the planning one, and completing it works.
    api.step(planning[0], "plan_measurement")
    assert api.open_task(planning[0])["bpmn_id"] == "measurement"
