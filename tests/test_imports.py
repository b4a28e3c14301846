"""Excel import of orders: the template, the dry run's row-by-row refusals, the import by the worker, re-import."""
from __future__ import annotations

import io
import os
import re
import time
import zipfile

from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from app.extensions import db
from app.models import Order, OrderImport, OutboxJob, ProcessInstance, User
from app.usecases.imports import run_import, start_processes
from tests.support.api import Api
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
    assert (progress["status"], progress["created"], progress["failed"], progress["started"]) == ("done", 3, 5, 3)
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


def test_headers_match_loosely_but_a_column_not_in_the_template_is_refused(api, app):
    """«Партнер» without ё and «ТЕЛЕФОН » are the template's columns; «Примечание» is not, and would be lost."""
    loose = [h.replace("ё", "е").upper() + " " for h in HEADERS]
    response = upload(api, workbook(GOOD, headers=loose))
    assert response.status_code == 200 and response.get_json()["valid"] == 3
    assert response.get_json()["orders"][1]["external_ref"] == "CRM-2"
    extra = upload(api, workbook([row + ["срочно"] for row in GOOD], headers=[*HEADERS, "Примечание"]))
    assert extra.status_code == 422 and "примечание" in extra.get_json()["fields"]["file"]


def test_a_damaged_sheet_is_refused_naming_file(api, app):
    """A cell whose stored value contradicts its type (a number that is text): openpyxl cannot read the row."""
    data = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(workbook(GOOD))) as source, zipfile.ZipFile(data, "w") as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                content = re.sub(rb'<c r="E4" t="n"><v>[^<]*</v>', b'<c r="E4" t="n"><v>abc</v>', content)
                assert b"<v>abc</v>" in content
            target.writestr(item, content)
    response = upload(api, data.getvalue())
    assert response.status_code == 422 and response.get_json()["fields"]["file"] == "файл повреждён"
    assert "Строка 4" in response.get_json()["message"]


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
    kept = re.search(r'name="checked" value="([0-9a-f]{64})"', html).group(1)  # «Импортировать этот файл»
    started = client.post("/orders/import", data={"csrf_token": token, "mode": "import", "checked": kept,
                                                  "file_name": "crm.xlsx"})
    assert started.status_code == 302
    assert imported(app) == [("1003", "kitchen", "phone"), ("CRM-1", "wardrobe", "web"),
                             ("CRM-2", "kitchen", "import")]
    gone = client.post("/orders/import", data={"csrf_token": token, "mode": "import", "checked": kept})
    assert gone.status_code == 422 and "выберите файл ещё раз" in gone.get_data(as_text=True)  # used up
    forged = client.post("/orders/import", data={"csrf_token": token, "mode": "import", "checked": "../../etc/passwd"})
    assert forged.status_code == 422 and len(imported(app)) == 3
    progress = client.get(started.headers["Location"]).get_data(as_text=True)
    assert "Готово" in progress and "Неизвестный код партнёра" in progress
    assert len(imported(app)) == 3


def _import_of(app, payloads: list[dict]) -> int:
    """An import record as a worker would find it (what the check accepted), its job not yet run."""
    with app.app_context():
        sales = db.session.execute(select(User).where(User.login == "sales")).scalar_one()
        record = OrderImport(file_name="race.xlsx", sha256="0" * 64, uploaded_by=sales, status="queued",
                             rows=len(payloads), valid=len(payloads), payloads=payloads)
        db.session.add(record)
        db.session.commit()
        return record.id


def _row(row: int, ref: str, phone: str = "", email: str = "", partner: str | None = None, name: str = "Ким") -> dict:
    return {"row": row, "ref": ref, "payload": {
        "kind": "wardrobe", "channel": "import", "address": "Москва", "description": "", "partner": partner,
        "customer": {"name": name, "phone": phone, "email": email}}}


def test_imported_orders_get_numbers_customers_and_processes_like_placed_ones(api, app):
    """One batch: consecutive numbers; rows sharing a phone share one card, an existing card is reused and given the
    e-mail it lacked; a partner's row never joins our cards; every order's lifecycle starts at the first task."""
    existing = api.post("/orders", {"kind": "kitchen", "channel": "phone", "address": "Москва",
                                    "customer": {"name": "Ким", "phone": "+79160000001"}}, as_="sales").get_json()
    import_id = _import_of(app, [_row(2, "A-1", phone="+7 916 000-00-01", email="Kim@Example.ru"),
                                 _row(3, "A-2", phone="89160000002"), _row(4, "A-3", phone="+79160000002"),
                                 _row(5, "A-4", phone="+79160000001", partner="mega")])
    with app.app_context():
        assert run_import(import_id) == {"created": 4, "failed": 0}
        orders = {o.external_ref: o for o in db.session.execute(
            select(Order).where(Order.external_ref.is_not(None))).scalars()}
        assert orders["A-1"].customer_id == db.session.execute(select(Order.customer_id).where(
            Order.number == existing["number"])).scalar_one()
        assert orders["A-1"].customer.email == "kim@example.ru"
        assert orders["A-2"].customer_id == orders["A-3"].customer_id != orders["A-1"].customer_id
        assert orders["A-4"].customer_id not in {orders["A-1"].customer_id, orders["A-2"].customer_id}
        assert orders["A-4"].customer.partner_id == orders["A-4"].partner_id is not None
        year, last = existing["number"].split("-")
        assert sorted(o.number for o in orders.values()) == [f"{year}-{int(last) + i:05d}" for i in range(1, 5)]
        assert all(o.instance is not None and o.stage == "Новый заказ" for o in orders.values())
        assert db.session.get(OrderImport, import_id).started == 4


def test_a_batch_colliding_on_an_external_number_is_redone_row_by_row(api, app):
    """Two imports racing for one external number: the batch's insert hits the unique index, and is then redone
    one row per unit of work — the other rows are created, only the colliding one is refused."""
    import_id = _import_of(app, [_row(2, "R-1", phone="+79160000011"), _row(3, "R-2", phone="+79160000012"),
                                 _row(4, "R-1", phone="+79160000013")])
    with app.app_context():
        assert run_import(import_id) == {"created": 2, "failed": 1}
        record = db.session.get(OrderImport, import_id)
        assert (record.position, record.started) == (3, 2)
        assert record.errors == [{"row": 4, "column": "номер во внешней системе",
                                  "message": "Заказ с номером «R-1» уже импортирован"}]
    assert sorted(ref for ref, _, _ in imported(app)) == ["R-1", "R-2"]


def test_a_start_job_delivered_twice_starts_nothing_twice(api, app):
    import_id = upload(api, workbook(GOOD), dry_run="false").get_json()["import_id"]
    with app.app_context():
        ids = list(db.session.execute(select(Order.id).where(Order.external_ref.is_not(None))).scalars())
        assert start_processes(import_id, ids) == {"started": 0}
        assert db.session.execute(select(func.count()).select_from(ProcessInstance)
                                  .where(ProcessInstance.order_id.in_(ids))).scalar() == 3
    assert api.get(f"/imports/{import_id}", as_="sales").get_json()["started"] == 3


def test_the_same_file_uploaded_twice_at_once_counts_each_imports_own_orders(make_app):
    """Two uploads before any worker ran: the first creates the orders, the second finds them imported; each
    import starts and counts only its own orders, so neither page waits forever for the other's."""
    app = make_app(JOBS_INLINE=False, RQ_QUEUE=f"bespoke-test-{os.getpid()}-{time.monotonic_ns()}")  # no worker
    api = Api(app, app.test_client())
    first = upload(api, workbook(GOOD), dry_run="false").get_json()["import_id"]
    second = upload(api, workbook(GOOD), dry_run="false").get_json()["import_id"]
    with app.app_context():
        assert run_import(first) == {"created": 3, "failed": 0}
        assert run_import(second) == {"created": 0, "failed": 3}
        jobs = db.session.execute(select(OutboxJob.params).where(OutboxJob.operator == "imports.start")).scalars().all()
        assert [job["import_id"] for job in jobs] == [first]
        assert start_processes(first, jobs[0]["orders"]) == {"started": 3}
        counted = {record.id: (record.created, record.started) for record in db.session.execute(
            select(OrderImport)).scalars()}
    assert counted == {first: (3, 3), second: (0, 0)}
