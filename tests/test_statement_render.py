"""The partner statement's amounts and moments, formatted once per page (babel's patterns read once), read exactly
as babel prints them, in Russian and in English, for every amount to the kopeck, any moment, and anything else."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation

import pytest
from babel.numbers import format_currency, format_decimal
from flask_babel import format_datetime
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from app.i18n import day, money, money_formatter, number, number_formatter, when, when_formatter

KOPECKS = st.integers(min_value=-10**14, max_value=10**14).map(lambda k: Decimal(k).scaleb(-2))


@pytest.mark.parametrize("language", ["ru", "en"])
@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(amount=KOPECKS | st.decimals(min_value=-10**9, max_value=10**9, places=3) | st.none())
@example(amount=Decimal("-0.00"))
@example(amount=Decimal("1000.00"))
@example(amount=Decimal("7"))
def test_a_statement_amount_reads_as_everywhere_else(app, language, amount):
    with app.test_request_context(headers={"Accept-Language": language}):
        # babel's own reading (`money` itself prints amounts through money_formatter, made once a request)
        by_babel = "—" if amount is None else format_currency(amount, "RUB", locale=language)
        assert money_formatter()(amount) == by_babel
        assert money(amount) == by_babel


@pytest.mark.parametrize("language", ["ru", "en"])
@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.decimals(allow_nan=True, allow_infinity=True) | st.floats() | st.integers() | st.none()
       | st.decimals(min_value=0, max_value=10**9, places=3) | st.floats(min_value=0, max_value=10**7).map(
           lambda f: round(f, 1)))
@example(value=Decimal("2.000"))
@example(value=0.0)
@example(value=-0.0)
@example(value=1234567.25)
@example(value=0.0005)
@example(value=0.0015)
def test_a_figure_reads_as_babel_prints_it(app, language, value):
    """Boards' hours, days and quantities: printed by number_formatter (once a request) exactly as by babel."""
    with app.test_request_context(headers={"Accept-Language": language}):
        try:
            by_babel = "—" if value is None else format_decimal(value, locale=language)
        except InvalidOperation:  # beyond the decimal context's precision: babel refuses, so must we
            with pytest.raises(InvalidOperation):
                number(value)
            return
        assert number_formatter()(value) == by_babel
        assert number(value) == by_babel


MOMENTS = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1))


@pytest.mark.parametrize("language", ["ru", "en"])
@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moment=MOMENTS.map(lambda m: m.replace(tzinfo=timezone.utc)) | MOMENTS
       | MOMENTS.map(lambda m: m.replace(tzinfo=timezone(timedelta(hours=-5)))) | st.dates() | st.none())
@example(moment=datetime(2026, 10, 25, 0, 30, tzinfo=timezone.utc))  # late evening in New York, 03:30 in Moscow
@example(moment=datetime(2026, 12, 31, 21, 0, tzinfo=timezone.utc))  # midnight in Moscow: the next year there
def test_a_statement_moment_reads_as_everywhere_else(app, language, moment):
    with app.test_request_context(headers={"Accept-Language": language}):
        # babel's own reading (`when` itself prints moments through when_formatter, made once a request)
        by_babel = format_datetime(moment, "short") if isinstance(moment, datetime) else when(moment)
        assert when_formatter()(moment) == by_babel
        assert when(moment) == by_babel


@pytest.mark.parametrize("language, this_year, next_year", [("ru", "9 марта", "9 марта 2028"),
                                                              ("en", "9 March", "9 March 2028")])
def test_a_predicted_day_names_its_year_by_the_company_s_calendar_at_new_year(app, clock, language, this_year,
                                                                            next_year):
    """00:30 on 1 January in Moscow is still 31 December in UTC: a date of the new year reads without its year, as
    the people reading it count, and on a page as alone."""
    clock.set(datetime(2026, 12, 31, 21, 30, tzinfo=timezone.utc))  # 1 January 2027, 00:30 Moscow time
    with app.test_request_context(headers={"Accept-Language": language}):
        assert [day(date(2027, 3, 9)), day(date(2028, 3, 9))] == [this_year, next_year]
        assert day(datetime(2027, 3, 9, 12, tzinfo=timezone.utc)) == this_year
    with app.app_context():  # no request: the company's language
        assert day(date(2027, 3, 9)) == "9 марта"
