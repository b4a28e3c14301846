"""Task pages: one renderer for all fourteen forms, submitting, errors kept per field, uploads, the people picker."""
from __future__ import annotations

import re
import struct
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from markupsafe import escape
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from app.demo import STAGE_INPUT
from app.extensions import db
from app.forms_ui import parse_form, render_form
from app.models import Attachment, HumanTask, Order
from app.services.calendar import BusinessCalendar
from tests.support.api import Api
from tests.support.web import signed_in
from tests.test_tasks_api import EVERY_TASK

MOSCOW = ZoneInfo("Europe/Moscow")


def tiny_png() -> bytes:
    """A valid 1×1 PNG, built here so the test needs no fixture file."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x80\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


class Ui:
    """The API helper for setting the scene, a browser per person for the pages."""

    def __init__(self, app) -> None:
        self.app = app
        self.api = Api(app, app.test_client())
        self._browsers: dict[str, object] = {}

    def browser(self, login: str):
        if login not in self._browsers:
            self._browsers[login] = signed_in(self.app, login)
        return self._browsers[login]

    def order_at(self, task: str, path: list[str] | None = None) -> tuple[str, dict]:
        number = self.api.create_order()
        self.api.walk(number, path or [])
        open_task = self.api.open_task(number)
        assert open_task["bpmn_id"] == task, open_task
        return number, open_task

    def page(self, task: dict, login: str | None = None):
        return self.browser(login or task["assignee"] or task["lane"]).get(f"/tasks/{task['id']}")

    def submit(self, task: dict, data, login: str | None = None):
        return self.browser(login or task["assignee"] or task["lane"]).post(
            f"/tasks/{task['id']}", data=data, content_type="multipart/form-data")

    def order(self, number: str) -> Order:
        """The order's row (use inside `with ui.app.app_context()`)."""
        return db.session.execute(select(Order).where(Order.number == number)).scalar_one()


@pytest.fixture
def ui(make_app):
    # No app context held open here: each request must load its own signed-in user.
    return Ui(make_app(WTF_CSRF_ENABLED=False))


def field_block(html: str, path: str) -> str:
    """The HTML of one field's wrapper (label, control, help, error)."""
    dom_id = "f-" + re.sub(r"[^A-Za-z0-9_-]", "-", path)
    start = html.index(f'id="{dom_id}"')
    opening = html.rfind('<div class="field', 0, start)
    return html[opening:html.index("</div>", start) + 6]


TO_CONTRACT = ["new_order", "plan_measurement", "measurement"]


def test_every_form_renders_from_its_schema(ui):
    api = ui.api
    number = api.create_order()
    seen = set()
    for bpmn_id, variant in EVERY_TASK:
        task = api.open_task(number)
        assert task["bpmn_id"] == bpmn_id
        # The customer's feedback form is shown to a director (who sees every task) read-only.
        login = "director" if task["lane"] == "customer" else None
        response = ui.page(task, login)
        html = response.get_data(as_text=True)
        assert response.status_code == 200, (bpmn_id, html[:2000])
        detail = api.get(f"/tasks/{task['id']}").get_json()
        schema, ui_schema = detail["schema"], detail["ui_schema"]
        for name, node in schema["properties"].items():
            assert str(escape(node["title"])) in html, (bpmn_id, name)
            widget = (ui_schema.get(name) or {}).get("ui:widget")
            if widget == "outcome":
                for value in node["enum"]:
                    assert f'name="{name}" value="{value}"' in html, (bpmn_id, name, value)
            elif node.get("type") == "object":
                for sub in node["properties"]:
                    assert f'name="{name}.{sub}"' in html, (bpmn_id, name, sub)
            elif node.get("type") == "array" and node["items"].get("type") == "object":
                assert f'name="{name}.0.name"' in html and "<template>" in html, bpmn_id
                assert f'name="{name}.__INDEX__.quantity"' in html, bpmn_id
            elif node.get("type") == "array":
                assert re.search(rf'<input type="file" multiple name="{name}"', html), bpmn_id
            else:
                assert f'name="{name}"' in html, (bpmn_id, name)
        assert order_number_in(html, number)
        seen.add(bpmn_id)
        api.step(number, bpmn_id, variant)
    assert len(seen) == 14


def order_number_in(html: str, number: str) -> bool:
    return number in html and "Иванова Мария Петровна" in html and 'href="tel:+79161234567"' in html


def test_widgets_follow_the_schema(ui):
    _, task = ui.order_at("prepare_contract", TO_CONTRACT)
    html = ui.page(task).get_data(as_text=True)
    price = field_block(html, "price")
    assert 'type="text" inputmode="decimal"' in price and "₽" in price  # «1 234,56» is posted as typed
    assert 'type="date"' in field_block(html, "promised_date")
    assert 'type="radio" name="payment_type" value="credit"' in html and "Безналичный расчёт" in html
    assert 'type="checkbox" name="customer_approved" value="true"' in html
    assert "Обязателен при повторном замере" in html  # ui:help
    assert '<button type="submit" name="contract_outcome" value="to_payment" class="primary">Договор к оплате' in html
    assert "Этапы" in html and "Замер" in html

    _, task = ui.order_at("new_order")
    html = ui.page(task).get_data(as_text=True)
    assert 'name="decision" value="confirm" class="primary">Подтвердить заказ</button>' in html
    assert 'name="decision" value="cancel" class="danger">Отменить заказ</button>' in html
    assert "<legend>Отмена заказа" in html and 'placeholder="Почему заказ отменяется"' in html
    assert "Взять в работу" in html  # the sales queue task is unassigned


def test_an_outsider_gets_403(ui):
    _, task = ui.order_at("payment", TO_CONTRACT + ["prepare_contract"])
    assert task["lane"] == "accountant"
    response = ui.page(task, "measurer")
    assert response.status_code == 403 and "Нет доступа" in response.get_data(as_text=True)
    response = ui.submit(task, {"payment.number": "1"}, "measurer")
    assert response.status_code == 403
    assert ui.page(task, "accountant").status_code == 200


def test_a_bad_price_keeps_what_was_typed_and_says_why(ui):
    number, task = ui.order_at("prepare_contract", TO_CONTRACT)
    response = ui.submit(task, {"price": "12abc", "prepayment": "30000", "payment_type": "cash",
                                "promised_date": "2031-03-01", "customer_approved": ["false", "true"],
                                "contract_comment": "Скидка 5% согласована", "contract_outcome": "to_payment"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    price = field_block(html, "price")
    assert 'value="12abc"' in price and "Введите сумму числом" in price and "invalid" in price
    assert 'aria-invalid="true"' in price
    assert 'value="30000"' in field_block(html, "prepayment")
    assert 'value="2031-03-01"' in html and "Скидка 5% согласована" in html
    assert 'name="payment_type" value="cash" id="f-payment_type-0" checked' in html
    assert 'name="customer_approved" value="true" id="f-customer_approved" checked' in html
    assert "Форма не отправлена" in html
    assert ui.api.open_task(number)["id"] == task["id"]  # nothing moved

    # The same form, the approval unticked: the conditional `const: true` is enforced by the server.
    response = ui.submit(task, {"price": "150000", "prepayment": "30000", "payment_type": "cash",
                                "promised_date": "2031-03-01", "customer_approved": "false",
                                "contract_outcome": "to_payment"})
    assert response.status_code == 422
    assert "Требуется подтверждение" in response.get_data(as_text=True)


def test_a_valid_submission_moves_the_order_and_offers_the_next_task(ui):
    number, task = ui.order_at("plan_measurement", ["new_order"])
    response = ui.submit(task, {"measurer": "measurer2", "visit_at": "2030-05-14T10:00",
                                "visit_duration_hours": "2", "dispatch_comment": ""})
    assert response.status_code == 302 and response.headers["Location"].endswith("/inbox/next")
    with ui.app.app_context():
        order = ui.order(number)
        assert order.visit_at == datetime(2030, 5, 14, 7, 0, tzinfo=timezone.utc)  # Moscow 10:00 is 07:00 UTC
        assert order.measurer.login == "measurer2"
    assert ui.api.open_task(number)["bpmn_id"] == "measurement"
    follow = ui.browser("dispatch").get("/inbox/next", follow_redirects=True)
    assert "Задача выполнена" in follow.get_data(as_text=True)

    html = ui.page(task).get_data(as_text=True)  # the done task: read-only, who and when
    assert "Задача выполнена" in html and "Дмитрий Планов" in html
    assert "disabled" in field_block(html, "visit_at") and 'name="visit_duration_hours"' in html
    assert ui.submit(task, {"measurer": "measurer"}).status_code == 409


def test_the_components_table_round_trips(ui):
    number = ui.api.create_order()
    ui.api.walk(number, TO_CONTRACT)
    ui.api.step(number, "prepare_contract", {"contract_outcome": "to_design"})
    task = ui.api.open_task(number)
    assert task["bpmn_id"] == "design"
    rows = {"components.0.name": "ЛДСП Egger W1000", "components.0.quantity": "6", "components.0.unit": "шт",
            "components.0.status": "needed", "components.0.supplier": "Эггер",
            "components.1.name": "Фурнитура Blum", "components.1.quantity": "1,5", "components.1.unit": "компл.",
            "components.1.status": "ordered",
            "components.2.name": "", "components.2.quantity": "", "components.2.unit": "шт",
            "components.2.status": "needed"}  # the blank row the page always offers
    response = ui.submit(task, {**rows, "design_outcome": "needs_clarification"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "Обязательное поле" in field_block(html, "design_comment")
    assert 'value="ЛДСП Egger W1000"' in html and 'value="1.5"' in html and 'value="Эггер"' in html
    assert 'name="components.2.name"' in html and 'name="components.3.name"' not in html

    response = ui.submit(task, {**rows, "layout_notes": "Раскрой по эскизу", "design_outcome": "done"})
    assert response.status_code == 302
    with ui.app.app_context():
        components = [(c.name, float(c.quantity), c.unit, c.status) for c in ui.order(number).components]
    assert components == [("ЛДСП Egger W1000", 6.0, "шт", "needed"), ("Фурнитура Blum", 1.5, "компл.", "ordered")]


def test_a_photo_is_stored_and_a_fake_image_refused(ui, tmp_path):
    from io import BytesIO

    number, task = ui.order_at("measurement", ["new_order", "plan_measurement"])
    measured = {"dimensions.width_mm": "1800", "dimensions.height_mm": "2400", "dimensions.depth_mm": "600",
                "composition": "Корпус ЛДСП", "mounting_notes": "Неровный пол", "measurement_result": "done"}

    fake = ui.submit(task, {**measured, "photos": (BytesIO(b"just some text, not a picture"), "photo.png",
                                                   "image/png")})
    html = fake.get_data(as_text=True)
    assert fake.status_code == 422
    assert "не подходит" in html and "photo.png" in html
    with ui.app.app_context():
        assert db.session.execute(select(Attachment)).first() is None

    # A good photo with the dimensions missing: the form is refused, the photo is kept with the order.
    partial = {k: v for k, v in measured.items() if not k.startswith("dimensions")}
    response = ui.submit(task, {**partial, "photos": (BytesIO(tiny_png()), "фото замера.png", "image/png")})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "Обязательное поле" in html
    with ui.app.app_context():
        attachment = db.session.execute(select(Attachment)).scalar_one()
        assert attachment.filename == "фото замера.png" and attachment.content_type == "image/png"
        stored = ui.app.config["UPLOADS_DIR"] + "/" + attachment.storage_path
        assert attachment.storage_path.startswith(number + "/") and attachment.storage_path.endswith(".png")
    with open(stored, "rb") as fh:
        assert fh.read() == tiny_png()
    assert f'name="photos" value="{attachment.id}"' in html and "фото замера.png" in html

    response = ui.submit(task, {**measured, "photos": str(attachment.id)})
    assert response.status_code == 302
    assert ui.api.open_task(number)["bpmn_id"] == "prepare_contract"
    image = ui.browser("measurer").get(f"/attachments/{attachment.id}")
    assert image.status_code == 200 and image.data == tiny_png() and image.mimetype == "image/png"
    assert ui.browser("partner_mega").get(f"/attachments/{attachment.id}").status_code == 403


def test_a_submission_that_fails_after_its_upload_leaves_no_file_on_the_order(ui):
    """One submission, one unit of work: the photo is kept only with a completed task or a refused form."""
    from io import BytesIO

    number, task = ui.order_at("measurement", ["new_order", "plan_measurement"])
    measured = {"dimensions.width_mm": "1800", "dimensions.height_mm": "2400", "dimensions.depth_mm": "600",
                "composition": "Корпус ЛДСП", "mounting_notes": "Неровный пол", "measurement_result": "done"}
    ui.page(task)  # the measurer has the form open …
    ui.api.walk(number, ["measurement"])  # … while the visit is recorded from another device
    late = ui.submit(task, {**measured, "photos": (BytesIO(tiny_png()), "поздний снимок.png", "image/png")})

    assert late.status_code == 409
    with ui.app.app_context():
        assert db.session.execute(select(Attachment)).first() is None
    card = ui.browser("sales").get(f"/orders/{number}?tab=notes").get_data(as_text=True)
    assert "поздний снимок.png" not in card
    assert not any(path.is_file() for path in (Path(ui.app.config["UPLOADS_DIR"]) / number).rglob("*"))


def next_working_day() -> datetime:
    """Midnight (Moscow) of the first working day after today on the business calendar."""
    calendar = BusinessCalendar(tz=MOSCOW)
    day = datetime.now(MOSCOW).date() + timedelta(days=1)
    while not calendar.is_working_day(day):
        day += timedelta(days=1)
    return datetime.combine(day, datetime.min.time(), MOSCOW)


def test_the_people_picker_shows_booked_visits(ui):
    day = next_working_day()  # visits are booked in working hours, never in the past
    for hour, minute in ((14, 30), (10, 0)):
        number, task = ui.order_at("plan_measurement", ["new_order"])
        visit = day.replace(hour=hour, minute=minute).astimezone(timezone.utc).isoformat()
        ui.api.step(number, "plan_measurement", None, measurer="measurer", visit_at=visit)
    _, task = ui.order_at("plan_measurement", ["new_order"])
    html = ui.page(task).get_data(as_text=True)  # today: nothing booked yet
    assert 'class="user-picker"' in html and "Игорь Замеров — нет выездов" in html

    # That day chosen (and the measurer forgotten): the picker shows the day's bookings.
    chosen = day.strftime("%Y-%m-%dT12:00")
    response = ui.submit(task, {"visit_at": chosen, "visit_duration_hours": "2"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "Обязательное поле" in html
    assert "Игорь Замеров — 2 выезда: 10:00, 14:30" in html
    assert "Олег Рулеткин — нет выездов" in html and f'value="{chosen}"' in html

    other = (day + timedelta(days=3)).strftime("%Y-%m-%dT11:00")
    html = ui.submit(task, {"visit_at": other, "visit_duration_hours": "2"}).get_data(as_text=True)
    assert "Игорь Замеров — нет выездов" in html and f'value="{other}"' in html


def test_parse_form_types_values_by_the_schema(ui):
    schema = ui.api.get(f"/tasks/{ui.order_at('prepare_contract', TO_CONTRACT)[1]['id']}").get_json()["schema"]
    form = MultiDict([("price", "150 000,50"), ("prepayment", ""), ("customer_approved", "false"),
                      ("components_available", "false"), ("components_available", "true"),
                      ("contract_outcome", "to_payment"), ("unknown", "x")])
    data, uploads = parse_form(schema, form, MultiDict())
    assert data == {"price": 150000.5, "customer_approved": False, "components_available": True,
                    "contract_outcome": "to_payment"}
    assert uploads == []
    with ui.app.test_request_context():
        html = str(render_form(schema, {}, data, {"price": "Значение слишком мало"}))
    assert "Значение слишком мало" in field_block(html, "price")


def test_stage_input_is_what_the_form_posts_back(ui):
    """The measurement form's fields, posted as a browser would, parse to the demo's valid input."""
    number, task = ui.order_at("measurement", ["new_order", "plan_measurement"])
    expected = STAGE_INPUT["measurement"](ui.api.rng, {})
    form = {"dimensions." + k: str(v) for k, v in expected["dimensions"].items()}
    form.update(composition=expected["composition"], mounting_notes=expected["mounting_notes"],
                measurement_result="done")
    assert ui.submit(task, form).status_code == 302
    with ui.app.app_context():
        done = db.session.get(HumanTask, task["id"])
        assert done.state == "completed" and done.completed_by.login == "measurer"
