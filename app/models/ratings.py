"""The employee rating's weights: how much each KPI counts in a role's score (docs/RATING.md)."""
from __future__ import annotations

from sqlalchemy import Float, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Model, UTCDateTime, utcnow


class RatingWeight(Model):
    """One KPI's weight in one role's score; a role without rows uses the defaults of app/services/ratings.py."""

    __tablename__ = "rating_weights"
    __table_args__ = (UniqueConstraint("role", "kpi", name="uq_rating_weights_role_kpi"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    role: Mapped[str] = mapped_column(String(40))
    kpi: Mapped[str] = mapped_column(String(20))  # on_time, throughput, rework, claims, ratings
    weight: Mapped[float] = mapped_column(Float)
    updated_at = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
