"""The only package that imports SpiffWorkflow; the rest of the app calls its domain functions."""
from __future__ import annotations

from flask import Flask, current_app

from app.engine.runtime import ProcessEngine
from app.engine.specs import AsyncServiceTask
from app.services.calendar import BusinessCalendar, sla_deadline


def engine() -> ProcessEngine:
    """The app's engine, built once by `init_app`."""
    return current_app.extensions["bespoke.engine"]


def init_app(app: Flask) -> None:
    """Build the parser/serializer/script engine once and keep it in app.extensions."""
    settings = {"FEEDBACK_TIMEOUT": app.config["FEEDBACK_TIMEOUT"]}
    config = {**app.config, "_calendar": BusinessCalendar.from_config(app.config)}

    def sla_due(hours: float, fraction: float = 1.0) -> str:
        """Deadline for `fraction` of a stage's SLA (`hours` working hours), as ISO text for a timer."""
        return sla_deadline(config, hours, fraction).isoformat()

    def setting(name: str) -> str:
        return settings[name]

    app.extensions["bespoke.engine"] = ProcessEngine({"sla_due": sla_due, "setting": setting})
    from app.operators.registry import DETACHED

    AsyncServiceTask.detached_operators = DETACHED
