"""Filled by issue 14's jobs work."""
from app.dispatch import bp  # noqa: F401
