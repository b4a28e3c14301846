"""The dispatcher plans and moves measurements by dragging on the calendar, with a mouse and at tablet width."""
from __future__ import annotations

import re
from datetime import datetime, time, timedelta

from sqlalchemy import select

from app import clock
from app.extensions import db
from app.models import Notification, Order
from app.services.calendar import business_calendar
from tests.browser.conftest import DESKTOP, signed_in
from tests.support.api import Api

TABLET = {"width": 768, "height": 1024}
# Where on the calendar a person's time is: scan the visible grid with Event Calendar's own dateFromPoint.
FIND_SLOT = """([login, target]) => {
  const pad = (n) => String(n).padStart(2, "0");
  const wall = (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T`
    + `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  const box = document.querySelector("#ec").getBoundingClientRect();
  for (let y = Math.max(box.top, 0) + 1; y < Math.min(box.bottom, window.innerHeight); y += 3) {
    for (let x = box.left + 1; x < box.right; x += 8) {
      const info = window.dispatchCalendar.dateFromPoint(x, y);
      if (info && info.resource && info.resource.extendedProps.login === login && wall(info.date) === target) {
        return [x + 10, y + 4];
      }
    }
  }
  return null;
}"""


def working_day_after_today(app) -> datetime:
    """11:00 tomorrow — or, when tomorrow is a weekend or a holiday, on the next working day (the clock is real
    here, and the planning form refuses a day off)."""
    with app.app_context():
        work = business_calendar()
        day = clock.now(work.tz).date() + timedelta(days=1)
        while not work.is_working_day(day):
            day += timedelta(days=1)
        return datetime.combine(day, time(11), work.tz)


def open_day(page, base: str, day: datetime) -> None:
    page.goto(f"{base}/dispatch")
    page.wait_for_selector("#dispatch[data-ready='1']")
    page.click(".ec-button:has-text('День')")
    page.evaluate("(day) => window.dispatchCalendar.setOption('date', day)", day.date().isoformat())
    page.wait_for_selector(".ec-resource, .ec-day")


def slot_point(page, login: str, at: datetime) -> tuple[float, float]:
    target = at.replace(tzinfo=None).isoformat(timespec="minutes")
    page.locator("#ec .ec-body, #ec .ec-main").first.scroll_into_view_if_needed()
    point = page.evaluate(FIND_SLOT, [login, target])
    assert point is not None, f"no slot of {login} at {target} on the screen"
    return point[0], point[1]


def drag(page, source, to: tuple[float, float]) -> None:
    box = source.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 12)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 20, box["y"] + 30, steps=4)
    page.mouse.move(*to, steps=12)
    page.mouse.up()


def test_the_dispatcher_plans_and_moves_a_measurement_by_dragging(browser, live_server, screenshot):
    app, base = live_server
    api = Api(app, app.test_client())
    number, other = api.create_order(), api.create_order("kitchen")
    api.step(number, "new_order")
    api.step(other, "new_order")
    at = working_day_after_today(app)

    context, page = signed_in(browser, base, "dispatch")
    page.goto(f"{base}/dispatch")
    page.wait_for_selector("#dispatch[data-ready='1']")
    queue = page.locator("#queue")
    assert number in queue.inner_text() and other in queue.inner_text()
    assert page.locator(".segmented a[aria-current='page']").inner_text() == "Замеры"  # what dispatch plans

    # Drag the order from the queue onto the measurer at 11:00.
    open_day(page, base, at)
    drag(page, page.locator(f".queue-item[data-number='{number}']"), slot_point(page, "measurer", at))
    page.wait_for_selector(f"text=Заказ {number} запланирован")
    page.wait_for_selector(f"#ec .ec-event:has-text('{number}')")
    assert page.locator(f".queue-item[data-number='{number}']").count() == 0
    order = api.order(number)
    assert order["stage"] == "Замер" and order["measurer"] == "measurer"
    assert datetime.fromisoformat(order["visit_at"]) == at
    screenshot(page, "dispatch-calendar-planned")

    # The measurer's inbox has the visit at that time; the customer's notification names it.
    measurer_context, measurer = signed_in(browser, base, "measurer")
    measurer.goto(f"{base}/inbox")
    row = measurer.locator("tr", has_text=number).inner_text()
    assert "Замер" in row and f"Выезд: {at:%d.%m.%Y}, 11:00" in row, row
    measurer_context.close()
    page.goto(f"{base}/orders/{number}?tab=notifications")
    assert "Замер назначен" in page.locator("table.notifications").inner_text()
    with app.app_context():
        order_id = db.session.execute(select(Order.id).where(Order.number == number)).scalar_one()
        bodies = [n.body for n in db.session.execute(select(Notification).where(
            Notification.order_id == order_id, Notification.event == "visit_booked")).scalars()]
    assert bodies and all(f"на {at.day} " in body and ", 11:00" in body for body in bodies), bodies

    # Drag the visit to the other measurer at the same time: the measurement task goes with it.
    open_day(page, base, at)
    event = page.locator(f"#ec .ec-event:has-text('{number}')")
    drag(page, event, slot_point(page, "measurer2", at))
    page.wait_for_selector(f"text=Выезд по заказу {number} перенесён")
    task = api.order(number)["tasks"][0]
    assert task["bpmn_id"] == "measurement" and task["assignee"] == "measurer2"
    page.wait_for_function("""([number]) => [...document.querySelectorAll('#ec .ec-event')].some((el) => {
        if (!el.textContent.includes(number)) return false;
        const box = el.getBoundingClientRect();
        const info = window.dispatchCalendar.dateFromPoint(box.left + 5, box.top + 5);
        return info && info.resource && info.resource.extendedProps.login === 'measurer2';
    })""", arg=[number])

    # The other order onto measurer2 at the same time: refused, and it stays in the queue.
    drag(page, page.locator(f".queue-item[data-number='{other}']"), slot_point(page, "measurer2", at))
    page.wait_for_selector("#dispatch-message:has-text('уже есть выезд')")
    assert page.locator(f".queue-item[data-number='{other}']").count() == 1
    assert api.order(other)["stage"] == "Планирование выезда на замер"
    screenshot(page, "dispatch-calendar-double-booking")
    page.click(".ec-button:has-text('Неделя')")
    page.wait_for_selector(f"#ec .ec-event:has-text('{number}')")
    screenshot(page, "dispatch-calendar-week-desktop")
    page.click(".ec-button:has-text('Месяц')")
    page.wait_for_selector(f"#ec .ec-event:has-text('{number}')")
    screenshot(page, "dispatch-calendar-month-desktop")
    context.close()

    # The same calendar at tablet width.
    context, page = signed_in(browser, base, "dispatch", viewport=TABLET)
    open_day(page, base, at)
    page.wait_for_selector(f"#ec .ec-event:has-text('{number}')")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    screenshot(page, "dispatch-calendar-tablet")
    context.close()
    assert DESKTOP["width"] >= 1280


def test_the_delivery_dispatcher_sees_deliveries_first(browser, live_server, screenshot):
    app, base = live_server
    context, page = signed_in(browser, base, "delivery_dispatch", viewport=TABLET)
    page.goto(f"{base}/dispatch")
    page.wait_for_selector("#dispatch[data-ready='1']")
    assert page.locator(".segmented a[aria-current='page']").inner_text() == "Доставки"
    assert re.search(r"Очередь бригад", page.inner_text("#ec"))
    screenshot(page, "dispatch-calendar-deliveries-tablet")
    context.close()
