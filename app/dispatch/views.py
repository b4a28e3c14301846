"""Filled by issue 14's views work."""
from app.dispatch import bp  # noqa: F401
