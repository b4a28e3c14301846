"""Reports grouped by period: dates fall into the company's months, weeks, quarters — not UTC's — on page, chart,
workbook and saved report alike; a period on a non-date field or an unknown period is named inline."""
from __future__ import annotations

import json
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from app.extensions import db
from app.models import SavedReport
from tests.support.reports import payments_recorded
from tests.support.web import csrf_of, signed_in
from tests.test_reports import save_form, sheet_rows, table_rows, text_of
from workers.scheduler import Scheduler

MSK = ZoneInfo("Europe/Moscow")
NEW_YORK = ZoneInfo("America/New_York")
# Recorded in Moscow: the 23:30 one on 31 March is March's; the 00:30 one on 1 April is April's although UTC still
# says 31 March (21:30), and the 01:00 one on 1 May is May's although UTC says 30 April.
MOSCOW_PAYMENTS = [(datetime(2027, 3, 10, 12, 0, tzinfo=MSK), "10000"),
                   (datetime(2027, 3, 31, 23, 30, tzinfo=MSK), "2000"),
                   (datetime(2027, 4, 1, 0, 30, tzinfo=MSK), "5000"),
                   (datetime(2027, 4, 15, 12, 0, tzinfo=MSK), "8000"),
                   (datetime(2027, 5, 1, 1, 0, tzinfo=MSK), "400"),
                   (datetime(2027, 5, 31, 23, 59, tzinfo=MSK), "1000")]
BY_MONTH = "source=payments&group1=recorded_at&group1_bucket=month&aggregate=sum&measure=amount&run=1"
MONTHS = [["март 2027", "12 000"], ["апрель 2027", "13 000"], ["май 2027", "1 400"]]


@pytest.fixture
def director(app, api):
    payments_recorded(app, MOSCOW_PAYMENTS)
    return signed_in(app, "director")


def test_payments_summed_per_company_month(director):
    page = director.get(f"/reports/build?{BY_MONTH}")
    assert page.status_code == 200
    assert table_rows(page.data) == MONTHS
    chart = re.search(rb'<script type="application/json" id="report-data">(.*?)</script>', page.data).group(1)
    assert json.loads(chart) == {"categories": ["март 2027", "апрель 2027", "май 2027"],
                                 "series": [{"name": "Итого: Сумма", "data": [12000, 13000, 1400]}]}
    assert sheet_rows(director.get(f"/reports/build.xlsx?{BY_MONTH}").data) == [
        ("Внесён, по месяцам", "Итого: Сумма"), ("март 2027", 12000), ("апрель 2027", 13000), ("май 2027", 1400)]

    # The payment day is a date: by month it splits the same way.
    by_paid_on = director.get(f"/reports/build?{BY_MONTH.replace('recorded_at', 'paid_on')}")
    assert table_rows(by_paid_on.data) == MONTHS

    director.post("/language", data={"locale": "en", "next": "/", "csrf_token": csrf_of(page.data)})
    english = director.get(f"/reports/build?{BY_MONTH}")
    assert table_rows(english.data) == [["March 2027", "12,000"], ["April 2027", "13,000"], ["May 2027", "1,400"]]


@pytest.mark.parametrize("bucket, rows", [
    ("quarter", [["I кв. 2027", "12 000"], ["II кв. 2027", "14 400"]]),
    ("week", [["2027-W10", "10 000"], ["2027-W13", "7 000"], ["2027-W15", "8 000"], ["2027-W17", "400"],
              ["2027-W22", "1 000"]]),
    ("day", [["10.03.2027", "10 000"], ["31.03.2027", "2 000"], ["01.04.2027", "5 000"], ["15.04.2027", "8 000"],
             ["01.05.2027", "400"], ["31.05.2027", "1 000"]]),
    ("year", [["2027", "26 400"]]),
])
def test_weeks_quarters_days_and_years(director, bucket, rows):
    page = director.get(f"/reports/build?{BY_MONTH.replace('=month', '=' + bucket)}")
    assert table_rows(page.data) == rows


def test_a_saved_report_keeps_its_period(director, app):
    form = save_form(director, BY_MONTH, name="Оплаты по месяцам")
    assert form["group1_bucket"] == "month"
    saved = director.post("/reports/save", data=form)
    assert saved.status_code == 302
    with app.app_context():
        stored = db.session.query(SavedReport).one().definition
    assert stored["group_by"] == [{"field": "recorded_at", "bucket": "month"}]
    page = director.get(saved.headers["Location"])
    assert table_rows(page.data) == MONTHS
    assert '<option value="month" selected>' in page.data.decode()
    assert sheet_rows(director.get(f"{saved.headers['Location']}.xlsx").data)[1:] == [
        ("март 2027", 12000), ("апрель 2027", 13000), ("май 2027", 1400)]


@pytest.mark.parametrize("query, message, kept", [
    ("source=payments&group1=amount&group1_bucket=month&run=1", "По периодам группируют только даты",
     ['<option value="amount" selected>', '<option value="month" selected>']),
    ("source=payments&group1=paid_on&group1_bucket=fortnight&run=1", "Неизвестный период «fortnight»",
     ['<option value="paid_on" selected>']),
])
def test_a_period_that_does_not_fit_is_named_inline(director, query, message, kept):
    page = director.get(f"/reports/build?{query}")
    assert page.status_code == 422 and b'id="err-group_by-0-bucket"' in page.data
    assert message in text_of(page.data) and b'id="report-table"' not in page.data
    assert all(option in page.data.decode() for option in kept)


def test_months_follow_daylight_saving_time(make_app):
    """New York moves its clocks on 14 March 2027: 00:30 on 1 April there is 04:30 UTC, April only at UTC−4."""
    app = make_app(TIMEZONE="America/New_York")
    payments_recorded(app, [(datetime(2027, 2, 28, 23, 30, tzinfo=NEW_YORK), "100"),  # 1 March 04:30 UTC
                            (datetime(2027, 3, 1, 0, 30, tzinfo=NEW_YORK), "200"),
                            (datetime(2027, 3, 31, 23, 30, tzinfo=NEW_YORK), "300"),  # 1 April 03:30 UTC
                            (datetime(2027, 4, 1, 0, 30, tzinfo=NEW_YORK), "50")])
    page = signed_in(app, "director").get(f"/reports/build?{BY_MONTH}")
    assert table_rows(page.data) == [["февраль 2027", "100"], ["март 2027", "500"], ["апрель 2027", "50"]]


def test_a_scheduled_report_mails_its_months(make_app, smtp, clock):
    app = make_app(**smtp.settings())
    payments_recorded(app, MOSCOW_PAYMENTS)
    director = signed_in(app, "director")
    clock.set(datetime(2027, 6, 10, 12, 0, tzinfo=MSK))
    form = save_form(director, BY_MONTH, name="Оплаты по месяцам", schedule="daily", recipients="boss@example.com")
    assert director.post("/reports/save", data=form).status_code == 302
    with app.app_context():
        assert Scheduler().run_once(datetime(2027, 6, 11, 7, 0, tzinfo=MSK))["reports"] == 1
    [mail] = smtp.messages
    [attachment] = list(mail.iter_attachments())
    assert sheet_rows(attachment.get_content()) == [
        ("Внесён, по месяцам", "Итого: Сумма"), ("март 2027", 12000), ("апрель 2027", 13000), ("май 2027", 1400)]
