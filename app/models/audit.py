"""Append-only history of every change."""
from __future__ import annotations

from sqlalchemy import ForeignKey, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import JSONType, Model, UTCDateTime, utcnow


class AuditEvent(Model):
    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    # A process no order started keeps its history by instance (an order's events carry both).
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id", ondelete="CASCADE"),
                                                    nullable=True, index=True)
    kind: Mapped[str] = mapped_column(String(20))  # field, stage, status, task, message, deploy, job
    entity: Mapped[str] = mapped_column(String(40), default="order")
    entity_id: Mapped[str | None] = mapped_column(String(60), nullable=True)
    field: Mapped[str | None] = mapped_column(String(80), nullable=True)
    old_value: Mapped[str | None] = mapped_column(Text, nullable=True)
    new_value: Mapped[str | None] = mapped_column(Text, nullable=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    actor_label: Mapped[str] = mapped_column(String(120), default="")
    at = mapped_column(UTCDateTime, default=utcnow, index=True)
    details = mapped_column(JSONType, nullable=True)

    actor = relationship("User")


@event.listens_for(AuditEvent, "before_update")
@event.listens_for(AuditEvent, "before_delete")
def _append_only(_mapper, _connection, target) -> None:
    raise RuntimeError("audit events are append-only")
