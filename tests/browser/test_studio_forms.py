"""The analyst builds a task form in the studio's form editor, watching the live preview the task page would show."""
from __future__ import annotations

import json
import re
from pathlib import Path

from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.extensions import db
from app.models import ProcessDraft
from tests.browser.conftest import DESKTOP, sign_in

ROOT = Path(__file__).resolve().parent.parent.parent
CALL_RESULTS = [("confirmed", "Подтвердил заказ"), ("call_back", "Перезвонить"), ("refused", "Отказ")]


def _add_field(page: Page, title: str, key: str, kind: str) -> None:
    page.fill("#new-title", title)
    page.fill("#new-key", key)
    page.select_option("#new-kind", kind)
    page.click("#add-field")
    expect(page.locator(f'#field-list > li[data-key="{key}"]')).to_be_visible()


def _field(page: Page, key: str):
    return page.locator(f'#field-list > li[data-key="{key}"]')


def _preview_labels(page: Page, field: str) -> list[str]:
    return page.locator(f'#preview select[name="{field}"] option').all_inner_texts()


def build_call_customer_form(page: Page, process_id: str = "order_lifecycle", name: str = "call_customer.schema.json",
                             base: str | None = None) -> None:
    """In a signed-in analyst's page: build «Звонок заказчику» through the editor's UI and save it into the draft.

    `base` is the server's address, by default that of the page's current address (it must be on the app).

    Fields «Дозвонились» (yes/no, required), «Итог звонка» (a choice of «Подтвердил заказ», «Перезвонить», «Отказ»,
    required) and «Комментарий» (multi-line, required when the result is «Отказ»); built in another order and
    moved into place by dragging and by the arrow buttons.
    """
    base = base or re.match(r"https?://[^/]+", page.url).group(0)
    page.goto(f"{base}/studio/{process_id}/forms/{name}")
    page.fill("#form-title", "Звонок заказчику")
    _add_field(page, "Комментарий", "comment", "textarea")
    _add_field(page, "Дозвонились", "reached", "boolean")
    _field(page, "reached").locator('input[data-prop="required"]').check()
    _add_field(page, "Итог звонка", "call_result", "enum")
    result = _field(page, "call_result")
    result.locator('input[data-prop="required"]').check()
    for index, (value, label) in enumerate(CALL_RESULTS):
        result.locator("[data-add-option]").click()
        option = result.locator(f'[data-option="{index}"]')
        option.locator('input[data-prop="label"]').fill(label)
        option.locator('input[data-prop="value"]').fill(value)
    expect(page.locator('#preview select[name="call_result"] option')).to_have_count(4)

    # Reorder, with the fields folded: «Дозвонились» dragged to the top, «Итог звонка» moved up with its arrow.
    for key in ("comment", "reached", "call_result"):
        _field(page, key).locator(".field-toggle").click()
    expect(page.locator("#field-list .field-body")).to_have_count(0)
    _field(page, "reached").locator(".handle").drag_to(_field(page, "comment").locator(".field-head"))
    expect(page.locator("#field-list > li[data-key]").first).to_have_attribute("data-key", "reached")
    result.locator('[data-move="-1"]').click()
    expect(page.locator("#field-list > li[data-key]")).to_have_count(3)
    assert page.eval_on_selector_all("#field-list > li[data-key]", "items => items.map(i => i.dataset.key)") == [
        "reached", "call_result", "comment"]

    # «Комментарий» is required when the result is «Отказ».
    page.click("#add-condition")
    condition = page.locator('#condition-list > li[data-condition="0"]')
    condition.locator('select[data-prop="if-field"]').select_option("call_result")
    condition.locator('select[data-prop="if-value"]').select_option("refused")
    condition.locator('.then input[value="comment"]').check()

    page.keyboard.press("Control+s")
    expect(page.locator("#save-state")).to_have_text("Сохранено в черновик")


def test_the_analyst_builds_the_call_form_with_a_live_preview_and_saves_it_into_the_draft(browser, live_server,
                                                                                            screenshot):
    app, base = live_server
    context = browser.new_context(viewport=DESKTOP, locale="ru-RU")
    page = context.new_page()
    sign_in(page, base, "analyst")
    build_call_customer_form(page, "order_lifecycle", "call_customer.schema.json")

    # The preview is the task page's form: the choice with its three labels, the fields in the order set.
    assert _preview_labels(page, "call_result") == ["— выберите —"] + [label for _, label in CALL_RESULTS]
    # (the preview is redrawn 0.3 s after the last change: wait for the one after the reorder, don't read it early)
    expect(page.locator("#preview")).to_have_text(re.compile("Дозвонились.*Итог звонка.*Комментарий", re.S))
    # Tried out as an employee would: «Отказ» without a comment is refused on the comment.
    page.check('#preview input[name="reached"][value="true"]')
    page.select_option('#preview select[name="call_result"]', "refused")
    page.click('#preview button:has-text("Готово")')
    expect(page.locator("#preview #f-comment-error")).to_have_text("Обязательное поле")
    expect(page.locator("#preview-state")).to_have_text("проверка: есть ошибки")
    expect(page.locator("#preview select[name=call_result]")).to_have_value("refused")
    _field(page, "call_result").locator(".field-toggle").click()  # unfolded: its choices with labels and values
    expect(_field(page, "call_result").locator('[data-option="2"] input[data-prop="label"]')).to_have_value("Отказ")
    expect(page.locator("#new-form-badge")).to_have_count(0)
    screenshot(page, "studio-form-editor")

    with app.app_context():
        draft = db.session.execute(select(ProcessDraft)).scalar_one()
        schema, ui = draft.forms["call_customer.schema.json"], draft.forms["call_customer.uischema.json"]
    assert schema["title"] == "Звонок заказчику"
    assert schema["required"] == ["reached", "call_result"]
    assert schema["properties"]["call_result"]["enum"] == [value for value, _ in CALL_RESULTS]
    assert schema["properties"]["call_result"]["x-enumNames"] == [label for _, label in CALL_RESULTS]
    assert schema["allOf"] == [{"if": {"properties": {"call_result": {"const": "refused"}},
                                       "required": ["call_result"]}, "then": {"required": ["comment"]}}]
    assert ui["ui:order"] == ["reached", "call_result", "comment"] and ui["comment"] == {"ui:widget": "textarea"}

    # Raw JSON: a typo is shown and kept, nothing is saved until it is fixed.
    page.click("#tab-schema")
    text = page.input_value("#json-schema")
    assert json.loads(text) == schema
    page.fill("#json-schema", text.replace('"Звонок заказчику"', '"Звонок заказчику",', 1))
    expect(page.locator("#json-schema-error")).to_contain_text("JSON с ошибкой")
    page.keyboard.press("Control+s")
    expect(page.locator("#save-state")).to_contain_text("Не сохранено")
    assert '"Звонок заказчику",' in page.input_value("#json-schema")  # the typed text is still there
    page.fill("#json-schema", text.replace('"Звонок заказчику"', '"Звонок заказчику (исходящий)"', 1))
    expect(page.locator("#json-schema-error")).to_have_text("")
    page.click("#save-form")
    expect(page.locator("#save-state")).to_have_text("Сохранено в черновик")
    expect(page.locator("#preview h2")).to_have_text("Звонок заказчику (исходящий)")

    # The process's forms list the new one; reopened, the editor shows what was saved.
    page.goto(f"{base}/studio/order_lifecycle/forms")
    expect(page.locator('#form-list tr[id="form-call_customer.schema.json"]')).to_contain_text(
        "Звонок заказчику (исходящий)")
    page.click("text=call_customer.schema.json")
    expect(page.locator("#field-list > li[data-key]")).to_have_count(3)
    assert _preview_labels(page, "call_result")[1:] == [label for _, label in CALL_RESULTS]
    context.close()


def test_a_problem_is_shown_next_to_its_rule_and_unsaved_changes_are_guarded(browser, live_server):
    app, base = live_server
    context = browser.new_context(viewport=DESKTOP, locale="ru-RU")
    page = context.new_page()
    sign_in(page, base, "analyst")
    page.goto(f"{base}/studio/order_lifecycle/forms/call_customer.schema.json")
    _add_field(page, "Итог звонка", "call_result", "text")
    key = _field(page, "call_result").locator('input[data-prop="key"]')
    key.fill("Итог")
    key.press("Tab")
    expect(_field(page, "call_result")).to_contain_text("Ключ «Итог»: латинские строчные буквы")
    assert key.input_value() == "Итог"  # kept as typed, to be corrected
    key.fill("result")
    key.press("Tab")
    expect(_field(page, "result")).to_be_visible()
    page.click("#add-rule")
    rule = page.locator('#rule-list > li[data-rule="0"]')
    rule.locator('input[data-prop="rule-if"]').fill("__import__('os')")
    rule.locator('input[data-prop="rule-message"]').fill("Нельзя")
    expect(rule.locator("ul.problems")).to_contain_text("does not compile")
    assert rule.locator('select[data-prop="rule-field"]').input_value() == "result"  # the renamed key
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.dismiss()))
    page.click("text=Все формы")  # leaving with unsaved changes asks first; dismissed, the page stays
    for _ in range(50):  # the question comes on its own time (a loaded machine is slow to ask)
        if dialogs:
            break
        page.wait_for_timeout(100)
    assert dialogs == ["beforeunload"]
    assert "/forms/call_customer.schema.json" in page.url
    context.close()


def test_a_form_opened_and_saved_unchanged_is_saved_as_it_was(browser, live_server):
    app, base = live_server
    context = browser.new_context(viewport=DESKTOP, locale="ru-RU")
    page = context.new_page()
    sign_in(page, base, "analyst")
    page.goto(f"{base}/studio/order_lifecycle/forms/measurement.schema.json")
    _field(page, "measurement_result").locator(".field-toggle").click()  # looked at, not changed
    expect(_field(page, "measurement_result").locator('[data-option="1"] input[data-prop="label"]')).to_have_value(
        "Заказчик отсутствовал")
    page.click("#save-form")
    expect(page.locator("#save-state")).to_have_text("Сохранено в черновик")
    with app.app_context():
        draft = db.session.execute(select(ProcessDraft)).scalar_one()
        saved = {name: draft.forms[name] for name in ("measurement.schema.json", "measurement.uischema.json")}
    originals = {name: json.loads((ROOT / "forms" / name).read_text(encoding="utf-8")) for name in saved}
    assert saved == originals
    context.close()
