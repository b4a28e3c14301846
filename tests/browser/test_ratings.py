"""The director reads the employee rating at a desk (1280 px): the nav leads there, the components and places read
as text, the table fits the page."""
from __future__ import annotations

import re

import pytest

from app.usecases.uow import unit_of_work
from tests.browser.conftest import follow, no_horizontal_scroll, signed_in
from tests.support.ratings import measurers_april


@pytest.fixture
def history(live_server):
    app, base = live_server
    with app.app_context(), unit_of_work():
        measurers_april()
    return base


def test_the_director_reads_the_measurers_rating(browser, history, screenshot):
    context, page = signed_in(browser, history, "director", {"width": 1280, "height": 900})
    page.click("nav.mainnav >> text=Рейтинг")
    page.wait_for_url(re.compile(r".*/ratings/$"))
    page.fill('input[name="from"]', "2027-04-01")
    page.fill('input[name="to"]', "2027-04-30")
    page.click("button:has-text('Показать')")
    page.wait_for_url(re.compile(r".*from=2027-04-01.*"))
    rows = page.locator("#rating-measurer tbody tr")
    assert rows.count() == 3
    first = rows.nth(0).inner_text()
    assert "Игорь Замеров" in first and "79,6" in first and "1 из 3" in first
    assert "Олег Рулеткин" in rows.nth(1).inner_text() and "75,0" in rows.nth(1).inner_text()
    assert no_horizontal_scroll(page)
    screenshot(page, "ratings-director-desktop")
    context.close()


def test_a_measurer_sees_their_own_place_only(browser, history, screenshot):
    context, page = signed_in(browser, history, "measurer2", {"width": 1280, "height": 900})
    page.goto(f"{history}/ratings/?from=2027-04-01&to=2027-04-30")
    rows = page.locator("#rating-measurer tbody tr")
    assert rows.count() == 1 and "2 из 3" in rows.nth(0).inner_text()
    assert "Игорь Замеров" not in page.inner_text("main")
    screenshot(page, "ratings-measurer-desktop")
    context.close()


def test_an_admin_corrects_a_bad_weight_in_place(browser, history, screenshot):
    context, page = signed_in(browser, history, "admin", {"width": 1280, "height": 900})
    page.goto(f"{history}/ratings/")
    page.click("text=Веса показателей")
    page.wait_for_url(re.compile(r".*/ratings/weights$"))
    page.fill('input[name="measurer.on_time"]', "-3")
    page.fill('input[name="measurer.ratings"]', "40")
    follow(page, "button:has-text('Сохранить')")
    assert "Вес — число от 0 до 1000" in page.inner_text("main")
    assert page.input_value('input[name="measurer.ratings"]') == "40"  # what was typed is kept
    wrong, kept = (page.locator(f'input[name="measurer.{kpi}"]') for kpi in ("on_time", "ratings"))
    assert wrong.evaluate("box => getComputedStyle(box).borderTopColor") != kept.evaluate(
        "box => getComputedStyle(box).borderTopColor")  # the wrong weight is marked red, the others are not
    screenshot(page, "ratings-weights-error-desktop")
    page.fill('input[name="measurer.on_time"]', "0")
    follow(page, "button:has-text('Сохранить')")
    assert "Веса рейтинга сохранены" in page.inner_text("main")
    page.goto(f"{history}/ratings/?from=2027-04-01&to=2027-04-30")
    assert "вес 40" in page.inner_text("#rating-measurer thead")
    context.close()


def test_the_weights_are_narrow_number_boxes(browser, history, screenshot):
    """Each weight is a short number: its box stays a few characters wide instead of filling the column."""
    context, page = signed_in(browser, history, "admin", {"width": 1280, "height": 900})
    page.goto(f"{history}/ratings/weights")
    boxes = page.locator(".weights-table input")
    assert boxes.count() >= 8
    widths = [boxes.nth(i).bounding_box()["width"] for i in range(boxes.count())]
    cells = [boxes.nth(i).locator("xpath=ancestor::td").bounding_box()["width"] for i in range(boxes.count())]
    assert max(widths) <= 120 and all(width < cell - 16 for width, cell in zip(widths, cells, strict=True))
    assert no_horizontal_scroll(page)
    screenshot(page, "ratings-weights-desktop")
    context.close()
