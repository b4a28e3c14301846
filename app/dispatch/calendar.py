"""Filled by issue 14's calendar work."""
from app.dispatch import bp  # noqa: F401
