"""The customer's status page: what it says at each stage, the question box, the link's safety."""
from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Note, Notification, Order, OutboxJob, User
from tests.support.api import HAPPY_CASH, Api
from tests.support.web import csrf_of, sign_in


@pytest.fixture
def web(make_app):
    app = make_app()
    return app, Api(app, app.test_client())


def token_of(api: Api, number: str) -> str:
    return api.order(number)["status_url"].rsplit("/", 1)[1]


def text_of(response) -> str:
    """The page as a person reads it: tags dropped, entities decoded, spaces collapsed."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", response.get_data(as_text=True), flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def person(app, login: str) -> User:
    with app.app_context():
        return db.session.execute(select(User).where(User.login == login)).scalar_one()


# What the page says while each task is open: the stage heading, a sentence, the next step.
AT_STAGE = {
    "new_order": ("Заказ принят", "Менеджер изучает заявку", "Замер"),
    "plan_measurement": ("Замер", "Подбираем удобное время", "Проект и договор"),
    "measurement": ("Замер", "Замерщик приедет", "Проект и договор"),
    "prepare_contract": ("Проект и договор", "Готовим договор и смету", "Оплата"),
    "payment": ("Оплата", "Ждём оплату по договору", "Изготовление"),
    "procurement": ("Изготовление", "Заказываем материалы", "Доставка и монтаж"),
    "production": ("Изготовление", "Изготавливаем ваш заказ", "Доставка и монтаж"),
    "plan_delivery": ("Доставка и монтаж", "Согласуем с вами дату", "Заказ выполнен"),
    "installation": ("Доставка и монтаж", "Бригада привезёт", "Заказ выполнен"),
    "feedback": ("Заказ выполнен", "Оцените, пожалуйста", None),
}


def test_the_page_tells_the_customer_where_the_order_is_at_every_stage(web):
    app, api = web
    number = api.create_order("wardrobe")
    token = token_of(api, number)
    client = app.test_client()
    measurer, crew = person(app, "measurer").name, person(app, "installer").name
    for bpmn_id in [*HAPPY_CASH, "feedback"]:
        response = client.get(f"/s/{token}")
        assert response.status_code == 200
        page = text_of(response)
        heading, sentence, following = AT_STAGE[bpmn_id]
        assert re.search(r'<h1 id="now-title" data-stage>' + heading + "</h1>", response.get_data(as_text=True)), \
            (bpmn_id, page[:300])
        assert sentence in page, (bpmn_id, page[:400])
        assert f"Заказ {number}" in page and "Встроенный шкаф" in page
        if following:
            assert f"Следующий шаг {following}" in page, bpmn_id
        # The staff task names of the diagram never show.
        assert "Планирование выезда на замер" not in page and "Комплектация" not in page
        if bpmn_id == "new_order":
            assert "Ваш менеджер" in page and "Визиты специалистов" not in page and "Документы" not in page
        if bpmn_id == "measurement":
            assert "Замер — " in page and f"Специалист: {measurer}" in page
            assert "Этот этап — ориентировочно до" in page  # the SLA deadline of the open step
        if bpmn_id == "payment":
            assert "Договор" in page and "Счёт на оплату" in page
            assert "Оплачено 0,00 ₽" in page
        if bpmn_id == "procurement":
            assert "Оплачено 30 000,00 ₽" in page
            order = api.order(number)
            price = float(order["price"])
            balance = f"{price - 30000:,.2f}".replace(",", " ").replace(".", ",")
            assert f"Осталось оплатить {balance} ₽" in page
        if bpmn_id == "installation":
            assert "Доставка и монтаж — " in page and f"Специалист: {crew}" in page
        if bpmn_id == "feedback":
            assert "Акт приёмки" in page and "Ваш отзыв" in page and 'name="rating"' in response.get_data(as_text=True)
        # Milestones before the current one are ticked with the date they were reached.
        done = re.findall(r'<li class="done" data-milestone="(\w+)"', response.get_data(as_text=True))
        current = re.findall(r'<li class="current" data-milestone="(\w+)"', response.get_data(as_text=True))
        order_of = ["received", "measurement", "contract", "payment", "production", "delivery", "done"]
        if bpmn_id != "feedback":
            assert len(current) == 1 and done == order_of[:order_of.index(current[0])], (bpmn_id, done, current)
        api.step(number, bpmn_id)
    page = text_of(client.get(f"/s/{token}"))
    assert "Заказ выполнен. Спасибо, что выбрали нас!" in page and "Ваш отзыв" not in page
    assert "впереди" not in page  # every milestone reached


def test_a_cancelled_order_says_so_with_the_reason(web):
    app, api = web
    number = api.create_order("kitchen")
    assert api.post(f"/orders/{number}/cancel", {"reason": "Заказчик передумал"}, as_="sales").status_code == 200
    page = text_of(app.test_client().get(f"/s/{token_of(api, number)}"))
    assert "Заказ отменён" in page and "Заказчик передумал" in page and "Следующий шаг" not in page


def test_a_question_becomes_a_note_and_reaches_the_manager(web):
    app, api = web
    number = api.create_order("wardrobe")
    api.step(number, "new_order")  # the sales manager who confirmed it is the customer's manager
    token = token_of(api, number)
    client = app.test_client()
    page = client.get(f"/s/{token}")
    sales = person(app, "sales")
    assert f"Ваш менеджер {sales.name}" in text_of(page)
    short = client.post(f"/s/{token}/question", data={"text": "?", "csrf_token": csrf_of(page.data)})
    assert short.status_code == 422 and "хотя бы несколько слов" in text_of(short)
    question = "Можно ли перенести замер на субботу?"
    response = client.post(f"/s/{token}/question", data={"text": question, "csrf_token": csrf_of(page.data)})
    assert response.status_code == 302
    page = text_of(client.get(f"/s/{token}"))
    assert f"Вопрос заказчика: {question}" in page and "Вопрос отправлен менеджеру" in page
    with app.app_context():
        order = db.session.execute(select(Order).where(Order.number == number)).scalar_one()
        note = db.session.execute(select(Note).where(Note.order_id == order.id)).scalar_one()
        assert note.internal is False and note.author.login == "customer"
        job = db.session.execute(select(OutboxJob).where(OutboxJob.order_id == order.id,
                                                         OutboxJob.operator == "notify")
                                 .order_by(OutboxJob.id.desc())).scalars().first()
        assert job.params["to"] == f"user:{sales.id}" and job.status == "done"
        told = db.session.execute(select(Notification).where(Notification.job_id == job.id)).scalars().all()
        assert told and all(n.user_id == sales.id and question in n.body for n in told)
    # Staff see it on the card, among the order's notes, and answer; an internal note stays inside.
    staff = app.test_client()
    sign_in(staff, "sales")
    notes = staff.get(f"/orders/{number}?tab=notes")
    assert question in text_of(notes)
    staff.post(f"/orders/{number}/notes", data={"text": "Бригада просит не говорить заказчику про брак",
                                                "csrf_token": csrf_of(notes.data)})
    staff.post(f"/orders/{number}/notes", data={"text": "Да, замерщик может приехать в субботу в 11:00.",
                                                "public": "1", "csrf_token": csrf_of(notes.data)})
    page = text_of(client.get(f"/s/{token}"))
    assert f"{sales.name} · " in page and "Да, замерщик может приехать в субботу в 11:00." in page
    assert "брак" not in page
    with app.app_context():
        answer = db.session.execute(select(Notification).where(Notification.event == "staff_message",
                                                               Notification.user_id.is_(None))).scalars().all()
        assert {n.channel for n in answer} == {"sms", "email"}
        assert all("суббот" in n.body and token in n.body for n in answer)


def test_the_customer_chooses_how_to_be_told(web):
    app, api = web
    number = api.create_order("wardrobe")
    token = token_of(api, number)
    client = app.test_client()
    page = client.get(f"/s/{token}")
    none = client.post(f"/s/{token}/channels", data={"csrf_token": csrf_of(page.data)})
    assert none.status_code == 422 and "хотя бы один способ" in text_of(none)
    client.post(f"/s/{token}/channels", data={"channel": "email", "locale": "en", "csrf_token": csrf_of(page.data)})
    with app.app_context():
        order = db.session.execute(select(Order).where(Order.number == number)).scalar_one()
        assert (order.customer.notify_channels, order.customer.locale) == (["email"], "en")
    api.step(number, "new_order")
    api.step(number, "plan_measurement")  # «выезд назначен» goes to the customer: by e-mail only, in English
    with app.app_context():
        sent = db.session.execute(select(Notification).where(Notification.event == "visit_booked",
                                                             Notification.user_id.is_(None))).scalars().all()
        assert [(n.channel, n.locale) for n in sent] == [("email", "en")]
        assert sent[0].subject == f"Measurement visit for order {number}"


# -- the link's safety ------------------------------------------------------------------------------------

def test_wrong_altered_foreign_and_revoked_tokens_all_look_alike(web):
    app, api = web
    first, second = api.create_order("wardrobe"), api.create_order("kitchen")
    token, other = token_of(api, first), token_of(api, second)
    client = app.test_client()
    assert first in text_of(client.get(f"/s/{token}"))
    # Another order's token opens that order only; its documents cannot be reached through it.
    assert second in text_of(client.get(f"/s/{other}")) and first not in text_of(client.get(f"/s/{other}"))
    missing = text_of(client.get("/s/not-a-token"))
    altered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    # A token signed for order ids that were never issued: the numbers cannot be enumerated.
    from itsdangerous import URLSafeSerializer

    forged = URLSafeSerializer("guess", salt="order-status").dumps([1, "x"])
    for bad in (altered, "not-a-token", forged, token + "x", other[: len(other) // 2]):
        response = client.get(f"/s/{bad}")
        assert response.status_code == 404
        assert text_of(response) == missing and first not in text_of(response) and second not in text_of(response)
    # Revoked from the card by the sales manager: the old link is dead, a new one works.
    staff = app.test_client()
    sign_in(staff, "sales")
    card = staff.get(f"/orders/{first}")
    assert token in card.get_data(as_text=True)
    staff.post(f"/orders/{first}/status-link/revoke", data={"csrf_token": csrf_of(card.data)})
    revoked = client.get(f"/s/{token}")
    assert revoked.status_code == 404 and text_of(revoked) == missing
    assert "Ссылка отозвана" in text_of(staff.get(f"/orders/{first}"))
    assert api.order(first)["status_url"] == ""
    staff.post(f"/orders/{first}/status-link/reissue", data={"csrf_token": csrf_of(card.data)})
    new_token = token_of(api, first)
    assert new_token != token and client.get(f"/s/{token}").status_code == 404
    assert client.get(f"/s/{new_token}").status_code == 200
    # The API does the same for integrations; the installer may not.
    assert api.post(f"/orders/{second}/status-link", as_="installer").status_code == 403
    rotated = api.post(f"/orders/{second}/status-link", as_="sales").get_json()
    assert client.get(f"/s/{other}").status_code == 404 and rotated["status_url"].endswith(token_of(api, second))
    revoked = api.client.delete(f"/api/v1/orders/{second}/status-link",
                                headers={"Authorization": f"Bearer {api.token('sales')}"}).get_json()
    assert revoked == {"number": second, "status_url": None, "revoked": True}
    # The customer's JSON view obeys the same link.
    assert api.get(f"/status/{new_token}", as_=None).status_code == 200
    assert api.get(f"/status/{token}", as_=None).status_code == 404
    # History records who revoked and re-issued.
    history = api.get(f"/orders/{first}/history").get_json()["items"]
    assert [(e["old"], e["new"]) for e in history if e["field"] == "status_link"] == [
        ("действует", "отозвана"), ("отозвана", "новая ссылка")]


def test_a_token_only_opens_its_own_documents_and_files(web):
    app, api = web
    first, second = api.create_order("wardrobe"), api.create_order("kitchen")
    for number in (first, second):
        api.walk(number, ["new_order", "plan_measurement", "measurement", "prepare_contract"])
    docs = {n: api.order(n)["documents"] for n in (first, second)}
    token = token_of(api, first)
    client = app.test_client()
    mine = client.get(f"/s/{token}/documents/{docs[first][0]['id']}")
    assert mine.status_code == 200 and mine.data.startswith(b"%PDF")
    assert client.get(f"/s/{token}/documents/{docs[second][0]['id']}").status_code == 404
    # The same view as JSON, for an app or a bot: the same words, the same documents behind the same link.
    body = api.get(f"/status/{token}", as_=None).get_json()
    assert (body["number"], body["current"], body["next"]) == (first, "Оплата", "Изготовление")
    assert [m["state"] for m in body["milestones"]] == ["done"] * 3 + ["current"] + ["upcoming"] * 3
    assert {d["kind"] for d in body["documents"]} == {"contract", "invoice"}
    assert body["manager"]["name"] and body["balance"] == body["price"]
    assert client.get(body["documents"][0]["url"]).data.startswith(b"%PDF")


def test_too_many_requests_and_too_many_misses_get_429(make_app):
    app = make_app(STATUS_RATE_LIMIT="8 per minute", STATUS_MISS_LIMIT="3 per hour")
    api = Api(app, app.test_client())
    number = api.create_order("wardrobe")
    token = token_of(api, number)
    guesser = app.test_client()
    here = {"REMOTE_ADDR": "203.0.113.7"}
    codes = [guesser.get(f"/s/{token[:-3]}x{i}y", environ_base=here).status_code for i in range(5)]
    assert codes == [404, 404, 404, 429, 429]
    # Spent misses close even a good link to that address (and the API), not to others.
    assert guesser.get(f"/s/{token}", environ_base=here).status_code == 429
    assert guesser.get(f"/api/v1/status/{token}", environ_base=here).status_code == 429
    assert "Слишком много запросов" in text_of(guesser.get(f"/s/{token}", environ_base=here))
    elsewhere = {"REMOTE_ADDR": "198.51.100.20"}
    codes = [guesser.get(f"/s/{token}", environ_base=elsewhere).status_code for _ in range(10)]
    assert codes == [200] * 8 + [429, 429]


def test_the_page_follows_a_claim_until_it_is_resolved(web):
    app, api = web
    number = api.create_order("wardrobe")
    api.walk(number, [*HAPPY_CASH])
    token = token_of(api, number)
    client = app.test_client()
    api.step(number, "feedback", {"claim": True})
    page = text_of(client.get(f"/s/{token}"))
    assert "Рассматриваем вашу претензию" in page
    assert "Претензии На рассмотрении" in page and "Дверь купе заедает" in page
    api.step(number, "claim_review", {"claim_resolution": "revisit"})
    page = text_of(client.get(f"/s/{token}"))
    assert "Специалист приедет, чтобы устранить замечания" in page and "На рассмотрении" in page
    api.step(number, "claim_revisit")
    page = text_of(client.get(f"/s/{token}"))
    assert "Рассмотрена: замечания устранены при повторном выезде" in page
    assert "Акт рассмотрения претензии" in page and "На рассмотрении" not in page


def test_the_customer_approves_the_contract_edition_they_read(web):
    app, api = web
    number = api.create_order("wardrobe")
    api.walk(number, ["new_order", "plan_measurement", "measurement", "prepare_contract"])
    token = token_of(api, number)
    client = app.test_client()
    page = client.get(f"/s/{token}")
    assert "Согласовать договор" in text_of(page)
    csrf = csrf_of(page.data)
    unticked = client.post(f"/s/{token}/contract", data={"version": "1", "csrf_token": csrf})
    assert unticked.status_code == 422 and "Отметьте, что прочитали договор" in text_of(unticked)
    stale = client.post(f"/s/{token}/contract", data={"version": "0", "agree": "1", "csrf_token": csrf})
    assert stale.status_code == 422 and "Договор обновился" in text_of(stale)
    client.post(f"/s/{token}/contract", data={"version": "1", "agree": "1", "csrf_token": csrf})
    page = text_of(client.get(f"/s/{token}"))
    assert "Договор согласован" in page and "Согласовать договор" not in page
    assert "Заказчик согласовал договор (редакция 1) на странице заказа" in page
    with app.app_context():
        told = db.session.execute(select(Notification).where(Notification.event == "contract_approved")
                                  ).scalars().all()
        assert told and {n.user_id for n in told} == {person(app, "sales").id}
    history = api.get(f"/orders/{number}/history").get_json()["items"]
    assert [(e["field"], e["new"], e["actor"]) for e in history if e["field"] == "contract_approved"] == [
        ("contract_approved", "редакция 1", "customer")]
