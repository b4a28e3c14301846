"""Excel import of orders: the template, the dry run's row-by-row refusals, the import by the worker, re-import."""
from __future__ import annotations

import io

from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from app.extensions import db
from app.models import Order
from app.usecases.imports import run_import
from tests.support.web import csrf_of, signed_in

HEADERS = ["номер во внешней системе", "вид", "канал", "заказчик", "телефон", "e-mail", "адрес", "описание",
           "партнёр"]
GOOD = [
    ["CRM-1", "Встроенный шкаф", "Сайт", "Иванова Мария", "+7 916 123-45-67", "", "Москва, ул. Лесная, 5", "", ""],
    ["CRM-2", "Кухонный гарнитур", "", "Петров Пётр", "", "petrov@example.ru", "Москва, ул. Тверская, 1", "угловая",
     "mega"],
    [1003, "kitchen", "Телефон", "Сидоров", 89161112233, "", "Химки, ул. Мира, 2", "", ""],
]
BAD = {  # Excel row → (the row, the column that must be named)
    6: (["CRM-4", "Батут", "", "Кузнецов", "+79161234567", "", "Москва", "", ""], "вид"),
    7: (["CRM-5", "Кондиционер", "", "Орлов", "12", "", "Москва", "", ""], "телефон"),
    8: (["CRM-6", "Кондиционер", "", "", "+79161234567", "", "Москва", "", ""], "заказчик"),
    9: (["CRM-7", "Кондиционер", "", "Волков", "+79161234567", "", "Москва", "", "nobody"], "партнёр"),
    10: (["CRM-1", "Кондиционер", "", "Зайцев", "+79161234567", "", "Москва", "", ""], "номер во внешней системе"),
}


def workbook(rows: list[list], headers: list[str] = HEADERS) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def mixed_file() -> bytes:
    return workbook([*GOOD, [None] * 9, *(row for row, _ in BAD.values())])  # row 5 is empty: skipped


def upload(api, data: bytes, *, dry_run: str | None = None, as_: str = "sales", name: str = "crm.xlsx"):
    form = {"file": (io.BytesIO(data), name)}
    if dry_run is not None:
        form["dry_run"] = dry_run
    return api.client.post("/api/v1/imports/orders", data=form, content_type="multipart/form-data",
                           headers={"Authorization": f"Bearer {api.token(as_)}"})


def imported(app) -> list[tuple[str, str, str]]:
    with app.app_context():
        return sorted((ref, kind, channel) for ref, kind, channel in db.session.execute(
            select(Order.external_ref, Order.kind, Order.channel).where(Order.external_ref.is_not(None))))


def test_template_has_the_columns_and_explains_them(api):
    response = api.get("/imports/orders/template.xlsx", as_="sales")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.data))
    assert [c.value for c in book.worksheets[0][1]] == HEADERS
    explained = {row[0]: row[1] for row in book.worksheets[1].iter_rows(min_row=2, values_only=True)}
    assert set(explained) == set(HEADERS)
    assert "Кухонный гарнитур" in explained["вид"] and "mega" in explained["партнёр"]
    assert "Сайт" in explained["канал"]


def test_dry_run_lists_exactly_the_bad_rows_and_creates_nothing(api, app):
    response = upload(api, mixed_file())
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["rows"], body["valid"], body["job_id"]) == (8, 3, None)
    assert sorted({(e["row"], e["column"]) for e in body["errors"]}) == sorted(
        (row, column) for row, (_, column) in BAD.items())
    reasons = {e["row"]: e["message"] for e in body["errors"]}
    assert "Батут" in reasons[6] and "Кухонный гарнитур" in reasons[6]
    assert "строке 2" in reasons[10]
    assert [o["external_ref"] for o in body["orders"]] == ["CRM-1", "CRM-2", "1003"]
    assert imported(app) == []


def test_import_creates_the_good_rows_once(api, app):
    response = upload(api, mixed_file(), dry_run="false")
    assert response.status_code == 202, response.get_json()
    import_id = response.get_json()["import_id"]
    progress = api.get(f"/imports/{import_id}", as_="sales").get_json()
    assert (progress["status"], progress["created"], progress["failed"]) == ("done", 3, 5)
    assert imported(app) == [("1003", "kitchen", "phone"), ("CRM-1", "wardrobe", "web"),
                             ("CRM-2", "kitchen", "import")]
    with app.app_context():
        order = db.session.execute(select(Order).where(Order.external_ref == "CRM-2")).scalar_one()
        assert order.partner.code == "mega" and order.instance is not None  # its process started like any order

    again = upload(api, mixed_file(), dry_run="false")
    assert again.status_code == 202
    body = again.get_json()
    assert body["valid"] == 0
    assert {e["row"] for e in body["errors"] if "уже импортирован" in e["message"]} == {2, 3, 4}
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Order)
                                  .where(Order.external_ref.is_not(None))).scalar() == 3


def test_files_that_cannot_be_read_are_refused_naming_file(api, app):
    not_a_book = upload(api, b"number;kind\n1;kitchen\n", name="orders.csv")
    assert not_a_book.status_code == 422 and "file" in not_a_book.get_json()["fields"]
    no_header = upload(api, workbook([["CRM-1", "Кухня"]], headers=["что-то", "ещё"]))
    assert no_header.status_code == 422 and "заказчик" in no_header.get_json()["fields"]["file"]
    no_file = api.client.post("/api/v1/imports/orders", data={"dry_run": "true"}, content_type="multipart/form-data",
                              headers={"Authorization": f"Bearer {api.token('sales')}"})
    assert no_file.status_code == 422 and "file" in no_file.get_json()["fields"]


def test_too_many_rows_are_refused(api, app):
    app.config["IMPORT_MAX_ROWS"] = 2
    try:
        response = upload(api, workbook(GOOD))
    finally:
        app.config["IMPORT_MAX_ROWS"] = 10_000
    assert response.status_code == 422
    assert "2" in response.get_json()["fields"]["file"]


def test_a_job_delivered_twice_places_nothing_twice(api, app):
    import_id = upload(api, mixed_file(), dry_run="false").get_json()["import_id"]
    before = api.get(f"/imports/{import_id}", as_="sales").get_json()
    with app.app_context():
        assert run_import(import_id) == {"created": 3, "failed": 5}  # the worker died after its last commit
    after = api.get(f"/imports/{import_id}", as_="sales").get_json()
    assert after["errors"] == before["errors"] and len(imported(app)) == 3


def test_measurer_may_not_import(api, app):
    assert upload(api, workbook(GOOD), as_="measurer").status_code == 403
    assert api.get("/imports/orders/template.xlsx", as_="measurer").status_code == 403
    assert signed_in(app, "measurer").get("/orders/import").status_code == 403


def test_page_checks_then_imports(api, app):
    client = signed_in(app, "sales")
    page = client.get("/orders/import")
    assert page.status_code == 200
    token = csrf_of(page.data)
    checked = client.post("/orders/import", data={"csrf_token": token, "mode": "check",
                                                  "file": (io.BytesIO(mixed_file()), "crm.xlsx")},
                          content_type="multipart/form-data")
    html = checked.get_data(as_text=True)
    assert checked.status_code == 200 and "Строк с ошибками: 5" in html and "Неизвестное значение «Батут»" in html
    assert imported(app) == []
    bad = client.post("/orders/import", data={"csrf_token": token, "mode": "check",
                                              "file": (io.BytesIO(b"junk"), "x.xlsx")},
                      content_type="multipart/form-data")
    assert bad.status_code == 422 and "не книга Excel" in bad.get_data(as_text=True)
    started = client.post("/orders/import", data={"csrf_token": token, "mode": "import",
                                                  "file": (io.BytesIO(mixed_file()), "crm.xlsx")},
                          content_type="multipart/form-data")
    assert started.status_code == 302
    progress = client.get(started.headers["Location"]).get_data(as_text=True)
    assert "Готово" in progress and "Неизвестный код партнёра" in progress
    assert len(imported(app)) == 3
