"""The partner statement's amounts, formatted once per page by plain string work, read exactly as babel
prints them, in Russian and in English, for every amount to the kopeck and anything else."""
from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from app.i18n import money, money_formatter

KOPECKS = st.integers(min_value=-10**14, max_value=10**14).map(lambda k: Decimal(k).scaleb(-2))


@pytest.mark.parametrize("language", ["ru", "en"])
@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(amount=KOPECKS | st.decimals(min_value=-10**9, max_value=10**9, places=3) | st.none())
@example(amount=Decimal("-0.00"))
@example(amount=Decimal("1000.00"))
@example(amount=Decimal("7"))
def test_a_statement_amount_reads_as_everywhere_else(app, language, amount):
    with app.test_request_context(headers={"Accept-Language": language}):
        assert money_formatter()(amount) == money(amount)
