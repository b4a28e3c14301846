"""The customer's side in a phone-sized Chromium: the status page at every stage, a rating, a claim with a photo."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import Attachment, Claim, Feedback, Order, User
from tests.browser.conftest import PHONE, follow, no_horizontal_scroll
from tests.browser.test_order_journey import Person, tiny_png
from tests.support.api import HAPPY_CASH, Api

STAGE_HEADINGS = {
    "new_order": "Заказ принят", "plan_measurement": "Замер", "measurement": "Замер",
    "prepare_contract": "Проект и договор", "payment": "Оплата", "procurement": "Изготовление",
    "production": "Изготовление", "plan_delivery": "Доставка и монтаж", "installation": "Доставка и монтаж",
    "feedback": "Заказ выполнен",
}


def _customer(browser):
    context = browser.new_context(viewport=PHONE, locale="ru-RU", is_mobile=True, has_touch=True)
    return context, context.new_page()


def _order(app, number: str) -> Order:
    return db.session.execute(select(Order).where(Order.number == number)).scalar_one()


def test_the_status_page_at_every_stage_on_a_phone_then_a_rating(browser, live_server, screenshot):
    app, base = live_server
    api = Api(app, app.test_client())
    number = api.create_order("wardrobe")
    link = api.order(number)["status_url"]
    context, page = _customer(browser)
    for i, bpmn_id in enumerate([*HAPPY_CASH, "feedback"], 1):
        page.goto(link)
        assert page.inner_text("h1") == STAGE_HEADINGS[bpmn_id], bpmn_id
        # One milestone is current until the order is done; then all seven are ticked.
        assert page.locator("li[aria-current=step]").count() == (0 if bpmn_id == "feedback" else 1)
        if bpmn_id == "feedback":
            assert page.locator("li.done").count() == 7
        assert no_horizontal_scroll(page), bpmn_id
        screenshot(page, f"status-phone-{i:02d}-{bpmn_id}")
        if bpmn_id != "feedback":
            api.step(number, bpmn_id)
    # The customer rates the work: four stars and a word.
    page.check('input[name="rating"][value="4"]')
    page.fill('textarea[name="feedback_comment"]', "Хорошо, но монтажники опоздали на час")
    follow(page, 'button[name="feedback_kind"][value="rating"]')
    body = page.inner_text("body")
    assert "Спасибо! Ваш ответ получен." in body and "Заказ выполнен. Спасибо, что выбрали нас!" in body
    assert page.locator("form[action*='/tasks/']").count() == 0
    screenshot(page, "status-phone-11-rated")
    context.close()
    with app.app_context():
        feedback = db.session.execute(select(Feedback).where(Feedback.order_id == _order(app, number).id)
                                      ).scalar_one()
        assert (feedback.kind, feedback.rating, feedback.comment) == (
            "rating", 4, "Хорошо, но монтажники опоздали на час")


def test_a_claim_with_a_photo_from_the_phone_reaches_quality_control(browser, live_server, screenshot, tmp_path):
    app, base = live_server
    api = Api(app, app.test_client())
    number = api.create_order("kitchen")
    api.walk(number, HAPPY_CASH)
    link = api.order(number)["status_url"]
    context, page = _customer(browser)
    page.goto(link)
    # Too short a claim first: refused, and what was typed stays.
    page.fill('textarea[name="claim_text"]', "Скол")
    follow(page, 'button[name="feedback_kind"][value="claim"]')
    assert "Слишком короткое значение" in page.inner_text("body")
    assert page.input_value('textarea[name="claim_text"]') == "Скол"
    photo = tmp_path / "скол.png"
    photo.write_bytes(tiny_png())
    page.fill('textarea[name="claim_text"]', "Скол на фасаде верхнего шкафа, дверца не закрывается до конца")
    page.set_input_files('input[type="file"][name="photos"]', str(photo))
    follow(page, 'button[name="feedback_kind"][value="claim"]')
    body = page.inner_text("body")
    assert "Спасибо! Ваш ответ получен." in body and "Рассматриваем вашу претензию" in body
    assert "На рассмотрении" in body and "Скол на фасаде" in body
    assert no_horizontal_scroll(page)
    screenshot(page, "status-phone-claim-filed")
    context.close()
    with app.app_context():
        order = _order(app, number)
        claim = db.session.execute(select(Claim).where(Claim.order_id == order.id)).scalar_one()
        assert claim.status == "open" and claim.text.startswith("Скол на фасаде")
        photos = db.session.execute(select(Attachment.filename, User.login).join(User, Attachment.author_id == User.id)
                                    .where(Attachment.order_id == order.id)).all()
        assert [tuple(p) for p in photos] == [("скол.png", "customer")]

    # Quality control finds it in their inbox, with the customer's photo on the task.
    quality = Person(browser, base, "quality")
    quality.open_task(number)
    page = quality.page
    body = page.inner_text("body")
    assert "Рассмотрение претензии" in body and "Скол на фасаде верхнего шкафа" in body
    assert page.locator("a", has_text="скол.png").count() >= 1
    screenshot(page, "claim-in-quality-inbox")
    quality.close()
