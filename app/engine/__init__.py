"""The only package that imports SpiffWorkflow; the rest of the app calls its domain functions."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Flask

from app.engine.runtime import ProcessEngine, sla_deadline


def init_app(app: Flask) -> None:
    """Build the parser/serializer/script engine once and keep it in app.extensions."""
    hour_seconds = app.config["SLA_HOUR_SECONDS"]
    settings = {"FEEDBACK_TIMEOUT": app.config["FEEDBACK_TIMEOUT"]}

    def sla_due(hours: float) -> str:
        return sla_deadline(hours, hour_seconds, datetime.now(timezone.utc))

    def setting(name: str) -> str:
        return settings[name]

    app.extensions["bespoke.engine"] = ProcessEngine({"sla_due": sla_due, "setting": setting})
