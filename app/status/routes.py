"""Customer status page routes."""
from __future__ import annotations

from app.status import bp  # noqa: F401
