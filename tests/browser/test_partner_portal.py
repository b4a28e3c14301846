"""The point of sale on a phone: its orders, a new order for a walk-in customer, the card, the statement."""
from __future__ import annotations

import re

from tests.browser.conftest import PHONE, no_horizontal_scroll
from tests.support.api import Api
from tests.test_partner_portal import make_order


def test_a_point_of_sale_works_its_portal_from_a_phone(browser, live_server, screenshot):
    app, base = live_server
    api = Api(app, app.test_client())
    priced = make_order(api, "kitchen", price="120000", payments=(("20000", "partner"), ("30000", "company")))
    foreign = make_order(api, "wardrobe", "agent_ivanov")
    context = browser.new_context(viewport=PHONE, locale="ru-RU", is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(f"{base}/login")
    page.fill('input[name="login"]', "partner_mega")
    page.fill('input[name="password"]', "demo")
    page.click('button:has-text("Войти")')
    page.wait_for_url(re.compile(r".*/partner$"))
    body = page.inner_text("body")
    assert priced in body and foreign not in body
    assert no_horizontal_scroll(page)
    screenshot(page, "partner-phone-orders")

    # A walk-in customer: the order is taken at the counter and the customer's link is handed over.
    page.click("nav >> text=Новый заказ")
    page.fill('input[name="customer.name"]', "Орлова Вера Николаевна")
    page.fill('input[name="customer.phone"]', "+7 903 555-12-34")
    page.select_option('select[name="kind"]', "kitchen")
    page.fill('input[name="address"]', "г. Москва, Ленинский пр-т, д. 99, кв. 3")
    page.click('button:has-text("Создать заказ")')
    page.wait_for_url(re.compile(r".*/partner/orders/\d{4}-\d{5}$"))
    body = page.inner_text("body")
    assert "Орлова Вера Николаевна" in body and "Ссылка для заказчика" in body and "/s/" in body
    assert no_horizontal_scroll(page)
    screenshot(page, "partner-phone-new-order-card")

    # The priced order's settlement: 10 % of 120 000, and the 20 000 taken at the counter.
    page.goto(f"{base}/partner/orders/{priced}")
    body = re.sub(r"[\u00a0\u202f]", " ", page.inner_text("body"))  # money is formatted with no-break spaces
    assert "12 000,00 ₽ (10 %)" in body and "Оплачено в точке продаж\n20 000,00 ₽" in body
    assert "Заказчик ещё должен\n70 000,00 ₽" in body and "8 000,00 ₽" in body
    assert no_horizontal_scroll(page)
    screenshot(page, "partner-phone-card")

    page.click("nav >> text=Сверка")
    page.wait_for_url(re.compile(r".*/partner/settlements.*"))
    body = page.inner_text("body")
    assert priced in body and foreign not in body
    assert no_horizontal_scroll(page)
    screenshot(page, "partner-phone-settlements")
    with page.expect_download() as download:
        page.click("text=Excel")
    assert download.value.suggested_filename.startswith("sverka-mega-")
    context.close()
