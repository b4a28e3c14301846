"""«Новый процесс» in the studio: an analyst uploads two BPMN files that call each other, then a changed diagram
under a process id already taken, which is published only after the confirmation."""
from __future__ import annotations

import re

from tests.browser.conftest import follow, signed_in
from tests.support.api import Api
from tests.support.diagrams import DATA


def test_an_analyst_uploads_a_bundle_and_confirms_a_replace(browser, live_server, screenshot, tmp_path):
    app, base = live_server
    api = Api(app, app.test_client())
    context, page = signed_in(browser, base, "analyst")
    page.goto(f"{base}/studio/")
    page.click("#new-process")
    page.wait_for_url(re.compile(r".*/studio/new$"))
    page.set_input_files('#upload-form input[name="bpmn"]',
                         [str(DATA / n) for n in ("bd_trip.bpmn", "bd_budget.bpmn", "bd_notice.bpmn")])
    page.set_input_files('#upload-form input[name="extra"]', [str(DATA / "bd-budget.schema.json")])
    screenshot(page, "studio-new-process")
    page.click('#upload-form button')
    page.wait_for_url(re.compile(r".*/studio/(#.*)?$"))
    for process_id in ("bd_trip", "bd_budget", "bd_notice"):
        assert page.locator(f"#process-{process_id}").count() == 1
    assert "bd_trip v1" in page.inner_text("body")
    # The caller's call activity names the process it calls, a link to it in the studio.
    page.locator("#process-bd_trip").get_by_role("link", name="Открыть в студии").click()
    page.wait_for_selector("#studio.loaded")
    page.locator('g.djs-element[data-element-id="call_budget"]').click()
    page.click('[data-open-process="bd_budget"]')
    page.wait_for_url(re.compile(r".*/studio/bd_budget$"))
    assert page.get_attribute("#studio", "data-process-id") == "bd_budget"

    changed = tmp_path / "bd_notice.bpmn"
    changed.write_text((DATA / "bd_notice.bpmn").read_text().replace("Подписать приказ", "Завизировать приказ"))
    page.goto(f"{base}/studio/new")
    page.set_input_files('#upload-form input[name="bpmn"]', [str(changed)])
    page.fill('#upload-form input[name="comment"]', "Визирование вместо подписи")
    follow(page, '#upload-form button')
    clash = page.inner_text("#clash")
    assert "bd_notice" in clash and "v1" in clash and "analyst" in clash
    assert [v["version"] for v in api.get("/processes/bd_notice/versions").get_json()["items"]] == [1]
    screenshot(page, "studio-new-process-clash")
    page.click("#confirm-replace")
    page.wait_for_url(re.compile(r".*/studio/(#.*)?$"))
    assert page.inner_text("#version-bd_notice-2").count("Визирование вместо подписи") == 1
    versions = api.get("/processes/bd_notice/versions").get_json()["items"]
    assert [(v["version"], v["active"]) for v in versions] == [(2, True), (1, False)]

    page.goto(f"{base}/studio/new")
    page.fill('#blank-form input[name="process_id"]', "плохой код")
    page.fill('#blank-form input[name="name"]', "Пустой процесс")
    follow(page, '#blank-form button')
    assert page.locator("#err-process_id").count() == 1
    assert page.input_value('#blank-form input[name="name"]') == "Пустой процесс"  # nothing typed is lost
    page.fill('#blank-form input[name="process_id"]', "bd_blank")
    page.click('#blank-form button')
    page.wait_for_url(re.compile(r".*/studio/(#.*)?$"))
    assert "Пустой процесс" in page.inner_text("#process-bd_blank")
    context.close()
