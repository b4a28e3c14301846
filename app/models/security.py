"""Sign-in attempts, kept to throttle password guessing across all web processes."""
from __future__ import annotations

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Model, UTCDateTime, utcnow


class LoginAttempt(Model):
    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_login_at", "login", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(80))
    ip: Mapped[str] = mapped_column(String(64), default="")
    success: Mapped[bool] = mapped_column(default=False)
    at = mapped_column(UTCDateTime, default=utcnow, index=True)
