"""The analyst's part of the studio scenario in a real browser: a user task added to the lifecycle in bpmn-js, its
validation marker, the fix, the deploy of v2 — and the DMN table edited in dmn-js."""
from __future__ import annotations

import re

from sqlalchemy import select

from app.extensions import db
from app.models import ProcessDefinition
from tests.browser.conftest import signed_in

CALL = "Звонок заказчику"


def open_studio(page, base: str) -> None:
    page.goto(f"{base}/studio/")
    page.locator("#process-order_lifecycle").get_by_role("link", name="Открыть в студии").click()
    page.wait_for_selector("#studio.loaded")


def element_of(page, name: str) -> str | None:
    """The id of the diagram element with this name (what the analyst sees as its label)."""
    return page.evaluate("""(name) => {
        const found = window.bespokeModeler.get('elementRegistry').filter((e) => e.businessObject.name === name
                                                                            && e.type !== 'label');
        return found.length ? found[0].id : null;
    }""", name)


def shape(page, element_id: str):
    return page.locator(f'g.djs-element[data-element-id="{element_id}"]')


def add_call_task(page) -> str:
    """Select «Новый заказ» on the diagram and append a user task to it from the context pad, named by typing."""
    page.evaluate("window.bespokeModeler.get('canvas').scrollToElement('new_order', {top: 200, left: 300})")
    shape(page, "new_order").click()
    page.click('.djs-context-pad [data-action="append.append-task"]')
    page.keyboard.type(CALL)
    page.keyboard.press("Enter")  # the label is done
    task = element_of(page, CALL)
    assert task is not None
    # Still selected: a plain task becomes a user task through the wrench (replace) menu, as an analyst does it.
    page.click('.djs-context-pad [data-action="replace"]')
    page.click('.djs-popup [data-id="replace-with-user-task"]')
    task = element_of(page, CALL)
    page.wait_for_function("(id) => window.bespokeModeler.get('elementRegistry').get(id).type === 'bpmn:UserTask'",
                           arg=task)
    return task


def lead_on_to_decision(page, task: str) -> None:
    """The fix, with the mouse: the flow from «Новый заказ» to its decision goes, the call leads on to it instead."""
    page.mouse.click(*on_screen(page, "flow_new_order__gw_new_order"))
    assert selected(page) == ["flow_new_order__gw_new_order"]
    page.click('.djs-context-pad [data-action="delete"]')
    # The new task lies across other flows, where a click lands on them: it is selected the way the list does it.
    page.evaluate("(id) => window.bespokeModeler.get('selection').select("
                  "window.bespokeModeler.get('elementRegistry').get(id))", task)
    assert selected(page) == [task]
    page.click('.djs-context-pad [data-action="connect"]')
    page.mouse.move(*on_screen(page, "gw_new_order"), steps=5)
    page.mouse.click(*on_screen(page, "gw_new_order"))


def save(page) -> None:
    page.keyboard.press("Control+s")
    page.wait_for_selector("#dirty-mark", state="hidden")
    page.wait_for_function("() => !document.querySelector('#notice').textContent.includes('Сохраняю')")


def on_screen(page, element_id: str) -> tuple[float, float]:
    """Where on the page the middle of an element is drawn (a connection: near the end of its last segment, clear
    of the flows that leave the same element beside it)."""
    return tuple(page.evaluate("""(id) => {
        const modeler = window.bespokeModeler, canvas = modeler.get('canvas');
        const e = modeler.get('elementRegistry').get(id), box = canvas.viewbox();
        const rect = document.querySelector('#canvas').getBoundingClientRect();
        const w = e.waypoints, n = w ? w.length : 0;
        const [x, y] = w ? [w[n - 2].x + (w[n - 1].x - w[n - 2].x) * 0.8, w[n - 2].y + (w[n - 1].y - w[n - 2].y) * 0.8]
                         : [e.x + e.width / 2, e.y + e.height / 2];
        return [rect.left + (x - box.x) * box.scale, rect.top + (y - box.y) * box.scale];
    }""", element_id))


def marked(page, element_id: str, kind: str = "bespoke-error", present: bool = True) -> None:
    page.wait_for_function("([id, kind, present]) => document.querySelector(`g[data-element-id='${id}']`)"
                           ".classList.contains(kind) === present", arg=[element_id, kind, present])


def selected(page) -> list[str]:
    return page.evaluate("window.bespokeModeler.get('selection').get().map((e) => e.id)")


def problem(page, element_id: str):
    return page.locator("#problem-list li.problem", has_text=element_id)


def test_the_analyst_adds_a_call_task_sees_its_problems_fixes_them_and_deploys_v2(browser, live_server, screenshot):
    app, base = live_server
    context, page = signed_in(browser, base, "analyst")
    open_studio(page, base)
    assert "Черновика нет" in page.inner_text("#draft-owner")
    assert page.inner_text("#problem-count") == "0"

    task = add_call_task(page)
    save(page)
    # Appending left «Новый заказ» with two outgoing flows: the server says so, on «Новый заказ».
    marked(page, "new_order")
    assert "Multiple outgoing flows" in problem(page, "new_order").inner_text()
    assert page.is_disabled("#open-publish")

    lead_on_to_decision(page, task)
    save(page)
    marked(page, "new_order", present=False)
    # Now the call itself: a stage of the lifecycle without a form records nothing — a warning (amber), on the
    # diagram and in the list with its name and id; publishing is no longer held back.
    marked(page, task, kind="bespoke-warning")
    item = problem(page, task)
    assert CALL in item.inner_text() and "formJsonSchemaFilename" in item.inner_text()
    assert not page.is_disabled("#open-publish")
    assert page.locator(".bespoke-problem-bubble").first.is_visible()
    screenshot(page, "studio-modeler")

    # The list leads to the element; the properties panel gives it a form and shows the sales lane it is in.
    item.locator("button").click()
    page.wait_for_selector('#properties-body select[data-key="form"]')
    assert "sales" in page.locator('#properties-body select[data-key="lane"] option:checked').inner_text()
    page.select_option('#properties-body select[data-key="form"]', "new_order.schema.json")
    assert page.locator('#properties-body select[data-key="ui_form"]').input_value() == "new_order.uischema.json"
    save(page)
    marked(page, task, kind="bespoke-warning", present=False)
    assert page.locator("#problem-list li.problem").count() == 0
    assert "Проблем нет" in page.inner_text("#problem-list")

    page.click("#open-publish")
    page.click("#publish-submit")  # no comment yet: the dialog says it is required
    assert page.is_visible("#publish-error")
    page.fill("#publish-comment", "Звонок заказчику после нового заказа")
    page.click("#publish-submit")
    page.wait_for_url(f"{base}/studio/")
    assert "Опубликована версия v2" in page.inner_text("body")
    row = page.inner_text("#version-order_lifecycle-2")
    assert "студия" in row and "эта версия" in row and "Звонок заказчику после нового заказа" in row
    screenshot(page, "studio-deployed")
    with app.app_context():
        v2 = db.session.execute(select(ProcessDefinition).where(ProcessDefinition.version == 2)).scalar_one()
        assert v2.active and v2.source == "studio" and f'name="{CALL}"' in v2.bpmn_xml
        assert '<spiffworkflow:property name="formJsonSchemaFilename" value="new_order.schema.json"' in v2.bpmn_xml
        assert f"<bpmn:flowNodeRef>{task}</bpmn:flowNodeRef>" in v2.bpmn_xml
    context.close()


def test_the_panel_edits_what_the_engine_reads_and_the_sla_table_is_edited_in_dmn_js(browser, live_server, screenshot):
    app, base = live_server
    context, page = signed_in(browser, base, "analyst")
    open_studio(page, base)
    # A service task: its operator, parameters and retries as the lifecycle declares them.
    page.evaluate("window.bespokeModeler.get('canvas').scrollToElement('notify_order_received', {top: 200, left: 300})")
    shape(page, "notify_order_received").click()
    assert page.locator('#properties-body select[data-key="operator"]').input_value() == "notify"
    assert page.locator('#properties-body input[data-key="retries"]').input_value() == "5"
    page.fill('#properties-body input[data-key="retries"]', "7")
    page.keyboard.press("Tab")
    # An SLA timer shows which task it watches and its key.
    page.evaluate("window.bespokeModeler.get('canvas').scrollToElement('new_order_sla', {top: 200, left: 300})")
    shape(page, "new_order_sla").click()
    assert "Новый заказ" in page.inner_text("#properties-body")
    assert page.locator('#properties-body select[data-key="sla-key"]').input_value() == "new_order"
    # A user task without SLA timers gets the standard three with one button.
    page.evaluate("window.bespokeModeler.get('canvas').scrollToElement('feedback', {top: 200, left: 300})")
    shape(page, "feedback").click()
    page.click("#properties-body [data-add-sla]")
    timers = page.evaluate("""() => window.bespokeModeler.get('elementRegistry').get('feedback').attachers
        .filter((b) => b.businessObject.name && b.businessObject.name.startsWith('SLA'))
        .map((b) => [b.businessObject.name, b.businessObject.cancelActivity,
                     b.businessObject.eventDefinitions[0].timeDate.body])""")
    assert timers == [["SLA 75 %", False, "sla_due(sla['new_order'], 0.75)"],
                      ["SLA 100 %", False, "sla_due(sla['new_order'])"],
                      ["SLA 200 %", False, "sla_due(sla['new_order'], 2)"]]
    assert page.locator("#properties-body [data-add-sla]").count() == 0
    save(page)
    with app.app_context():
        from app.models import ProcessDraft

        bpmn = db.session.execute(select(ProcessDraft.bpmn_xml)).scalar_one()
    assert '<spiffworkflow:retry retries="7" backoff_base="2"' in bpmn
    assert bpmn.count('attachedToRef="feedback"') == 4
    assert '<spiffworkflow:property name="sla_level" value="director"' in bpmn

    # A user task's panel: its lane, form, SLA timers and bindings.
    page.evaluate("window.bespokeModeler.get('canvas').scrollToElement('new_order', {top: 200, left: 300})")
    shape(page, "new_order").click()
    assert page.locator('#properties-body select[data-key="form"]').input_value() == "new_order.schema.json"
    assert page.locator('#properties-body select[data-key="binding-bespoke:milestone"]').input_value() == "received"
    screenshot(page, "studio-panel")
    # A lane's role is its name; a flow leaving a gateway has its condition.
    pick = "(id) => window.bespokeModeler.get('selection').select(window.bespokeModeler.get('elementRegistry').get(id))"
    page.evaluate(pick, "lane_designer")
    assert page.locator('#properties-body select[data-key="role"]').input_value() == "designer"
    page.evaluate(pick, "flow_gw_contract__design")
    condition = page.locator('#properties-body textarea[data-key="condition"]').input_value()
    assert condition == "contract_outcome == 'to_design'"

    page.click('a:has-text("DMN: sla.dmn")')
    page.wait_for_selector(".tjs-table")
    cell = page.locator('td[data-element-id="sla_rule_wardrobe_new_order"]')
    cell.click()
    page.keyboard.press("Control+a")
    page.keyboard.type("2")
    page.click('button#save-dmn')
    page.wait_for_function("() => document.querySelector('#notice').textContent.includes('сохранена')")
    screenshot(page, "studio-dmn")
    with app.app_context():
        from app.models import ProcessDraft

        dmn = db.session.execute(select(ProcessDraft.dmn_files)).scalar_one()["sla.dmn"]
    assert re.search(r'<outputEntry id="sla_rule_wardrobe_new_order">\s*<text>2</text>', dmn)
    context.close()
