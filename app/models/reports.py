"""Saved reports of the report builder: a definition over a whitelisted source, who it is shared with, and its
e-mail schedule."""
from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import JSONType, Model, UTCDateTime, utcnow

SCHEDULES = ("none", "daily", "weekly", "monthly")
FORMATS = ("xlsx", "pdf")


class SavedReport(Model):
    __tablename__ = "saved_reports"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    definition = mapped_column(JSONType, default=dict)  # validated by app.services.reports.parse before saving
    shared_roles = mapped_column(JSONType, default=list)  # role codes that may open it besides its owner
    schedule: Mapped[str] = mapped_column(String(10), default="none", server_default="none")  # SCHEDULES
    format: Mapped[str] = mapped_column(String(10), default="xlsx", server_default="xlsx")  # FORMATS
    recipients = mapped_column(JSONType, default=list)  # e-mail addresses of the scheduled mailing
    next_run_at = mapped_column(UTCDateTime, nullable=True, index=True)  # None: not scheduled
    created_at = mapped_column(UTCDateTime, default=utcnow)
    updated_at = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    owner = relationship("User")
