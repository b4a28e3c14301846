"""Filled by issue 14's load chart work."""
from app.dispatch import bp  # noqa: F401
