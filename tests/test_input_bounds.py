"""Every input path typed and bounded: a wrong type, an absurd size or an unstorable character gets a 4xx that
names the field — never a 500 — and nothing of it is stored."""
from __future__ import annotations

import copy
import io
import json
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.extensions import db
from app.models import Customer, HumanTask, Note, Order
from tests.support.api import Api
from tests.support.fake_sms import FakeSmsGateway
from tests.support.web import csrf_of, signed_in

BIG_ID = 2**63
INTAKE = {"kind": "kitchen", "channel": "phone",
          "customer": {"name": "Иванова Мария", "phone": "+79161234567", "email": "maria@example.com"},
          "address": "Москва, Профсоюзная 56", "description": "Кухня в угол"}
STRING_FIELDS = ["kind", "channel", "address", "description", "partner", "customer.name", "customer.phone",
                 "customer.email"]
WRONG_TYPES = [[], ["a"], {}, {"a": 1}, 123, 1.5, True]
PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def web(make_app):
    app = make_app()
    return app, Api(app, app.test_client())


def count(app, model) -> int:
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(model)).scalar()


def with_field(path: str, value) -> dict:
    body = copy.deepcopy(INTAKE)
    *parents, last = path.split(".")
    node = body
    for part in parents:
        node = node[part]
    node[last] = value
    return body


def post_raw(api: Api, path: str, data, as_: str | None = "sales"):
    headers = {"Content-Type": "application/json", **api._headers(as_)}
    return api.client.post(f"/api/v1{path}", data=data, headers=headers)


# -- API order intake: every field type-checked --------------------------------------------------------------

@pytest.mark.parametrize("field", STRING_FIELDS + ["customer"])
def test_a_wrong_type_in_any_intake_field_is_a_422_naming_it(api, field):
    before = count(api.app, Order)
    for wrong in WRONG_TYPES if field != "customer" else ["Иванова", ["Иванова"], [], 5, False]:
        response = api.post("/orders", with_field(field, wrong), as_="sales")
        assert response.status_code == 422, (field, wrong, response.status_code)
        assert field in response.get_json()["fields"], (field, wrong, response.get_json())
    assert count(api.app, Order) == before


def test_json_nested_10000_deep_is_refused_with_a_message(api):
    response = post_raw(api, "/orders", "[" * 10_000 + "]" * 10_000)
    assert response.status_code == 400
    assert "deeper than 32" in response.get_json()["message"]
    nested = post_raw(api, "/orders", json.dumps(with_field("description", json.loads("[" * 40 + "]" * 40))))
    assert nested.status_code == 400 and count(api.app, Order) == 0


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_literals_are_refused_naming_the_field(api, literal):
    body = json.dumps(INTAKE, ensure_ascii=False).replace('"Москва, Профсоюзная 56"', literal)
    response = post_raw(api, "/orders", body.encode())
    assert response.status_code == 422
    assert literal in response.get_json()["fields"]["address"]
    assert count(api.app, Order) == 0


def test_a_lone_surrogate_in_a_name_is_refused_naming_the_field(api):
    body = json.dumps(with_field("customer.name", "Иванова \ud800"))  # json.dumps writes it as \ud800
    response = post_raw(api, "/orders", body)
    assert response.status_code == 422 and "суррогат" in response.get_json()["fields"]["customer.name"]
    nul = post_raw(api, "/orders", json.dumps(with_field("address", "Москва\u0000")))
    assert nul.status_code == 422 and "NUL" in nul.get_json()["fields"]["address"]
    assert count(api.app, Order) == 0


def test_a_name_of_zero_width_characters_is_empty(api):
    for name in ("\u200b\u200b\u200b", " \u2060\ufeff ", "\u3164\u200d"):
        response = api.post("/orders", with_field("customer.name", name), as_="sales")
        assert response.status_code == 422
        assert response.get_json()["fields"]["customer.name"] == "Укажите имя заказчика"
    assert count(api.app, Order) == 0


def test_strings_are_stored_in_nfc_with_invisible_edges_trimmed(api):
    number = api.post("/orders", with_field("customer.name", "\u200bСеме\u0308нова  Анна\u200b"),
                      as_="sales").get_json()["number"]
    assert api.order(number)["customer"]["name"] == "Семёнова Анна"


@pytest.mark.parametrize("field, limit", [("customer.name", 200), ("address", 400), ("customer.email", 200),
                                          ("description", 30_000)])
def test_strings_longer_than_their_column_are_refused(api, field, limit):
    value = "ж" * limit
    if field == "customer.email":
        value = "a" * (limit - len("@example.com")) + "@example.com"
    assert api.post("/orders", with_field(field, value), as_="sales").status_code == 201
    response = api.post("/orders", with_field(field, "ж" + value), as_="sales")
    assert response.status_code == 422 and str(limit) in response.get_json()["fields"][field]
    assert count(api.app, Order) == 1


def test_a_10_mb_body_is_413_with_a_clear_message_and_nothing_stored(web):
    app, api = web
    response = api.post("/orders", with_field("description", "ж" * (5 * 2**20)), as_="sales")
    assert response.status_code == 413
    assert response.get_json()["message"] == "Слишком большой запрос: не больше 2 МБ"
    client = signed_in(app, "sales")
    page = client.get("/orders/new")
    form = {"kind": "kitchen", "channel": "phone", "customer.name": "Иванова", "customer.phone": "+79161234567",
            "address": "Москва", "description": "ж" * (5 * 2**20), "csrf_token": csrf_of(page.data)}
    browser = client.post("/orders/new", data=form)
    assert browser.status_code == 413 and "Слишком большой запрос" in browser.get_data(as_text=True)
    assert count(app, Order) == 0


def test_uploads_get_their_own_larger_limit(make_app):
    app = make_app(WTF_CSRF_ENABLED=False, MAX_UPLOAD_LENGTH=4 * 2**20)
    api = Api(app, app.test_client())
    number = api.create_order()
    client = signed_in(app, "sales")
    photo = b"\xff\xd8\xff\xe0" + b"\0" * (3 * 2**20)  # 3 MB: over the JSON limit, under the upload one
    ok = client.post(f"/orders/{number}/attachments", data={"file": (io.BytesIO(photo), "photo.jpg")},
                     content_type="multipart/form-data")
    assert ok.status_code == 302
    big = client.post(f"/orders/{number}/attachments", data={"file": (io.BytesIO(photo * 2), "photo.jpg")},
                      content_type="multipart/form-data")
    assert big.status_code == 413 and "не больше 4 МБ" in big.get_data(as_text=True)


# -- ids past 2^63 ---------------------------------------------------------------------------------------------

def test_ids_past_2_63_are_404_on_the_api(api):
    number = api.create_order()
    assert api.get(f"/tasks/{BIG_ID}").status_code == 404
    assert api.post(f"/tasks/{BIG_ID}/claim", as_="sales").status_code == 404
    assert api.get(f"/orders/{number}/documents/{BIG_ID}").status_code == 404
    assert api.post(f"/incidents/{BIG_ID}/retry").status_code == 404
    for edge in (2**31 - 1, 2**31, 2**63 - 1):  # around the largest id an Integer column holds: just missing
        assert api.get(f"/tasks/{edge}").status_code == 404, edge


def test_ids_past_2_63_are_404_in_the_browser(web):
    app, api = web
    api.create_order()
    client = signed_in(app, "sales")
    for path in (f"/tasks/{BIG_ID}", f"/attachments/{BIG_ID}", f"/tasks/{10**30}"):
        assert client.get(path).status_code == 404, path


def test_ids_past_2_63_are_404_on_the_anonymous_status_downloads(web):
    app, api = web
    number = api.create_order()
    token = api.order(number)["status_url"].rsplit("/", 1)[1]
    anonymous = app.test_client()
    assert anonymous.get(f"/s/{token}/documents/{BIG_ID}").status_code == 404
    assert anonymous.get(f"/s/{token}/attachments/{BIG_ID}").status_code == 404
    assert anonymous.get(f"/s/{token}").status_code == 200  # the link itself still works


# -- search and query parameters -------------------------------------------------------------------------------

def test_percent_and_underscore_in_search_match_only_themselves(api):
    percent = api.create_order(address="Москва, офис «100%»")
    underscore = api.create_order(address="Москва, корпус_2")
    plain = api.create_order(address="Москва, Тверская 1")
    for q, expected in (("%", {percent}), ("_", {underscore}), ("100%", {percent}), ("\\", set())):
        items = api.get("/orders", query_string={"q": q}).get_json()["items"]
        assert {o["number"] for o in items} == expected, q
    assert plain in {o["number"] for o in api.get("/orders", query_string={"q": "Тверская"}).get_json()["items"]}


def test_absurd_page_numbers_are_clamped_or_refused_never_500(web):
    app, api = web
    api.create_order()
    assert api.get("/orders?page=abc").status_code == 422
    assert api.get("/orders?per_page=1e3").status_code == 422
    assert api.get(f"/orders?page={10**30}&per_page=-5").status_code == 422  # the API says its bounds; pages clamp
    client = signed_in(app, "sales")
    assert client.get(f"/orders?page={10**30}").status_code == 200
    assert client.get("/orders?page=abc").status_code == 200
    assert signed_in(app, "partner_mega").get(f"/partner?page={10**30}").status_code == 200


def test_the_admins_hand_made_job_result_is_read_as_strictly_as_an_api_body(make_app):
    with FakeSmsGateway() as gateway:  # a gateway refusing our key: the order's first SMS becomes an incident
        app = make_app(WTF_CSRF_ENABLED=False, **gateway.config("smsru", SMSRU_API_ID="not-the-key"))
        api = Api(app, app.test_client())
        api.create_order()
        [incident] = api.get("/incidents", as_="admin").get_json()["items"]
        client = signed_in(app, "admin")
        for result in ("[" * 10_000 + "]" * 10_000, '{"sent": NaN}'):
            response = client.post(f"/admin/incidents/{incident['id']}/skip",
                                   data={"reason": "отправили вручную", "result": result})
            assert response.status_code == 422 and "Результат — не JSON" in response.get_data(as_text=True)
        assert api.get("/incidents", as_="admin").get_json()["count"] == 1


def test_a_nul_character_in_the_address_bar_is_a_400_naming_it(web):
    app, api = web
    response = api.get("/orders", query_string={"q": "a\x00b"})
    assert response.status_code == 400 and response.get_json()["fields"] == {"q": "NUL character"}


# -- other API bodies --------------------------------------------------------------------------------------------

def test_other_api_bodies_name_their_wrong_fields(api):
    number = api.create_order()
    task = api.open_task(number)
    cases = [
        (f"/orders/{number}/cancel", {"reason": ["не нужен"]}, "sales", "reason"),
        (f"/tasks/{task['id']}/assign", {"user": ["sales"]}, "head_sales", "user"),
        (f"/tasks/{task['id']}/complete", {"data": ["decision"]}, "sales", "data"),
        ("/messages/payment_received", {"order_number": [number]}, "accountant", "order_number"),
        ("/messages/payment_received", {"order_number": number, "payload": "paid"}, "accountant", "payload"),
        ("/incidents/1/skip", {"reason": ["resent"]}, "admin", "reason"),
        ("/processes", {"bpmn": "<definitions/>", "dmn": {"sla.dmn": 5}}, "analyst", "dmn.sla.dmn"),
        ("/processes", {"bpmn": "<definitions/>", "comment": {"a": 1}}, "analyst", "comment"),
    ]
    for path, body, who, field in cases:
        response = api.post(path, body, as_=who)
        assert response.status_code == 422, (path, body, response.status_code)
        assert field in response.get_json()["fields"], (path, response.get_json())
    order = api.order(number)
    assert (order["status"], order["stage"]) == ("active", "Новый заказ")


def test_task_form_strings_get_a_default_max_length_and_are_cleaned(api):
    number = api.create_order()
    task = api.open_task(number)
    response = api.complete(task, {"decision": "confirm", "sales_comment": "ж" * 10_001})
    assert response.status_code == 422 and "10000" in response.get_json()["fields"]["sales_comment"]
    surrogate = post_raw(api, f"/tasks/{task['id']}/complete",
                         json.dumps({"data": {"decision": "confirm", "sales_comment": "\udfff"}}), as_="sales")
    assert surrogate.status_code == 422 and "data.sales_comment" in surrogate.get_json()["fields"]
    blank = api.complete(task, {"decision": "cancel", "cancellation": {"reason": "\u200b\u200b\u200b\u200b"}})
    assert blank.status_code == 422 and "cancellation.reason" in blank.get_json()["fields"]
    assert api.open_task(number)["id"] == task["id"]
    done = api.complete(task, {"decision": "confirm", "sales_comment": "Семе\u0308нова\u200b"})
    assert done.status_code == 200
    with api.app.app_context():
        assert db.session.get(HumanTask, task["id"]).data["sales_comment"] == "Семёнова"


def test_attachment_ids_in_form_data_are_bounded_like_path_ids(api):
    number = api.create_order()
    api.walk(number, ["new_order", "plan_measurement"])
    task = api.open_task(number)
    assert task["bpmn_id"] == "measurement"
    for photo in (str(2**63), "²", "１２"):
        response = api.complete(task, {"measurement_result": "customer_absent", "absence_comment": "Не открыли",
                                       "photos": [photo]})
        assert response.status_code == 422 and "photos.0" in response.get_json()["fields"], photo
    assert api.get(f"/tasks/{task['id']}").status_code == 200 and api.open_task(number)["id"] == task["id"]


def test_process_data_bound_for_a_short_column_is_refused_naming_it(api):
    from tests.support.api import HAPPY_CASH

    number = api.create_order()
    api.walk(number, HAPPY_CASH[:4])
    task = api.open_task(number)
    assert task["bpmn_id"] == "payment"
    payment = {"number": "П" * 61, "date": "2026-05-01", "amount": 30000.0, "method": "cash", "received_by": "company"}
    response = api.complete(task, {"payment": payment})
    assert response.status_code == 422, response.get_json()
    assert "payment.number" in response.get_json()["fields"]
    # The same payment from outside (a bank, 1C): the message's payload goes to the same columns.
    for wrong, field in (({"method": ["cash"]}, "payment.method"), ({"number": "П" * 61}, "payment.number")):
        payload = {"number": "1C-000123", "date": "2026-11-20", "amount": 30000.0, "method": "cashless", **wrong}
        sent = api.post("/messages/payment_received", {"order_number": number, "payload": payload}, as_="accountant")
        assert sent.status_code == 422 and field in sent.get_json()["fields"], sent.get_json()
    assert api.order(number)["payments"] == [] and api.open_task(number)["id"] == task["id"]


# -- browser forms -------------------------------------------------------------------------------------------------

def test_a_browser_number_field_refuses_nan_and_infinity(make_app):
    app = make_app(WTF_CSRF_ENABLED=False)
    api = Api(app, app.test_client())
    number = api.create_order()
    api.walk(number, ["new_order"])
    task = api.open_task(number)
    client = signed_in(app, "dispatch")
    for typed in ("nan", "inf", "-Infinity"):
        response = client.post(f"/tasks/{task['id']}", data={"measurer": "measurer", "visit_at": "2030-03-04T10:00",
                                                             "visit_duration_hours": typed})
        assert response.status_code == 422 and "Введите число" in response.get_data(as_text=True), typed
    assert api.open_task(number)["id"] == task["id"]


def test_browser_new_order_refuses_an_invisible_name_and_keeps_what_was_typed(web):
    app, _api = web
    client = signed_in(app, "sales")
    page = client.get("/orders/new")
    form = {"kind": "kitchen", "channel": "phone", "customer.name": "\u200b\u200b", "customer.phone": "+79161234567",
            "address": "Москва, Тверская 1", "csrf_token": csrf_of(page.data)}
    response = client.post("/orders/new", data=form)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Укажите имя заказчика" in html and "Москва, Тверская 1" in html
    assert count(app, Order) == 0 and count(app, Customer) == 0


def test_a_note_of_zero_width_characters_or_past_the_limit_is_not_added(web):
    app, api = web
    number = api.create_order()
    client = signed_in(app, "sales")
    card = client.get(f"/orders/{number}?tab=notes")
    for text in ("\u200b\u200b\u200b", "ж" * 30_001, "текст\x01"):
        response = client.post(f"/orders/{number}/notes", data={"text": text, "csrf_token": csrf_of(card.data)})
        assert response.status_code == 422, text[:10]
    assert count(app, Note) == 0


def test_a_status_page_question_of_invisible_characters_is_refused(web):
    app, api = web
    number = api.create_order()
    token = api.order(number)["status_url"].rsplit("/", 1)[1]
    client = app.test_client()
    page = client.get(f"/s/{token}")
    notes = count(app, Note)
    response = client.post(f"/s/{token}/question", data={"text": "\u200b\u200b\u200b\u200b\u200b",
                                                         "csrf_token": csrf_of(page.data)})
    assert response.status_code == 422 and "Напишите вопрос" in response.get_data(as_text=True)
    assert count(app, Note) == notes


# -- properties: generated wrong types and sizes on each input path ---------------------------------------------

NOT_A_STRING = st.one_of(st.integers(), st.floats(allow_nan=False), st.booleans(),
                         st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(),
                                                                              max_size=2))
UNSTORABLE_TEXT = st.tuples(st.text(max_size=20), st.sampled_from(["\ud800", "\udfff", "\x00"]),
                            st.text(max_size=20)).map("".join)
# Form text a browser can send: any character but surrogates (a form is UTF-8), often invisible or decomposed ones.
TRICKY = st.sampled_from(["\u200b", "\u2060", "\ufeff", "\u3164", "\u00a0", "e\u0301", "е\u0308", "\x01", "\x7f"])
FORM_TEXT = st.lists(st.one_of(st.characters(exclude_categories=("Cs",)), TRICKY), max_size=30).map("".join)


def assert_clean(text: str) -> None:
    """What a stored string looks like: NFC, no control characters but line breaks and tabs, something visible,
    no invisible characters at its edges."""
    assert text == unicodedata.normalize("NFC", text), repr(text)
    assert not any(unicodedata.category(ch) == "Cc" and ch not in "\t\n\r" for ch in text), repr(text)
    assert any(unicodedata.category(ch)[0] in "LNPS" and ch != "\u3164" for ch in text), repr(text)
    for edge in (text[0], text[-1]):
        assert not edge.isspace() and unicodedata.category(edge) != "Cf", repr(text)


@PROPERTY
@given(field=st.sampled_from(STRING_FIELDS), value=st.one_of(NOT_A_STRING, UNSTORABLE_TEXT,
                                                              st.just("ж" * 30_001)))
def test_property_intake_wrong_types_and_sizes_are_4xx_and_store_nothing(api, field, value):
    before = count(api.app, Order)
    response = post_raw(api, "/orders", json.dumps(with_field(field, value)))
    assert 400 <= response.status_code < 500 and response.status_code != 404
    assert response.get_json()["fields"]
    assert count(api.app, Order) == before


@pytest.fixture
def new_order_task(api):
    number = api.create_order()
    return api, number, api.open_task(number)


@PROPERTY
@given(field=st.sampled_from(["decision", "sales_comment", "cancellation", "cancellation.reason"]),
       value=st.one_of(NOT_A_STRING, UNSTORABLE_TEXT, st.just("ж" * 10_001)))
def test_property_task_completion_wrong_types_and_sizes_are_4xx(new_order_task, field, value):
    api, number, task = new_order_task
    data = {"decision": "cancel", "cancellation": {"reason": "Передумали"}}
    if field == "cancellation.reason":
        data["cancellation"]["reason"] = value
    else:
        data[field] = value
    if field == "cancellation" and isinstance(value, dict):
        return  # an object there is the right type
    response = post_raw(api, f"/tasks/{task['id']}/complete", json.dumps({"data": data}), as_="sales")
    assert 400 <= response.status_code < 500, response.get_json()
    assert api.open_task(number)["id"] == task["id"]


@pytest.fixture
def browser(make_app):
    app = make_app(WTF_CSRF_ENABLED=False)
    api = Api(app, app.test_client())
    number = api.create_order()
    return app, api, number, signed_in(app, "sales")


@PROPERTY
@given(text=FORM_TEXT)
def test_property_notes_are_stored_clean_or_refused(browser, text):
    app, _api, number, client = browser
    before = count(app, Note)
    response = client.post(f"/orders/{number}/notes", data={"text": text})
    assert response.status_code in (302, 400, 422)  # 400: a NUL character
    with app.app_context():
        notes = db.session.execute(select(Note).order_by(Note.id)).scalars().all()
    if response.status_code != 302:
        assert len(notes) == before
    else:
        assert len(notes) == before + 1
        assert_clean(notes[-1].text)


@PROPERTY
@given(field=st.sampled_from(["customer.name", "customer.phone", "customer.email", "address", "description",
                              "kind", "channel", "partner"]), text=FORM_TEXT)
def test_property_browser_new_order_never_500(browser, field, text):
    app, _api, _number, client = browser
    form = {"kind": "kitchen", "channel": "phone", "customer.name": "Иванова", "customer.phone": "+79161234567",
            "address": "Москва", "description": "", field: text}
    before = count(app, Order)
    response = client.post("/orders/new", data=form)
    assert response.status_code in (302, 400, 422)
    assert count(app, Order) == before + (1 if response.status_code == 302 else 0)
    if response.status_code == 302 and field in ("customer.name", "address"):
        with app.app_context():
            order = db.session.execute(select(Order).order_by(Order.id.desc())).scalars().first()
            assert_clean(order.customer.name if field == "customer.name" else order.address)


@PROPERTY
@given(text=st.one_of(FORM_TEXT, st.just("ж" * 2001), st.just("\u200b" * 10)))
def test_property_status_page_questions_never_500(browser, text):
    app, api, number, _client = browser
    token = api.order(number)["status_url"].rsplit("/", 1)[1]
    before = count(app, Note)
    response = app.test_client().post(f"/s/{token}/question", data={"text": text})
    assert response.status_code in (302, 400, 422)
    assert count(app, Note) == before + (1 if response.status_code == 302 else 0)
    if response.status_code == 302:
        with app.app_context():
            note = db.session.execute(select(Note).order_by(Note.id.desc())).scalars().first()
            assert_clean(note.text.partition(": ")[2])
