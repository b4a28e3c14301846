"""One order from «Новый заказ» to «Производство» through the browser only, each role in turn."""
from __future__ import annotations

import re
import struct
import zlib
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.extensions import db
from app.models import Attachment, Notification, Order
from app.services.calendar import BusinessCalendar
from tests.browser.conftest import DESKTOP, PHONE, follow, no_horizontal_scroll
from tests.support.api import Api


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"\x00\xff\x00\x00" * 1
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


class Person:
    """A browser context signed in as one employee."""

    def __init__(self, browser, base: str, login: str, viewport=DESKTOP) -> None:
        self.context = browser.new_context(viewport=viewport, locale="ru-RU")
        self.page = self.context.new_page()
        self.base = base
        page = self.page
        page.goto(f"{base}/login")
        page.fill('input[name="login"]', login)
        page.fill('input[name="password"]', "demo")
        page.click('button:has-text("Войти")')
        page.wait_for_url(re.compile(r".*/(inbox|tasks/\d+).*"))

    def open_task(self, number: str, tab: str = "queue") -> None:
        page = self.page
        page.goto(f"{self.base}/inbox?tab={tab}")
        row = page.locator("tr", has_text=number)
        row.locator("a[href*='/tasks/']").first.click()
        page.wait_for_url(re.compile(r".*/tasks/\d+"))

    def close(self) -> None:
        self.context.close()


def test_an_order_travels_from_new_to_production_in_the_browser(browser, live_server, screenshot, tmp_path):
    app, base = live_server
    api = Api(app, app.test_client())
    others = [api.create_order(kind) for kind in ("kitchen", "wardrobe", "windows")]

    # Sales takes a phone call: a new order, then confirms three waiting ones in bulk.
    sales = Person(browser, base, "sales")
    page = sales.page
    page.goto(f"{base}/orders/new")
    page.fill('input[name="customer.name"]', "Смирнова Ольга Викторовна")
    page.fill('input[name="customer.phone"]', "+7 925 111-22-33")
    page.fill('input[name="address"]', "г. Москва, ул. Тверская, д. 8, кв. 45")
    page.select_option('select[name="kind"]', "wardrobe")
    page.fill('textarea[name="description"]', "Шкаф-купе в нишу прихожей")
    page.click('button[type="submit"]:has-text("Создать")')
    page.wait_for_url(re.compile(r".*/orders/\d{4}-\d{5}.*"))
    number = re.search(r"/orders/(\d{4}-\d{5})", page.url).group(1)
    assert "Новый заказ" in page.inner_text("body")

    page.goto(f"{base}/orders?stage=Новый заказ")
    for other in others:
        page.check(f'input[name="orders"][value="{other}"]')
    follow(page, 'button[name="bulk_action"][value="confirm"]')  # the result is the form's answer (no redirect)
    result = page.inner_text("body")
    for other in others:
        assert other in result
    assert result.count("Выполнено") >= 3 or result.count("выполнено") >= 3
    with app.app_context():
        stages = dict(db.session.execute(select(Order.number, Order.stage).where(Order.number.in_(others))).all())
    assert set(stages.values()) == {"Планирование выезда на замер"}

    sales.open_task(number)
    screenshot(page, "task-form-desktop")
    follow(page, 'button[name="decision"][value="confirm"]')
    assert "Задача выполнена" in page.inner_text("body")

    # The dispatcher books the measurer's visit.
    dispatch = Person(browser, base, "dispatch")
    dispatch.open_task(number)
    page = dispatch.page
    options = page.inner_text('select[name="measurer"]')
    assert "Игорь Замеров" in options
    page.select_option('select[name="measurer"]', "measurer")
    visit = date.today() + timedelta(days=2)
    while not BusinessCalendar(tz=ZoneInfo("Europe/Moscow")).is_working_day(visit):  # visits: working days only
        visit += timedelta(days=1)
    page.fill('input[name="visit_at"]', f"{visit.isoformat()}T10:30")
    follow(page, 'button[type="submit"]')
    dispatch.close()

    # The measurer works from a phone: a validation error first, then the report with a photo.
    measurer = Person(browser, base, "measurer", viewport=PHONE)
    page = measurer.page
    page.goto(f"{base}/inbox?tab=mine")
    assert number in page.inner_text("body")
    assert no_horizontal_scroll(page)
    screenshot(page, "inbox-phone")
    measurer.open_task(number, tab="mine")
    assert no_horizontal_scroll(page)
    page.fill('input[name="dimensions.width_mm"]', "2400")
    follow(page, 'button[name="measurement_result"][value="done"]')
    body = page.inner_text("body")
    assert "Форма не отправлена" in body and "Обязательное поле" in body
    assert page.input_value('input[name="dimensions.width_mm"]') == "2400"  # nothing typed is lost
    screenshot(page, "task-form-phone-error")
    photo = tmp_path / "ниша.png"
    photo.write_bytes(tiny_png())
    page.fill('input[name="dimensions.height_mm"]', "2650")
    page.fill('input[name="dimensions.depth_mm"]', "600")
    page.fill('[name="composition"]', "Корпус ЛДСП, две двери-купе, зеркало")
    page.fill('[name="mounting_notes"]', "Неровный пол, компенсировать цоколем")
    page.set_input_files('input[type="file"][name="photos"]', str(photo))
    follow(page, 'button[name="measurement_result"][value="done"]')
    assert "Задача выполнена" in page.inner_text("body"), page.inner_text(".task-form")
    measurer.close()
    with app.app_context():
        order = db.session.execute(select(Order).where(Order.number == number)).scalar_one()
        assert [a.filename for a in db.session.execute(select(Attachment).where(
            Attachment.order_id == order.id)).scalars()] == ["ниша.png"]

    # Sales writes a note to the accountant, then the contract.
    page = sales.page
    page.goto(f"{base}/orders/{number}?tab=notes")
    page.fill('textarea[name="text"]', "@accountant заказчик заплатит наличными в офисе")
    follow(page, 'button:has-text("Добавить примечание")')
    assert "заказчик заплатит наличными" in page.inner_text("body")
    with app.app_context():
        mentions = db.session.execute(select(Notification.recipient).where(
            Notification.event == "note_mention")).scalars().all()
    assert mentions == ["accountant@bespoke.example"]
    sales.open_task(number)
    page.fill('input[name="price"]', "185000")
    page.fill('input[name="prepayment"]', "50000")
    page.check('input[name="payment_type"][value="cash"]')
    page.fill('input[name="promised_date"]', (date.today() + timedelta(days=30)).isoformat())
    page.check('input[name="components_available"][type="checkbox"]')
    page.check('input[name="customer_approved"][type="checkbox"]')
    follow(page, 'button[name="contract_outcome"][value="to_payment"]')
    assert "Задача выполнена" in page.inner_text("body")
    sales.close()

    accountant = Person(browser, base, "accountant")
    accountant.open_task(number)
    page = accountant.page
    page.fill('input[name="payment.number"]', "ПКО-118")
    page.fill('input[name="payment.date"]', date.today().isoformat())
    page.fill('input[name="payment.amount"]', "50000")
    follow(page, 'button[type="submit"]')
    accountant.close()

    procurement = Person(browser, base, "procurement")
    procurement.open_task(number)
    page = procurement.page
    page.fill('input[name="components.0.name"]', "ЛДСП Egger W1000, 16 мм")
    page.fill('input[name="components.0.quantity"]', "6")
    page.select_option('select[name="components.0.status"]', "received")
    follow(page, 'button[type="submit"]')
    assert "Задача выполнена" in page.inner_text("body")
    procurement.close()

    # Production sees the order in its queue; the card says where the order is.
    production = Person(browser, base, "production")
    page = production.page
    page.goto(f"{base}/inbox?tab=queue")
    row = page.locator("tr", has_text=number)
    assert "Производство" in row.inner_text()
    page.goto(f"{base}/orders/{number}")
    header = page.inner_text("body")
    assert "Производство" in header and "Смирнова Ольга Викторовна" in header
    screenshot(page, "order-card-desktop")
    page.goto(f"{base}/orders/{number}?tab=history")
    history = page.inner_text("body")
    assert "Комплектация" in history and "185" in history
    production.close()

    phone = Person(browser, base, "production", viewport=PHONE)
    phone.page.goto(f"{base}/orders/{number}")
    assert no_horizontal_scroll(phone.page)
    screenshot(phone.page, "order-card-phone")
    phone.page.goto(f"{base}/inbox?tab=queue")
    screenshot(phone.page, "inbox-phone-production")
    phone.close()
    desk = Person(browser, base, "production")
    desk.page.goto(f"{base}/inbox?tab=queue")
    screenshot(desk.page, "inbox-desktop")
    desk.close()
