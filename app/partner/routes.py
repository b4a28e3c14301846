"""Partner portal routes."""
from __future__ import annotations

from app.partner import bp  # noqa: F401
