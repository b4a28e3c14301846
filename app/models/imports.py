"""An Excel import of orders: the checked rows waiting for the worker, its progress and each refused row."""
from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import JSONType, Model, UTCDateTime, utcnow


class OrderImport(Model):
    """One uploaded workbook: queued → running → done (every row created or refused); then its orders' processes
    start in the background (`started` of `created`). `payloads` are the rows the dry run accepted."""

    __tablename__ = "order_imports"
    id: Mapped[int] = mapped_column(primary_key=True)
    file_name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="queued")  # queued, running, done
    rows: Mapped[int] = mapped_column(Integer, default=0)  # data rows in the file
    valid: Mapped[int] = mapped_column(Integer, default=0)  # rows the check accepted
    created: Mapped[int] = mapped_column(Integer, default=0)  # orders made so far
    failed: Mapped[int] = mapped_column(Integer, default=0)  # rows refused, by the check or when placed
    errors = mapped_column(JSONType, default=list)  # [{"row", "column", "message"}]
    payloads = mapped_column(JSONType, default=list)  # [{"row", "ref", "payload"}]: what the job places
    # How many payloads the job has dealt with, moved in the commit of the batch it ends: a job run again goes on here.
    position: Mapped[int] = mapped_column(Integer, default=0)
    # How many of the created orders have their process started (`imports.start` jobs, beside the import).
    started: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at = mapped_column(UTCDateTime, default=utcnow)
    finished_at = mapped_column(UTCDateTime, nullable=True)

    uploaded_by = relationship("User")
