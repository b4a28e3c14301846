"""Shared column helpers."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

from sqlalchemy import JSON, DateTime, TypeDecorator
from sqlalchemy.dialects.postgresql import JSONB

from app import clock
from app.extensions import db

if TYPE_CHECKING:  # db.Model is made at run time; the type checker needs a class it can see
    from sqlalchemy.orm import DeclarativeBase

    class Model(DeclarativeBase):
        """Every table's base (`db.Model`): declarative, typed by its `Mapped[...]` columns."""
else:
    Model = db.Model


def utcnow() -> datetime:
    return clock.now()


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                value = value.replace(tzinfo=timezone.utc)
            value = value.astimezone(timezone.utc)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


JSONType = JSON().with_variant(JSONB(), "postgresql")
