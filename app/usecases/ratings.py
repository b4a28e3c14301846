"""Changing the employee rating's weights (an admin's form)."""
from __future__ import annotations

from app.services import ratings
from app.usecases.uow import unit_of_work


@unit_of_work()
def save_weights(parsed: dict[str, dict[str, float]]) -> None:
    """Store the roles' weights, already validated by `ratings.parse_weights`."""
    ratings.store_weights(parsed)
