"""What the engine adapter hands the app: plain views of a step (the tasks waiting for people, the service calls
it asked for, milestones, timers, messages) — no SpiffWorkflow object leaves `app.engine`."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

# The error a service task raises when its operator refuses a person's data (OperatorInputError): an error
# boundary event with this errorCode (or none) catches it; the reopened task finds the message here.
INPUT_ERROR_CODE = "input_rejected"
INPUT_ERROR_VARIABLE = "input_error"
TIMER_TYPES = {"TimeDateEventDefinition", "DurationTimerEventDefinition", "CycleTimerEventDefinition"}


@dataclass(frozen=True)
class TaskView:
    """A READY user task as the rest of the app sees it."""

    guid: str
    bpmn_id: str
    name: str
    stage: str
    lane: str
    form: str | None
    ui_form: str | None
    assignee: str | None
    due_at: datetime | None
    data: dict
    input_error: dict | None = None  # why a service task sent the order back here: {title, message, …}
    kind: str = "user"  # user, manual (bpmn:manualTask) or task (a plain bpmn:task): the last two have no form
    documentation: str | None = None  # the element's documentation, shown on the task page


@dataclass(frozen=True)
class ServiceCall:
    guid: str | None  # None: a detached call, its task already complete
    bpmn_id: str
    name: str
    operator: str
    params: dict
    retries: int | None
    backoff_base: int | None


@dataclass
class StepView:
    """What one run of the engine produced."""

    ready: list[TaskView]
    calls: list[ServiceCall]
    milestones: list[dict]
    finished: bool
    next_timer_at: datetime | None
    waiting_messages: set[str] = field(default_factory=set)
    message_data: dict = field(default_factory=dict)
    signals: list[tuple[str, Any]] = field(default_factory=list)  # thrown, caught by nothing in this instance
    log: list[tuple[str, str]] = field(default_factory=list)  # (bpmn id, line) the step's scripts printed


def parse_due(value: Any) -> datetime | None:
    if isinstance(value, str):
        try:
            parsed = TimerEventDefinition.get_datetime(value)
        except (ValueError, TypeError):
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    if isinstance(value, dict) and value.get("next"):
        return parse_due(value["next"])
    return None


def jsonable(data: dict) -> dict:
    return json.loads(json.dumps(data, default=str))
