"""The partner portal as a point of sale uses it — and what another partner must never see of it."""
from __future__ import annotations

import re
import subprocess
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from html import unescape
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date
from openpyxl import load_workbook
from sqlalchemy import func, select

from app.extensions import db
from app.models import Attachment, Document, HumanTask, Order, Payment, User
from app.services.notes import add_note
from app.services.status_links import status_url
from app.usecases.uow import unit_of_work
from tests.support.api import HAPPY_CASH, Api
from tests.support.web import csrf_of, sign_in, signed_in

MOSCOW = ZoneInfo("Europe/Moscow")


@pytest.fixture
def ui(make_app):
    app = make_app(WTF_CSRF_ENABLED=False)
    return app, Api(app, app.test_client())


@pytest.fixture
def web(make_app):
    """CSRF on, as in production."""
    app = make_app()
    return app, Api(app, app.test_client())


def text_of(response) -> str:
    """The page as a person reads it: entities decoded, no-break spaces as spaces."""
    return unescape(response.get_data(as_text=True)).replace("\xa0", " ").replace("\u202f", " ")


def make_order(api: Api, kind: str = "wardrobe", partner: str | None = "mega", *, price: str | None = None,
               payments: tuple[tuple[str, str], ...] = (), days_ago: int = 0) -> str:
    """An order (brought by `partner`), optionally priced, paid (amount, receiver) and backdated."""
    number = api.create_order(kind, partner=partner) if partner else api.create_order(kind)
    with api.app.app_context():
        with unit_of_work():
            order = db.session.execute(select(Order).where(Order.number == number)).scalar_one()
            if price is not None:
                order.price = Decimal(price)
            for i, (amount, receiver) in enumerate(payments, 1):
                db.session.add(Payment(order_id=order.id, number=f"П-{i}", paid_on=date(2026, 11, 20),
                                       amount=Decimal(amount), received_by=receiver))
            if days_ago:
                order.created_at = datetime.now(timezone.utc) - timedelta(days=days_ago)
    return number


def order_id(app, number: str) -> int:
    with app.app_context():
        return db.session.execute(select(Order.id).where(Order.number == number)).scalar_one()


def add_document(app, number: str, kind: str = "contract", version: int = 1) -> int:
    with app.app_context():
        with unit_of_work():
            document = Document(order_id=order_id(app, number), kind=kind, version=version,
                                filename=f"{number}-{kind}-v{version}.pdf", content=b"%PDF-1.4 " + number.encode())
            db.session.add(document)
        return document.id


def note(app, number: str, text: str, *, internal: bool) -> None:
    with app.app_context():
        with unit_of_work():
            order = db.session.get(Order, order_id(app, number))
            add_note(order, text, db.session.execute(select(User).where(User.login == "sales")).scalar_one(),
                     internal=internal)


def without_csrf(response) -> str:
    return re.sub(r'(csrf-token" content="|X-CSRFToken": "|name="csrf_token" value=")[^"]*', r"\1", text_of(response))


def besides_echo(response, path: str, number: str) -> str:
    """The page minus what the visitor typed itself: the address (the language switch keeps it), the search box
    and "order … not found"."""
    return (text_of(response).replace(path, "").replace(f'value="{number}"', "")
            .replace(f"Заказ {number} не найден", ""))


def row_of(page: str, marker: str) -> str:
    """The table row that carries `marker` (e.g. class="totals")."""
    start = page.index(marker)
    return page[page.rindex("<tr", 0, start):page.index("</tr>", start)]


def cell(page: str, attribute: str) -> str:
    return re.search(attribute + r">(.*?)</dd>", page, re.S).group(1)


def today_args(days: int = 1) -> str:
    today = datetime.now(MOSCOW).date()
    return f"from={today - timedelta(days=days)}&to={today + timedelta(days=1)}"


# -- the home page: counts and the list --------------------------------------------------------------

def test_the_home_page_lists_and_counts_only_the_partners_own_orders(ui, monkeypatch):
    app, api = ui
    kitchens = [make_order(api, "kitchen") for _ in range(2)]
    wardrobe = make_order(api, "wardrobe")
    old = make_order(api, "windows", days_ago=150)  # before the default three months
    agents = make_order(api, "kitchen", partner="agent_ivanov")
    direct = make_order(api, "kitchen", partner=None)
    api.walk(kitchens[0], ["new_order"])
    api.walk(agents, ["new_order", "plan_measurement"])  # "Замер" exists only among the agent's orders
    client = signed_in(app, "partner_mega")

    page = text_of(client.get("/partner"))
    assert all(n in page for n in (*kitchens, wardrobe))
    assert old not in page and agents not in page and direct not in page
    totals = row_of(page, 'class="totals"')
    assert 'data-kind="kitchen"><strong>2<' in totals and 'data-kind="wardrobe"><strong>1<' in totals
    assert 'data-kind="all"><strong>3<' in totals and 'data-kind="windows"' not in totals
    assert f'href="/partner/orders/{wardrobe}"' in page and 'data-label="Заказчик">Иванова Мария Петровна' in page

    only_kitchens = text_of(client.get("/partner?kind=kitchen"))
    assert all(n in only_kitchens for n in kitchens) and wardrobe not in only_kitchens
    stages = re.search(r'<select name="stage">(.*?)</select>', page, re.S).group(1)
    assert "Новый заказ" in stages and "Планирование выезда на замер" in stages and "Замер<" not in stages
    planned = text_of(client.get("/partner?stage=Планирование выезда на замер"))
    assert kitchens[0] in planned and kitchens[1] not in planned and wardrobe not in planned
    assert [n for n in (*kitchens, wardrobe) if n in text_of(client.get(f"/partner?q={wardrobe}"))] == [wardrobe]

    since = datetime.now(MOSCOW).date() - timedelta(days=200)
    wider = text_of(client.get(f"/partner?from={since}"))
    assert old in wider and agents not in wider
    with app.app_context():
        created = db.session.execute(select(Order.created_at).where(Order.number == old)).scalar_one()
    month = format_date(created.astimezone(MOSCOW).date(), "LLLL yyyy", locale="ru")
    assert f'data-label="Месяц">{month}<' in wider
    assert 'data-kind="all"><strong>4<' in row_of(wider, 'class="totals"')
    narrow = text_of(client.get(f"/partner?from={since}&to={since + timedelta(days=60)}"))
    assert old in narrow and wardrobe not in narrow

    monkeypatch.setattr("app.partner.routes.PER_PAGE", 2)
    first, second = text_of(client.get("/partner")), text_of(client.get("/partner?page=2"))
    assert sum(n in first for n in (*kitchens, wardrobe)) == 2 and sum(n in second for n in (*kitchens, wardrobe)) == 1
    assert "всего 3" in second

    bad = client.get("/partner?from=31.12.2026")
    assert bad.status_code == 422 and "31.12.2026" in text_of(bad) and "ГГГГ-ММ-ДД" in text_of(bad)


def test_a_partner_lands_in_its_portal_and_staff_do_not(web):
    app, api = web
    number = make_order(api)
    client = app.test_client()
    response = sign_in(client, "partner_mega")
    assert response.status_code == 302 and response.location.endswith("/partner")
    assert client.get("/inbox").location.endswith("/partner")
    assert client.get("/", follow_redirects=True).request.path == "/partner"
    assert client.get("/orders?kind=kitchen").location.endswith("/partner")
    assert client.get(f"/orders/{number}").location.endswith(f"/partner/orders/{number}")
    page = text_of(client.get("/partner"))
    nav = re.search(r'<nav class="mainnav".*?</nav>', page, re.S).group(0)
    assert "Мои заказы" in nav and "Сверка" in nav and "Новый заказ" in nav and "Задачи" not in nav

    staff = app.test_client()
    assert sign_in(staff, "sales").location.endswith("/inbox")
    inbox = text_of(staff.get("/inbox"))
    nav = re.search(r'<nav class="mainnav".*?</nav>', inbox, re.S).group(0)
    assert "Задачи" in nav and "Заказы" in nav and "Сверка" not in nav
    for path in ("/partner", "/partner/orders/new", f"/partner/orders/{number}", "/partner/settlements",
                 "/partner/settlements.xlsx", "/partner/settlements.pdf"):
        assert staff.get(path).status_code == 403, path


# -- a new order from the point of sale ----------------------------------------------------------------

def test_the_point_of_sale_takes_an_order_for_its_customer(web):
    app, api = web
    client = app.test_client()
    sign_in(client, "partner_mega")
    form = client.get("/partner/orders/new")
    assert form.status_code == 200
    typed = {"customer.name": "", "customer.phone": "12", "customer.email": "anna@example.com", "kind": "kitchen",
             "address": "г. Москва, ул. Обручева, д. 5", "description": "Угловая кухня"}
    refused = client.post("/partner/orders/new", data={**typed, "csrf_token": csrf_of(form.data)})
    page = text_of(refused)
    assert refused.status_code == 422
    assert "Укажите имя заказчика" in page and "Неверный номер телефона" in page
    assert 'value="г. Москва, ул. Обручева, д. 5"' in page and "Угловая кухня" in page
    assert 'value="anna@example.com"' in page and '<option value="kitchen" selected' in page
    with app.app_context():
        assert db.session.execute(select(func.count(Order.id))).scalar() == 0

    # Whatever the form says about partner and channel, the account decides them.
    accepted = client.post("/partner/orders/new", data={
        **typed, "customer.name": "Анна Смирнова", "customer.phone": "+7 903 111-22-33", "partner": "agent_ivanov",
        "channel": "web", "csrf_token": csrf_of(refused.data)})
    assert accepted.status_code == 302
    number = accepted.location.rsplit("/", 1)[1]
    assert accepted.location.endswith(f"/partner/orders/{number}")
    with app.app_context():
        order = db.session.execute(select(Order).where(Order.number == number)).scalar_one()
        assert (order.partner.code, order.channel, order.kind, order.created_by.login) == (
            "mega", "partner", "kitchen", "partner_mega")
        assert order.customer.name == "Анна Смирнова" and order.stage == "Новый заказ"
        link = status_url(order)
    card = text_of(client.get(accepted.location))
    flash = re.search(r'class="flash flash-success"[^>]*>(.*?)</div>', card, re.S).group(1)
    assert number in flash and link in flash
    assert re.search(r"data-status-link>([^<]*)<", card).group(1) == link  # to give to the customer


# -- the order card ------------------------------------------------------------------------------------

def test_the_card_shows_the_settlement_public_notes_and_nothing_internal(ui):
    app, api = ui
    number = make_order(api, "wardrobe")
    api.walk(number, HAPPY_CASH[:2])  # confirmed and a measurement booked
    with app.app_context():
        with unit_of_work():
            order = db.session.execute(select(Order).where(Order.number == number)).scalar_one()
            order.price = Decimal("100000")
            db.session.add_all([Payment(order_id=order.id, number="П-1", paid_on=date(2026, 11, 20),
                                        amount=Decimal("30000"), received_by="partner"),
                                Payment(order_id=order.id, number="П-2", paid_on=date(2026, 11, 21),
                                        amount=Decimal("20000"), received_by="company")])
            measurer = order.measurer.name
    note(app, number, "Замерщик приедет с образцами фасадов", internal=False)
    note(app, number, "Клиент сложный, торговаться не будем @dispatch", internal=True)
    old_contract = add_document(app, number, "contract", 1)
    contract = add_document(app, number, "contract", 2)

    client = signed_in(app, "partner_mega")
    response = client.get(f"/partner/orders/{number}")
    assert response.status_code == 200
    page = text_of(response)
    assert cell(page, "data-price") == "100 000,00 ₽"
    assert cell(page, "data-paid-company") == "20 000,00 ₽"
    assert cell(page, "data-paid-partner") == "30 000,00 ₽"
    assert re.sub(r"<[^>]+>", "", cell(page, "data-commission")).split() == ["10", "000,00", "₽", "(10", "%)"]
    assert cell(page, "data-customer-owes") == "50 000,00 ₽"
    assert cell(page, "data-partner-owes") == "<strong>20 000,00 ₽</strong>"  # 30 000 taken − 10 000 earned
    payments = [re.sub(r"<[^>]+>", "|", row).split("|") for row in re.findall(r"<tr><td data-label=\"Дата\">.*?</tr>",
                                                                              page, re.S)]
    assert [[part.strip() for part in row if part.strip()] for row in payments] == [
        ["20 нояб. 2026 г.", "30 000,00 ₽", "точка продаж"], ["21 нояб. 2026 г.", "20 000,00 ₽", "компания"]]
    assert "Замер" in page and measurer in page
    assert "Новый заказ" in page and "Планирование выезда на замер" in page  # the stage timeline
    assert "Замерщик приедет с образцами фасадов" in page
    assert "Клиент сложный" not in page and "@dispatch" not in page
    assert "Журнал изменений" not in page and "data-notification" not in page and "maria@example.com" in page
    assert f"/partner/orders/{number}/documents/{contract}" in page
    assert f"/documents/{old_contract}" not in page  # only the latest edition is offered
    with app.app_context():
        link = status_url(db.session.execute(select(Order).where(Order.number == number)).scalar_one())
    assert f"data-status-link>{link}<" in page

    download = client.get(f"/partner/orders/{number}/documents/{contract}")
    assert download.status_code == 200 and download.mimetype == "application/pdf"
    assert download.data == b"%PDF-1.4 " + number.encode()
    assert f"{number}-contract-v2.pdf" in download.headers["Content-Disposition"]


# -- settlements ---------------------------------------------------------------------------------------

def test_the_settlements_page_and_its_exports_carry_the_same_totals(ui, tmp_path):
    app, api = ui
    wardrobe = make_order(api, "wardrobe", price="100000", payments=(("30000", "partner"), ("20000", "company")))
    kitchen = make_order(api, "kitchen", price="250000", payments=(("250000", "company"),))
    foreign = make_order(api, "kitchen", "agent_ivanov", price="70000", payments=(("7000", "partner"),))
    client = signed_in(app, "partner_mega")

    for query in ("", "?" + today_args()):  # the default period is the current month
        page = text_of(client.get("/partner/settlements" + query))
        assert wardrobe in page and kitchen in page and foreign not in page
        totals = re.sub(r"<[^>]+>", " ", row_of(page, "data-totals"))
        assert totals.split() == ["Итого", "заказов:", "2", "350", "000,00", "₽", "270", "000,00", "₽", "30",
                                  "000,00", "₽", "35", "000,00", "₽", "50", "000,00", "₽", "-5", "000,00", "₽"]

    xlsx = client.get("/partner/settlements.xlsx?" + today_args())
    assert xlsx.status_code == 200
    today = datetime.now(MOSCOW).date()
    expected_name = f"sverka-mega-{today - timedelta(days=1):%Y%m%d}-{today + timedelta(days=1):%Y%m%d}"
    assert f"{expected_name}.xlsx" in xlsx.headers["Content-Disposition"]
    rows = [[c.value for c in row] for row in load_workbook(BytesIO(xlsx.data)).active.iter_rows(min_row=3)]
    assert [r[0] for r in rows] == [wardrobe, kitchen, "Итого"]
    assert [float(v) for v in (rows[2][4], rows[2][5], rows[2][6], rows[2][8], rows[2][9], rows[2][10])] == [
        350000, 270000, 30000, 35000, 50000, -5000]

    pdf = client.get("/partner/settlements.pdf?" + today_args())
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert f"{expected_name}.pdf" in pdf.headers["Content-Disposition"]
    source = tmp_path / "statement.pdf"
    source.write_bytes(pdf.data)
    text = subprocess.run(["pdftotext", "-layout", str(source), "-"], capture_output=True, text=True,
                          check=True).stdout.replace("\xa0", " ")
    assert wardrobe in text and kitchen in text and foreign not in text
    assert "350 000,00" in text and "35 000,00" in text
    assert "компания выплачивает партнёру комиссию 5 000,00" in text


def test_bad_dates_are_explained_not_crashed_on(ui):
    app, api = ui
    make_order(api)
    client = signed_in(app, "partner_mega")
    page = client.get("/partner/settlements?from=2026-02-30")
    assert page.status_code == 422 and "2026-02-30" in text_of(page) and "ГГГГ-ММ-ДД" in text_of(page)
    backwards = client.get("/partner/settlements?from=2026-11-30&to=2026-11-01")
    assert backwards.status_code == 422 and "Начало периода позже его конца" in text_of(backwards)
    for export in ("xlsx", "pdf"):
        response = client.get(f"/partner/settlements.{export}?to=вчера")
        assert response.status_code == 422 and "вчера" in text_of(response)
    answer = api.get("/partner/settlements?from=nope", as_="partner_mega")
    assert answer.status_code == 422 and answer.get_json()["fields"] == {"from": "'from' must be a date, YYYY-MM-DD"}


def test_the_settlements_api_answers_the_calling_partner_only(ui):
    app, api = ui
    wardrobe = make_order(api, "wardrobe", price="100000", payments=(("30000", "partner"), ("20000", "company")))
    foreign = make_order(api, "kitchen", "agent_ivanov", price="70000")
    body = api.get("/partner/settlements?" + today_args(), as_="partner_mega").get_json()
    assert body["partner"]["code"] == "mega" and [r["number"] for r in body["items"]] == [wardrobe]
    assert body["items"][0]["commission"] == "10000.00" and body["items"][0]["commission_pct"] == "10.00"
    assert body["totals"]["partner_owes"] == "20000.00" and body["totals"]["customer_owes"] == "50000.00"
    assert foreign not in str(body)
    assert api.get("/partner/settlements", as_="sales").status_code == 403
    assert api.get("/partner/settlements", as_="admin").status_code == 403


# -- the API: what a partner reads about its own order -------------------------------------------------

def test_a_partner_reads_stages_and_changes_but_not_notes_jobs_or_notifications(ui):
    app, api = ui
    number = make_order(api)
    api.walk(number, HAPPY_CASH[:2])
    note(app, number, "Внутреннее: скидку не давать", internal=True)
    staff_kinds = {e["kind"] for e in api.get(f"/orders/{number}/history").get_json()["items"]}
    assert "task" in staff_kinds and "note" in {e["field"] for e in api.get(f"/orders/{number}/history")
                                                    .get_json()["items"]}
    items = api.get(f"/orders/{number}/history", as_="partner_mega").get_json()["items"]
    assert {e["kind"] for e in items} <= {"stage", "status", "field"} and "stage" in {e["kind"] for e in items}
    assert "скидку не давать" not in str(items) and all(e["field"] != "note" for e in items)
    assert any(e["field"] == "visit_at" for e in items)  # the booked measurement is a change of the order
    assert api.get(f"/orders/{number}/notifications", as_="partner_mega").status_code == 403
    assert api.get(f"/orders/{number}/notifications").status_code == 200


# -- isolation: the agent never sees the point of sale's order -----------------------------------------

def test_another_partner_finds_no_trace_of_the_order_anywhere(ui):
    app, api = ui
    mega = make_order(api, "kitchen", price="90000", payments=(("9000", "partner"),))
    own = make_order(api, "wardrobe", "agent_ivanov")
    document = add_document(app, mega)
    task_id = api.open_task(mega)["id"]
    with app.app_context():
        with unit_of_work():
            attachment = Attachment(order_id=order_id(app, mega), filename="эскиз.pdf", url="https://example.com/x.pdf")
            db.session.add(attachment)
        attachment_id = attachment.id
    agent = signed_in(app, "partner_agent")
    wide = "from=2000-01-01&to=2100-01-01"

    missing = agent.get("/partner/orders/2099-99999")
    for path in (f"/partner/orders/{mega}", f"/partner/orders/{mega}/documents/{document}",
                 f"/partner/orders/{own}/documents/{document}"):
        response = agent.get(path)
        assert response.status_code == 404, path
        assert mega not in besides_echo(response, path, mega), path
    # Exactly like an order that does not exist (the session's CSRF token is time-stamped, so it is left out).
    assert without_csrf(agent.get(f"/partner/orders/{mega}")).replace(mega, "N") == \
        without_csrf(missing).replace("2099-99999", "N")
    assert agent.get(f"/orders/{mega}", follow_redirects=True).status_code == 404
    for path in (f"/partner?q={mega}", f"/partner?{wide}", "/partner", f"/partner/settlements?{wide}"):
        response = agent.get(path)
        assert response.status_code == 200 and mega not in besides_echo(response, path, mega), path
    assert own in text_of(agent.get(f"/partner?{wide}"))
    xlsx = agent.get(f"/partner/settlements.xlsx?{wide}")
    cells = [c.value for row in load_workbook(BytesIO(xlsx.data)).active.iter_rows() for c in row]
    assert own in cells and mega not in cells
    pdf = agent.get(f"/partner/settlements.pdf?{wide}")
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf.data, capture_output=True, check=True).stdout.decode()
    assert own in text and mega not in text

    assert agent.get(f"/attachments/{attachment_id}").status_code in (403, 404)
    task_page = agent.get(f"/tasks/{task_id}")
    assert task_page.status_code in (403, 404) and mega not in text_of(task_page)

    calls = [api.get("/orders", as_="partner_agent"), api.get(f"/orders?q={mega}", as_="partner_agent"),
             api.get(f"/partner/settlements?{wide}", as_="partner_agent")]
    for response in calls:
        assert response.status_code == 200 and mega not in response.get_data(as_text=True)
    assert api.get(f"/orders?q={mega}", as_="partner_agent").get_json()["total"] == 0
    for path in (f"/orders/{mega}", f"/orders/{mega}/history", f"/orders/{mega}/notifications",
                 f"/orders/{mega}/documents/{document}", f"/orders/{own}/documents/{document}"):
        response = api.get(path, as_="partner_agent")
        assert response.status_code in (403, 404), path
        assert mega not in response.get_data(as_text=True).replace(f"Order {mega} does not exist", ""), path
    cancel = api.post(f"/orders/{mega}/cancel", {"reason": "чужой заказ"}, as_="partner_agent")
    assert cancel.status_code in (403, 404) and mega not in cancel.get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(select(Order.status).where(Order.number == mega)).scalar_one() == "active"
        assert db.session.execute(select(HumanTask.state).where(HumanTask.id == task_id)).scalar_one() == "open"

    # The owner, for contrast, gets all of it.
    owner = signed_in(app, "partner_mega")
    assert owner.get(f"/partner/orders/{mega}").status_code == 200
    assert owner.get(f"/partner/orders/{mega}/documents/{document}").status_code == 200
