"""Dispatch: the visits booked on measurers' and crews' calendars, and the figures completion dates are
predicted from."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

from app.models.base import Model, UTCDateTime, utcnow

VISIT_KINDS = {
    "measurement": ("Замер", "Measurement"),
    "delivery": ("Доставка и монтаж", "Delivery and installation"),
}
VISIT_STATES = ("booked", "done", "cancelled")


class Visit(Model):
    """A trip to the customer booked for a time: a measurement, or a delivery and installation.

    Written when a planning task decides it (the order's `measurer`/`visit_at`, `crew`/`delivery_at`), moved
    by the dispatcher, taken by a crew from the queue (`user_id` None until then), done when its task is.
    """

    __tablename__ = "visits"
    __table_args__ = (Index("ix_visits_user_starts", "user_id", "starts_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # VISIT_KINDS
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)  # None: the crews' queue
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20), default="booked", index=True)  # VISIT_STATES
    taken_at = mapped_column(UTCDateTime, nullable=True)  # when a crew took it from the queue
    created_at = mapped_column(UTCDateTime, default=utcnow)
    updated_at = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    order = relationship("Order", backref=backref("visits", order_by="Visit.starts_at"))  # as lists show them
    user = relationship("User")

    @property
    def hours(self) -> float:
        return (self.ends_at - self.starts_at).total_seconds() / 3600

    @property
    def kind_label(self) -> str:
        return VISIT_KINDS.get(self.kind, (self.kind,))[0]


class ForecastStat(Model):
    """How long orders of a kind took from entering a stage (the task they wait at) to completion, in working
    hours, over the finished orders: what an active order's completion date is predicted from."""

    __tablename__ = "forecast_stats"
    kind: Mapped[str] = mapped_column(String(30), primary_key=True)
    stage: Mapped[str] = mapped_column(String(100), primary_key=True)  # a task's bpmn_id
    samples: Mapped[int] = mapped_column(Integer, default=0)
    p50_hours: Mapped[float] = mapped_column(Float)
    p80_hours: Mapped[float] = mapped_column(Float)
    mean_hours: Mapped[float] = mapped_column(Float)
    updated_at = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
