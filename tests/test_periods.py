"""Periods typed into any page's filters: dates at the ends of the calendar are named beside the field — the
pages count up to the day after the period and convert days to UTC, which year 9999 or year 1 cannot do."""
from __future__ import annotations

import pytest

from tests.support.web import signed_in


@pytest.mark.parametrize("path, login", [
    ("/analytics/", "director"), ("/analytics/heatmap", "director"), ("/ratings/", "director"),
    ("/payments", "accountant"), ("/dispatch/list", "dispatch"), ("/dispatch/gantt", "dispatch"),
])
@pytest.mark.parametrize("query", ["to=9999-12-31", "from=0001-01-01"])
def test_a_period_at_the_ends_of_the_calendar_is_named_not_a_500(api, app, path, login, query):
    response = signed_in(app, login).get(f"{path}?{query}")
    html = response.get_data(as_text=True)
    assert response.status_code in (400, 422), (path, response.status_code)
    assert query.split("=")[1] in html  # what was typed stays in the field, with the message beside it
    assert 'role="alert"' in html or "error" in html


@pytest.mark.parametrize("query", ["created_to=9999-12-31", "created_from=0001-01-01",
                                   "completed_from=0001-01-01T00:00:00%2B14:00"])
def test_the_orders_list_and_api_name_a_date_at_the_ends_of_the_calendar(api, app, query):
    page = signed_in(app, "sales").get(f"/orders?{query}")
    assert page.status_code == 422 and query.split("=")[1].split("T")[0] in page.get_data(as_text=True)
    answer = api.get(f"/orders?{query}", as_="sales")
    assert answer.status_code == 422 and query.split("=")[0] in answer.get_json()["fields"]
