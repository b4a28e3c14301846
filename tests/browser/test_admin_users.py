"""The admin in a browser: a new user with two roles, a password reset, the account switched off."""
from __future__ import annotations

import re

from tests.browser.conftest import no_horizontal_scroll, signed_in
from tests.support.web import sign_in


def test_an_admin_creates_a_user_resets_the_password_and_deactivates_the_account(browser, live_server, screenshot):
    app, base = live_server
    context, page = signed_in(browser, base, "admin")
    page.click("nav >> text=Пользователи")
    page.wait_for_url(re.compile(r".*/admin/users$"))
    assert "Анна Продажина" in page.inner_text("table")  # the demo users are there to edit too

    page.click("text=+ Новый пользователь")
    page.fill('input[name="login"]', "orlova")
    page.fill('input[name="name"]', "Вера Орлова")
    page.fill('input[name="phone"]', "8 903 555-12-34")
    page.check('input[name="roles"][value="sales"]')
    page.check('input[name="roles"][value="dispatch"]')
    page.check('input[name="heads"][value="dispatch"]')
    page.click('button:has-text("Создать пользователя")')
    page.wait_for_selector("#new-password")
    first = page.inner_text("code.password")
    assert "Пользователь orlova создан" in page.inner_text("body")

    page.click('button:has-text("Сбросить пароль")')
    page.wait_for_selector("text=Пароль orlova сброшен")
    second = page.inner_text("code.password")
    assert second != first and len(second) >= 12
    screenshot(page, "admin-user-password-reset")
    assert sign_in(app.test_client(), "orlova", first).status_code == 401
    assert sign_in(app.test_client(), "orlova", second).status_code == 302

    page.click('button:has-text("Отключить")')
    page.wait_for_selector("text=Учётная запись orlova отключена")
    assert page.is_visible('button:has-text("Включить")')
    history = page.inner_text(".user-history")
    assert "Пароль сброшен" in history and "Менеджер по продажам" not in history and "dispatch, sales" in history
    screenshot(page, "admin-user-deactivated")
    assert sign_in(app.test_client(), "orlova", second).status_code == 401

    page.goto(f"{base}/admin/users?state=all&q=орлова")
    row = page.inner_text("table.users-table tbody tr")
    assert "Вера Орлова" in row and "Менеджер по продажам" in row and "Диспетчер планирования" in row
    assert "Служба планирования замеров" in row and "+79035551234" in row and "отключён" in row
    page.goto(f"{base}/admin/users?state=all")
    assert no_horizontal_scroll(page)
    screenshot(page, "admin-users")
    page.goto(f"{base}/admin/users/new")
    page.click('button:has-text("Создать пользователя")')  # nothing typed: every refusal beside its field
    page.wait_for_selector("text=Укажите логин")
    screenshot(page, "admin-user-form-errors")
    context.close()
