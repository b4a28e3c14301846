"""A crew takes a free job on /jobs; a second crew, on a page loaded before, is told it is taken."""
from __future__ import annotations

from tests.browser.conftest import DESKTOP, no_horizontal_scroll, signed_in
from tests.support.api import Api
from tests.test_crews import queued_order, visit_of

TABLET = {"width": 768, "height": 1024}
WIDE = {"width": 1280, "height": 900}


def test_a_crew_takes_a_free_job_and_the_other_crew_is_told_it_is_taken(browser, live_server, screenshot):
    app, base = live_server
    api = Api(app, app.test_client())
    first = queued_order(api, comment="Подъезд 2, код 45К, позвонить за час")
    second = queued_order(api)
    job = visit_of(api, first)

    crew1, page1 = signed_in(browser, base, "installer", WIDE)
    crew2, page2 = signed_in(browser, base, "installer2", TABLET)
    page1.goto(f"{base}/jobs")
    page2.goto(f"{base}/jobs")  # installer2's page is loaded before installer takes the job
    card = page1.locator(f'[data-job="{job}"]')
    assert first in card.inner_text() and "Подъезд 2, код 45К" in card.inner_text()
    assert page1.locator("[data-job]").count() == 2
    screenshot(page1, "crew_jobs_desktop")
    assert no_horizontal_scroll(page2)
    screenshot(page2, "crew_jobs_tablet")

    card.get_by_role("button", name="Взять").click()
    page1.wait_for_selector(".flash-success")
    assert f"Работа по заказу {first} теперь ваша" in page1.locator(".flash-success").inner_text()
    assert page1.locator(f'[data-job="{job}"]').count() == 0
    assert first in page1.locator("#my-jobs").inner_text()
    screenshot(page1, "crew_jobs_taken_desktop")

    page2.locator(f'[data-job="{job}"]').get_by_role("button", name="Взять").click()
    page2.wait_for_selector(".flash-error")
    assert "Эту работу уже взяла Бригада №1 (Виктор Монтажов)" in page2.locator(".flash-error").inner_text()
    assert page2.locator(f'[data-job="{job}"]').count() == 0  # the list they are back on no longer offers it
    assert page2.locator("[data-job]").count() == 1 and second in page2.locator("[data-job]").inner_text()
    screenshot(page2, "crew_jobs_refused_tablet")

    dispatcher, page3 = signed_in(browser, base, "delivery_dispatch", DESKTOP)
    page3.goto(f"{base}/orders/{first}")
    visits = page3.locator("#order-visits").inner_text()
    assert "Бригада №1 (Виктор Монтажов)" in visits and "бригада взяла сама" in visits
    screenshot(page3, "crew_jobs_order_visits")
    for context in (crew1, crew2, dispatcher):
        context.close()
