"""E-mail held back from the orders it names: kept whole until a person accepts or drops it."""
from __future__ import annotations

from sqlalchemy import ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import JSONType, Model, UTCDateTime, utcnow


class QuarantinedMail(Model):
    """A received message that failed the sender or authentication check; its InboundMessage says "quarantined"."""

    __tablename__ = "mail_quarantine"
    id: Mapped[int] = mapped_column(primary_key=True)
    inbound_id: Mapped[int] = mapped_column(ForeignKey("inbound_messages.id", ondelete="CASCADE"), unique=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"), nullable=True)
    intent: Mapped[str] = mapped_column(String(10))  # note (on order_id) or order (a new request)
    reason: Mapped[str] = mapped_column(Text)
    authentication: Mapped[str] = mapped_column(Text, default="")  # what the receiving server's check said
    envelope_to = mapped_column(JSONType, nullable=True)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    held_at = mapped_column(UTCDateTime, default=utcnow)

    inbound = relationship("InboundMessage")
    order = relationship("Order")
