"""The form renderer and its widgets on small inline schemas: what a person sees in a task form and what
comes back when they post it (app/forms_ui)."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from werkzeug.datastructures import FileStorage, MultiDict

from app import create_app
from app.forms_ui import FormExtras, parse_form, render_form
from app.i18n import when

SCHEMA = {
    "type": "object",
    "required": ["name", "price"],
    "properties": {
        "name": {"type": "string", "title": "Имя", "maxLength": 80},
        "comment": {"type": "string", "title": "Комментарий", "description": "Что важно знать"},
        "email": {"type": "string", "format": "email", "title": "Почта"},
        "phone": {"type": "string", "format": "phone", "title": "Телефон"},
        "promised": {"type": "string", "format": "date", "title": "Срок"},
        "visit_at": {"type": "string", "format": "date-time", "title": "Выезд"},
        "doors": {"type": "integer", "title": "Двери", "minimum": 0, "maximum": 40},
        "rating": {"type": "integer", "title": "Оценка", "minimum": 1, "maximum": 5},
        "width": {"type": "number", "title": "Ширина"},
        "price": {"type": "number", "format": "money", "title": "Цена"},
        "kind": {"type": "string", "title": "Вид", "enum": ["kitchen", "wardrobe"],
                 "x-enumNames": ["Кухня", "Шкаф"]},
        "channel": {"type": "string", "title": "Канал", "enum": ["sms", "email"]},
        "agreed": {"type": "boolean", "title": "Согласовано"},
        "measurer": {"type": "string", "title": "Замерщик", "x-choices": "role:measurer",
                     "enum": ["petrov", "sidorov"], "x-enumNames": ["Петров", "Сидоров"]},
        "token": {"type": "string"},
        "photos": {"type": "array", "title": "Фото", "items": {"type": "string", "format": "attachment",
                                                               "x-accept": "image/*"}},
        "address": {"type": "object", "title": "Адрес", "required": ["city"],
                    "properties": {"city": {"type": "string", "title": "Город"},
                                   "flat": {"type": "string", "title": "Квартира"}}},
        "items": {"type": "array", "title": "Комплектующие",
                  "items": {"type": "object", "required": ["name"],
                            "properties": {"name": {"type": "string", "title": "Наименование"},
                                           "quantity": {"type": "number", "title": "Кол-во", "default": 1}}}},
        "decision": {"type": "string", "title": "Решение", "enum": ["approve", "rework", "cancel"],
                     "x-enumNames": ["Согласовать", "На доработку", "Отменить"]},
    },
}
UI = {
    "ui:order": ["name", "*", "decision"],
    "comment": {"ui:widget": "textarea"},
    "channel": {"ui:widget": "radio"},
    "rating": {"ui:widget": "select"},
    "token": {"ui:widget": "hidden"},
    "decision": {"ui:widget": "outcome"},
}


@pytest.fixture
def form_app(tmp_path):
    """An app in a given company time zone, in a request: the renderer needs nothing else."""
    def make(zone: str = "Europe/Moscow"):
        app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "test",
                          "INSTANCE_PATH": str(tmp_path), "TIMEZONE": zone})
        context = app.test_request_context()
        context.push()
        contexts.append(context)
        return app

    contexts: list = []
    yield make
    for context in reversed(contexts):
        context.pop()


def field(html: str, dom_id: str) -> str:
    """The field block (label, control, help, error) holding the element with this id."""
    start = html.index(f'id="{dom_id}"')
    opening = max(html.rfind('<div class="field', 0, start), html.rfind('<fieldset class="field', 0, start))
    closing = "</fieldset>" if html.startswith("<fieldset", opening) else "</div>"
    return html[opening:html.index(closing, start) + len(closing)]


def test_each_field_type_gets_its_widget(form_app):
    form_app()
    html = str(render_form(SCHEMA, UI, {"token": "abc", "photos": ["7"]},
                           extras=FormExtras(person_notes={"petrov": "2 выезда: 10:00, 14:30"},
                                             attachment_names={"7": "кухня.jpg"},
                                             attachment_url=lambda key: f"/files/{key}")))
    assert '<input type="text" value="" maxlength="80" name="name" id="f-name"' in html
    assert re.search(r'<textarea rows="3" name="comment" id="f-comment"[^>]*aria-describedby="f-comment-help"', html)
    assert '<span class="help" id="f-comment-help">Что важно знать</span>' in html
    assert '<input type="email" value="" name="email"' in html
    assert '<input type="tel" value="" name="phone"' in html
    assert '<input type="date" value="" name="promised"' in html
    assert '<input type="datetime-local" value="" name="visit_at"' in html
    assert '<input type="number" inputmode="numeric" step="1" min="0" max="40" value="" name="doors"' in html
    assert '<input type="number" inputmode="decimal" step="any" value="" name="width"' in html
    # Money is text with a rouble sign, so «1 234,56» can be typed; a short integer range is a select.
    assert re.search(r'<span class="suffixed"><input type="text" inputmode="decimal" autocomplete="off" value="" '
                     r'placeholder="0,00" name="price" id="f-price"[^>]*><span class="suffix">₽</span></span>', html)
    rating = field(html, "f-rating")
    assert [int(v) for v in re.findall(r'<option value="(\d)"', rating)] == [1, 2, 3, 4, 5]
    kind = field(html, "f-kind")
    assert '<option value="">— выберите —</option>' in kind
    assert '<option value="kitchen">Кухня</option><option value="wardrobe">Шкаф</option>' in kind
    assert re.search(r'<fieldset class="field radios"><legend>Канал</legend><div class="choices">'
                     r'<label class="radio"><input type="radio" name="channel" value="sms" id="f-channel-0"> sms'
                     r'</label>', html)
    # An unticked box still posts "false": the hidden input comes first.
    assert ('<input type="hidden" name="agreed" value="false"><label class="check">'
            '<input type="checkbox" name="agreed" value="true" id="f-agreed">') in html
    picker = field(html, "f-measurer")
    assert 'class="user-picker"' in picker and "Петров — 2 выезда: 10:00, 14:30</option>" in picker
    assert '<input type="hidden" name="token" value="abc">' in html
    photos = field(html, "f-photos")
    assert '<input type="hidden" name="photos" value="7">📎 <a href="/files/7"' in photos and "кухня.jpg" in photos
    assert '<input type="file" multiple name="photos" id="f-photos" accept="image/*">' in photos
    assert '<fieldset class="group" id="f-address"><legend>Адрес</legend>' in html
    assert 'name="address.city"' in html and 'name="address.flat"' in html
    # The table: one empty row (the quantity's default filled in), and a template for the script to copy.
    assert '<th scope="col">Наименование <span class="req" aria-hidden="true">*</span></th>' in html
    assert re.search(r'name="items\.0\.name" aria-label="Наименование"', html)
    assert re.search(r'value="1" name="items\.0\.quantity"', html)
    assert "<template><tr>" in html and 'name="items.__INDEX__.quantity"' in html
    assert 'data-add-row="f-items">+ Добавить строку</button>' in html


def test_the_order_of_fields_and_the_outcome_buttons(form_app):
    form_app()
    html = str(render_form(SCHEMA, UI, {}))
    names = re.findall(r' name="([a-z_]+)"', html)
    assert names[0] == "name" and names[-3:] == ["decision"] * 3  # ui:order: name first, the outcome last
    buttons = re.findall(r'<button type="submit" name="decision" value="(\w+)"(?: class="(\w+)")?>([^<]+)</button>',
                         html)
    assert buttons == [("approve", "primary", "Согласовать"), ("rework", "", "На доработку"),
                       ("cancel", "danger", "Отменить")]
    assert "Готово" not in html
    # A form without an outcome field ends in one «Готово».
    plain = str(render_form({"type": "object", "properties": {"note": {"type": "string"}}}, {}, {}))
    assert plain.endswith('<div class="actions outcome"><button type="submit" class="primary">Готово</button></div>')


def test_required_fields_are_marked_and_a_readonly_form_cannot_be_changed(form_app):
    form_app()
    html = str(render_form(SCHEMA, UI, {}))
    required = '<span class="req" aria-hidden="true">*</span>'
    assert f'<label for="f-name">Имя {required}</label>' in html
    assert f'<label for="f-price">Цена {required}</label>' in html
    assert f'<label for="f-address-city">Город {required}</label>' in html
    assert f'<label for="f-comment">Комментарий{required}' not in html and '<label for="f-comment">Комментарий<' in html

    data = {"name": "Иванова", "decision": "rework", "items": [{"name": "Петля", "quantity": 4}], "photos": ["7"]}
    shown = str(render_form(SCHEMA, UI, data, extras=FormExtras(readonly=True)))
    controls = re.findall(r"<(?:input|select|textarea|button)\b[^>]*>", shown)
    editable = [c for c in controls if " disabled" not in c and 'type="hidden"' not in c]
    assert editable == [], editable
    assert "<template>" not in shown and "data-add-row" not in shown and "data-drop-row" not in shown
    assert "data-remove-file" not in shown and "Готово" not in shown
    assert re.search(r"<tbody>(.*)</tbody>", shown).group(1).count("<tr>") == 1  # no empty row to type into
    assert 'value="rework" aria-pressed="true" disabled>На доработку' in shown


def test_errors_are_shown_beside_their_fields(form_app):
    form_app()
    errors = {"price": "Не больше двух знаков после запятой (копейки)", "address.city": "Обязательное поле",
              "items.0.quantity": "Значение слишком мало", "decision": "Выберите решение", "agreed": "Нужно согласие"}
    html = str(render_form(SCHEMA, UI, {"items": [{"name": "Петля", "quantity": -1}]}, errors))
    price = field(html, "f-price")
    assert price.startswith('<div class="field invalid">')
    assert 'aria-invalid="true" aria-describedby="f-price-error"' in price
    assert price.endswith('<span class="error" id="f-price-error">Не больше двух знаков после запятой (копейки)</span>'
                          "</div>")
    city = field(html, "f-address-city")
    assert city.startswith('<div class="field invalid">') and "Обязательное поле" in city
    assert "Обязательное поле" not in field(html, "f-address-flat")
    assert re.search(r'<td class="field invalid" data-label="Кол-во"><input [^>]*name="items\.0\.quantity"'
                     r'[^>]*aria-invalid="true"[^>]*><span class="error">Значение слишком мало</span></td>', html)
    assert '<div class="field check-field invalid">' in html and "Нужно согласие" in html
    # The outcome's error stands above its buttons, where the person is about to click.
    assert '<p class="error" role="alert">Выберите решение</p><div class="actions outcome"' in html
    assert html.count('class="error"') == len(errors)


def test_typed_values_come_back_after_an_error(form_app):
    form_app()
    posted = MultiDict([("name", "  Иванова "), ("price", "1 234,567"), ("width", "12,5"), ("doors", "пять"),
                        ("agreed", "false"), ("agreed", "true"), ("kind", "wardrobe"), ("visit_at", "завтра")])
    data, uploads = parse_form(SCHEMA, posted, MultiDict())
    assert uploads == []
    # What converts is typed; what does not stays as typed, for the error to name and the form to show again.
    assert data == {"name": "Иванова", "price": "1 234,567", "width": 12.5, "doors": "пять", "agreed": True,
                    "kind": "wardrobe", "visit_at": "завтра"}
    errors = {"price": "Не больше двух знаков после запятой (копейки)", "doors": "Введите число",
              "visit_at": "Неверный формат"}
    html = str(render_form(SCHEMA, UI, data, errors, use_defaults=False))
    assert 'value="1 234,567"' in field(html, "f-price")
    assert 'value="пять"' in field(html, "f-doors")
    assert 'value="завтра"' in field(html, "f-visit_at")
    assert 'value="Иванова"' in field(html, "f-name")
    assert 'value="12.5"' in field(html, "f-width")
    assert 'checked' in field(html, "f-agreed")
    assert '<option value="wardrobe" selected>Шкаф</option>' in html


@pytest.mark.parametrize("typed, amount, shown", [
    ("1 234,56", 1234.56, "1234,56"),
    ("1\u00a0234,5", 1234.5, "1234,50"),
    ("1234.05", 1234.05, "1234,05"),
    ("0,29", 0.29, "0,29"),
    ("999 999 999 999,99", 999999999999.99, "999999999999,99"),
    ("1 500", 1500, "1500"),
])
def test_money_is_read_as_typed_to_the_kopeck(form_app, typed, amount, shown):
    form_app()
    data, _ = parse_form(SCHEMA, MultiDict([("price", typed)]), MultiDict())
    assert data == {"price": amount} and type(data["price"]) is type(amount)
    html = str(render_form(SCHEMA, UI, data))
    assert f'value="{shown}"' in field(html, "f-price")


@pytest.mark.parametrize("zone, local", [
    ("Europe/Moscow", "2026-12-01T10:30"),
    ("Asia/Yekaterinburg", "2026-12-01T12:30"),
    ("Asia/Vladivostok", "2026-12-01T17:30"),
])
def test_date_times_are_typed_and_shown_in_the_company_zone(form_app, zone, local):
    form_app(zone)
    stored = "2026-12-01T07:30+00:00"
    html = str(render_form(SCHEMA, UI, {"visit_at": stored}))
    assert f'<input type="datetime-local" value="{local}" name="visit_at"' in html
    # The page around the form shows the same time as the form.
    assert when(datetime(2026, 12, 1, 7, 30, tzinfo=timezone.utc)).endswith(local[-5:])
    data, _ = parse_form(SCHEMA, MultiDict([("visit_at", local)]), MultiDict())
    assert data == {"visit_at": stored}
    # A plain date has no zone: it is shown and read back as the day it names.
    html = str(render_form(SCHEMA, UI, {"promised": "2026-12-31"}))
    assert '<input type="date" value="2026-12-31" name="promised"' in html
    assert parse_form(SCHEMA, MultiDict([("promised", "2026-12-31")]), MultiDict())[0] == {"promised": "2026-12-31"}


def test_table_rows_and_files_are_parsed_back(form_app):
    form_app()
    posted = MultiDict([
        ("items.0.name", "Петля"), ("items.0.quantity", "4"),
        ("items.1.name", ""), ("items.1.quantity", "1"),  # the empty row with its default: not a row
        ("items.2.name", "Ручка"), ("items.2.quantity", "2,5"),
        ("address.city", "Тверь"), ("address.flat", " "),
        ("photos", "7"), ("photos", " "),
    ])
    photo = FileStorage(filename="kitchen.jpg", content_type="image/jpeg")
    data, uploads = parse_form(SCHEMA, posted, MultiDict([("photos", photo), ("photos", FileStorage())]))
    assert data == {"items": [{"name": "Петля", "quantity": 4}, {"name": "Ручка", "quantity": 2.5}],
                    "address": {"city": "Тверь"}, "photos": ["7"]}
    assert [(u.path, u.file, u.accept) for u in uploads] == [("photos", photo, "image/*")]
