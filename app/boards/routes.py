"""Filled by issue 14's boards work."""
from app.boards import bp  # noqa: F401
