"""Saved reports over the JSON API: each caller lists the reports they may open and reads one's rows — the same
figures as the page — while another's private report, an unknown id and a partner are refused."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import User
from app.services import reports
from app.usecases import reports as saved
from tests.support.reports import payments_recorded
from tests.test_report_periods import MOSCOW_PAYMENTS

BY_MONTH = {"source": "payments", "group_by": [{"field": "recorded_at", "bucket": "month"}], "aggregate": "sum",
            "measure": "amount"}
LISTED = {"source": "payments", "columns": ["number", "amount", "paid_on", "recorded_at"]}


@pytest.fixture
def saved_reports(app, api) -> dict[str, int]:
    """The director's «По месяцам» shared with the accountants, and «Мои платежи» kept to themself."""
    payments_recorded(app, MOSCOW_PAYMENTS[:2])
    with app.app_context():
        director = db.session.execute(select(User).filter_by(login="director")).scalar_one()
        monthly = saved.save(director, reports.parse(BY_MONTH), name="По месяцам", shared_roles=["accountant"],
                             schedule="none", fmt="xlsx", recipients="").id
        private = saved.save(director, reports.parse(LISTED), name="Мои платежи", shared_roles=[], schedule="none",
                             fmt="xlsx", recipients="").id
    return {"monthly": monthly, "private": private}


def test_each_caller_lists_the_reports_they_may_open(api, saved_reports):
    director = api.get("/reports", as_="director")
    assert director.status_code == 200
    assert [item["name"] for item in director.get_json()["items"]] == ["Мои платежи", "По месяцам"]
    accountant = api.get("/reports", as_="accountant").get_json()
    assert accountant["count"] == 1 and accountant["items"][0] == {
        "id": saved_reports["monthly"], "name": "По месяцам", "owner": "director", "source": "payments",
        "shared_roles": ["accountant"], "schedule": "none", "format": "xlsx", "next_run_at": None}
    assert api.get("/reports", as_="sales").get_json() == {"count": 0, "items": []}
    assert api.get("/reports", as_="partner_mega").status_code == 403
    assert api.get("/reports", as_=None).status_code == 401


def test_a_shared_report_reads_as_rows(api, saved_reports):
    answer = api.get(f"/reports/{saved_reports['monthly']}/rows", as_="accountant")
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["columns"] == [{"name": "Внесён, по месяцам", "type": "period"},
                               {"name": "Итого: Сумма", "type": "number"}]
    assert body["rows"] == [["март 2027", 12000]] and body["grouped"] is True and body["truncated"] is False

    listed = api.get(f"/reports/{saved_reports['private']}/rows", as_="director").get_json()
    assert [column["type"] for column in listed["columns"]] == ["text", "number", "date", "datetime"]
    assert listed["rows"] == [["R-0", 10000, "2027-03-10", "2027-03-10T12:00:00+03:00"],
                              ["R-1", 2000, "2027-03-31", "2027-03-31T23:30:00+03:00"]]


@pytest.mark.parametrize("login, which", [("accountant", "private"), ("sales", "monthly"), ("director", None)])
def test_a_report_the_caller_may_not_open_or_that_does_not_exist_is_404(api, saved_reports, login, which):
    report_id = saved_reports[which] if which else max(saved_reports.values()) + 100
    answer = api.get(f"/reports/{report_id}/rows", as_=login)
    assert answer.status_code == 404 and "не найден" in answer.get_json()["message"]
    assert "rows" not in answer.get_json()


def test_an_id_out_of_range_is_named(api, saved_reports):
    answer = api.get("/reports/0/rows", as_="director")
    assert answer.status_code == 422 and "report_id" in answer.get_json()["fields"]
