"""The report builder: figures on a known history, hostile definitions refused, saving and sharing, and a scheduled
report arriving by e-mail as a workbook."""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from html import unescape
from io import BytesIO

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app.extensions import db
from app.models import Order, OutboxJob, Payment, SavedReport
from app.services import reports
from app.usecases.uow import unit_of_work
from tests.support.reports import PAYMENTS, history
from tests.support.web import csrf_of, signed_in
from workers.scheduler import Scheduler

BY_KIND = "source=payments&group1=kind&aggregate=sum&measure=amount&run=1"
APRIL_ROWS = [["Кухонный гарнитур", "150 000"], ["Встроенный шкаф", "30 000"]]  # on the page
APRIL_SHEET = [("Кухонный гарнитур", 150000), ("Встроенный шкаф", 30000)]  # in the workbook
APRIL = "&f1_field=paid_on&f1_op=between&f1_value=2027-04-01&f1_to=2027-04-30"


def text_of(html: bytes) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html.decode())).replace("\xa0", " "))


def table_rows(html: bytes) -> list[list[str]]:
    body = re.search(rb'<table id="report-table">.*?<tbody>(.*?)</tbody>', html, re.S).group(1).decode()
    return [[text_of(cell.encode()).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def sheet_rows(content: bytes) -> list[tuple]:
    return list(load_workbook(BytesIO(content)).active.iter_rows(values_only=True))


@pytest.fixture
def director(app, api):
    history(app)
    return signed_in(app, "director")


def test_payments_summed_by_order_kind_in_a_period(director):
    page = director.get(f"/reports/build?{BY_KIND}{APRIL}")
    assert page.status_code == 200
    assert table_rows(page.data) == APRIL_ROWS
    chart = re.search(rb'<script type="application/json" id="report-data">(.*?)</script>', page.data).group(1)
    assert b'id="report-chart"' in page.data and json.loads(chart) == {
        "categories": ["Кухонный гарнитур", "Встроенный шкаф"],
        "series": [{"name": "Итого: Сумма", "data": [150000, 30000]}]}

    workbook = director.get(f"/reports/build.xlsx?{BY_KIND}{APRIL}")
    assert workbook.mimetype.endswith("spreadsheetml.sheet")
    assert sheet_rows(workbook.data) == [("Вид заказа", "Итого: Сумма"), *APRIL_SHEET]

    # Without the period the May payment counts too; a count per kind and month needs no numeric column.
    everything = director.get("/reports/build?source=payments&group1=kind&aggregate=count&run=1")
    assert table_rows(everything.data) == [["Кухонный гарнитур", "3"], ["Встроенный шкаф", "1"]]


def test_listed_columns_and_a_contains_filter(director):
    page = director.get("/reports/build?source=payments&columns=number&columns=amount&columns=paid_on"
                        "&f1_field=number&f1_op=contains&f1_value=p-2&run=1")
    assert table_rows(page.data) == [["P-2", "30 000", "20.04.2027"]]


def test_listed_columns_come_in_the_order_the_rows_were_recorded_after_any_was_changed(director, app):
    """A report of plain columns lists its rows as they were recorded, whatever the database does with a changed
    row (PostgreSQL moves it to the end of the table), and a cut at the row limit keeps the first ones."""
    with app.app_context(), unit_of_work():
        first = db.session.execute(select(Payment).where(Payment.number == "P-0")).scalar_one()
        first.method, first.amount = "card", first.amount + 1
    page = director.get("/reports/build?source=payments&columns=number&columns=amount&run=1")
    assert [row[0] for row in table_rows(page.data)] == ["P-0", "P-1", "P-2", "P-3"]
    with app.app_context():
        cut = reports.run(reports.parse({"source": "payments", "columns": ["number"]}), limit=2)
    assert cut.rows == [["P-0"], ["P-1"]] and cut.truncated


@pytest.mark.parametrize("query, field", [
    ("source=orders&columns=number);DROP TABLE orders;--&run=1", "err-columns-0"),
    ("source=orders&columns=number&group1=customer_id&run=1", "err-group_by-0"),
    ("source=orders&columns=number&aggregate=sum&measure=status&group1=kind&run=1", "err-measure"),
    ("source=orders&columns=number&f1_field=price&f1_op=contains&f1_value=1&run=1", "err-filters-0-op"),
    ("source=orders&columns=number&f1_field=created_at&f1_op=between&f1_value=2027-13-01&run=1",
     "err-filters-0-value"),
    ("source=orders&columns=number&f1_field=created_at&f1_op=between&f1_value=2027-01-01&f1_to=9999-12-31"
     "&run=1", "err-filters-0-value"),  # a day with no next day to count up to
])
def test_a_definition_outside_the_whitelist_is_refused_inline(director, app, query, field):
    page = director.get(f"/reports/build?{query}")
    assert page.status_code == 422
    assert f'id="{field}"'.encode() in page.data and b'id="report-error"' in page.data
    assert b'id="report-table"' not in page.data
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Order)).scalar_one() == len(PAYMENTS)


def test_contains_finds_cyrillic_text_in_any_case(director, api):
    number = api.create_order()  # «Иванова Мария Петровна»
    page = director.get("/reports/build?source=orders&columns=number&columns=customer"
                        "&f1_field=customer&f1_op=contains&f1_value=ИВАНОВА мария&run=1")
    assert table_rows(page.data) == [[number, "Иванова Мария Петровна"]]


def test_an_unknown_source_is_refused(director):
    page = director.get("/reports/build?source=users&columns=password_hash&run=1")
    assert page.status_code == 422 and "Выберите источник из списка" in text_of(page.data)
    assert director.get("/reports/build.xlsx?source=users&columns=password_hash").status_code == 422


def save_form(client, query: str, **fields) -> dict:
    page = client.get(f"/reports/build?{query}")
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">',
                             page.data.decode().split('id="save-report"')[1]))
    return {**hidden, "csrf_token": csrf_of(page.data), **fields}


def test_a_saved_report_is_shared_with_a_role_and_refused_to_others(director, app):
    form = save_form(director, f"{BY_KIND}{APRIL}", name="Оплаты за апрель", shared_roles="accountant")
    saved = director.post("/reports/save", data=form)
    assert saved.status_code == 302
    report_url = saved.headers["Location"]
    assert table_rows(director.get(report_url).data) == APRIL_ROWS

    accountant = signed_in(app, "accountant")
    listing = accountant.get("/reports/")
    assert "Оплаты за апрель" in text_of(listing.data)
    assert table_rows(accountant.get(report_url).data) == APRIL_ROWS
    assert sheet_rows(accountant.get(f"{report_url}.xlsx").data)[1:] == [*APRIL_SHEET]

    one_line = save_form(director, BY_KIND, name="Weekly\r\nBcc: spy@evil.example")  # it becomes a mail's subject
    assert director.post("/reports/save", data=one_line).status_code == 302
    with app.app_context():
        names = db.session.execute(select(SavedReport.name).order_by(SavedReport.id)).scalars().all()
        assert names == ["Оплаты за апрель", "Weekly Bcc: spy@evil.example"]

    sales = signed_in(app, "sales")
    assert "Оплаты за апрель" not in text_of(sales.get("/reports/").data)
    assert sales.get(report_url).status_code == 404
    assert sales.get("/reports/build").status_code == 403


def test_a_bad_recipient_is_named_and_nothing_typed_is_lost(director, app):
    form = save_form(director, BY_KIND, name="Оплаты по видам", schedule="daily", recipients="boss@example.com, nope")
    page = director.post("/reports/save", data=form)
    assert page.status_code == 422
    assert 'id="err-recipients"' in page.data.decode() and "nope" in text_of(page.data)
    assert 'value="Оплаты по видам"' in page.data.decode() and 'value="boss@example.com, nope"' in page.data.decode()
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(SavedReport)).scalar_one() == 0


def test_a_scheduled_report_arrives_by_mail_as_a_workbook(make_app, smtp, clock):
    app = make_app(**smtp.settings())
    history(app)
    director = signed_in(app, "director")
    clock.set(datetime(2027, 5, 10, 12, 0, tzinfo=timezone.utc))  # Monday 10 May, 15:00 in Moscow
    form = save_form(director, f"{BY_KIND}{APRIL}", name="Оплаты за апрель", schedule="daily", format="xlsx",
                     recipients="boss@example.com, books@example.com")
    assert director.post("/reports/save", data=form).status_code == 302
    with app.app_context():
        report = db.session.execute(select(SavedReport)).scalar_one()
        assert report.next_run_at == datetime(2027, 5, 11, 4, 0, tzinfo=timezone.utc)  # 07:00 Moscow tomorrow

    scheduler = Scheduler()
    with app.app_context():
        assert scheduler.run_once(datetime(2027, 5, 11, 3, 59, tzinfo=timezone.utc))["reports"] == 0
    assert smtp.messages == []
    with app.app_context():
        assert scheduler.run_once(datetime(2027, 5, 11, 4, 1, tzinfo=timezone.utc))["reports"] == 1
        job = db.session.execute(select(OutboxJob).where(OutboxJob.operator == "reports.send")).scalar_one()
        assert job.status == "done" and job.result["sent"] == 2
        job_id = job.id
        assert db.session.get(SavedReport, report.id).next_run_at == datetime(2027, 5, 12, 4, 0, tzinfo=timezone.utc)
        # The same round again sends nothing: the next run is tomorrow.
        assert scheduler.run_once(datetime(2027, 5, 11, 4, 2, tzinfo=timezone.utc))["reports"] == 0

    log = director.get(f"/reports/{report.id}")
    assert "отправлено адресатам: 2, строк: 2" in text_of(log.data)

    [mail] = smtp.messages
    assert sorted(smtp.envelopes[0][1]) == ["books@example.com", "boss@example.com"]
    assert mail["Subject"].startswith("Отчёт «Оплаты за апрель»")
    assert mail["Message-ID"].startswith(f"<report-{report.id}-job-{job_id}@")  # the same on a retry of the job
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_filename().endswith(".xlsx")
    assert sheet_rows(attachment.get_content()) == [("Вид заказа", "Итого: Сумма"), ("Кухонный гарнитур", 150000),
                                                    ("Встроенный шкаф", 30000)]


def test_a_monthly_pdf_report_goes_out_on_the_first(make_app, smtp, clock):
    app = make_app(**smtp.settings())
    history(app)
    director = signed_in(app, "director")
    clock.set(datetime(2027, 5, 10, 12, 0, tzinfo=timezone.utc))
    form = save_form(director, BY_KIND, name="Оплаты по видам", schedule="monthly", format="pdf",
                     recipients="boss@example.com")
    assert director.post("/reports/save", data=form).status_code == 302
    with app.app_context():
        report = db.session.execute(select(SavedReport)).scalar_one()
        assert report.next_run_at == datetime(2027, 6, 1, 4, 0, tzinfo=timezone.utc)  # 1 June, 07:00 Moscow
        assert Scheduler().run_once(datetime(2027, 6, 1, 4, 0, tzinfo=timezone.utc))["reports"] == 1
    [mail] = smtp.messages
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_content_type() == "application/pdf" and attachment.get_content().startswith(b"%PDF")


def test_a_refused_mailing_is_an_incident_shown_on_the_report(make_app, smtp, clock):
    app = make_app(**smtp.settings())
    history(app)
    director = signed_in(app, "director")
    clock.set(datetime(2027, 5, 10, 12, 0, tzinfo=timezone.utc))
    form = save_form(director, BY_KIND, name="Оплаты по видам", schedule="daily", recipients="boss@example.com")
    assert director.post("/reports/save", data=form).status_code == 302
    smtp.refuse.append(("DATA", "554 5.7.1 Message rejected"))
    with app.app_context():
        report_id = db.session.execute(select(SavedReport.id)).scalar_one()
        Scheduler().run_once(datetime(2027, 5, 11, 4, 0, tzinfo=timezone.utc))
        job = db.session.execute(select(OutboxJob).where(OutboxJob.operator == "reports.send")).scalar_one()
        assert job.status == "incident" and "554" in job.last_error
    page = text_of(director.get(f"/reports/{report_id}").data)
    assert "ошибка" in page and "554" in page
    assert smtp.messages == []
