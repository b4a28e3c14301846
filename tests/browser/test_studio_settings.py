"""An analyst maps a diagram's Russian lane to a role and lets a role start the process, in the studio."""
from __future__ import annotations

import re

from tests.browser.conftest import signed_in
from tests.support.api import Api
from tests.support.diagrams import deploy_diagram


def test_an_analyst_maps_a_lane_and_grants_start_in_the_studio_settings(browser, live_server, screenshot):
    app, base = live_server
    api = Api(app, app.test_client())
    deploy_diagram(api, "ln_invoice.bpmn")

    context, page = signed_in(browser, base, "analyst")
    page.goto(f"{base}/studio/")
    page.click("#process-ln_invoice >> text=Настройки")
    page.wait_for_url(re.compile(r".*/studio/ln_invoice/settings$"))
    assert page.inner_text("#lane-0 td:first-child").strip() == "Бухгалтерия"
    assert page.locator("#lane_role_0 option:checked").inner_text().strip() == "— запустивший процесс —"

    page.select_option("#lane_role_0", "accountant")
    page.check('#start-roles input[value="accountant"]')
    page.click("#save-settings")
    page.wait_for_selector("text=Настройки процесса сохранены")
    assert page.locator("#lane_role_0 option:checked").inner_text().strip() == "Бухгалтер / кассир"
    assert page.locator("#lane_role_1 option:checked").inner_text().strip() == "— запустивший процесс —"
    assert page.is_checked('#start-roles input[value="accountant"]')
    screenshot(page, "studio-settings")

    settings = api.get("/processes/ln_invoice/settings").get_json()
    assert settings["lanes"][0]["role"] == "accountant" and settings["start_roles"] == ["accountant"]
    assert api.post("/processes/ln_invoice/instances", {"data": {}}, as_="accountant").status_code == 201
    context.close()
