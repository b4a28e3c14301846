"""What a loaded workflow looks like on its diagram: each element's state, the flows taken, what it waits for.

The studio's instance page colours the diagram from this (done, active, waiting, error, cancelled per BPMN id) and
lists the timers and messages the instance waits for; an admin's "send a message" offers those names.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from app.engine.pruning import bpmn_id as _bpmn_id
from app.engine.pruning import element_state, flow_into, merge_state
from app.engine.runtime import ProcessEngine
from app.engine.views import parse_due


@dataclass(frozen=True)
class WaitingTimer:
    bpmn_id: str
    name: str
    due_at: datetime | None
    attached_to: str | None  # the activity a boundary timer watches (its name), None for a timer on a flow


@dataclass(frozen=True)
class WaitingMessage:
    bpmn_id: str
    name: str  # the message's name, what `send_message` takes
    attached_to: str | None


@dataclass
class Picture:
    """An instance on its diagram: element states by BPMN id and the flows taken as (source id, target id)."""

    elements: dict[str, str] = field(default_factory=dict)
    flows: list[tuple[str, str]] = field(default_factory=list)
    timers: list[WaitingTimer] = field(default_factory=list)
    messages: list[WaitingMessage] = field(default_factory=list)


def _attached_to(task) -> str | None:
    """The activity a boundary event belongs to: its sibling under Spiff's boundary split that is not an event."""
    if not isinstance(task.task_spec, BoundaryEvent) or task.parent is None:
        return None
    for sibling in task.parent.children:
        spec = sibling.task_spec
        if sibling is not task and _bpmn_id(sibling) and not isinstance(spec, BoundaryEvent):
            return spec.bpmn_name or spec.bpmn_id
    return None


def picture(workflow: BpmnWorkflow) -> Picture:
    """Every element's state, the flows taken, and the timers and messages the workflow waits for."""
    result = Picture()
    history = getattr(workflow, "bespoke_history", None) or {}  # what the saved state's pruning dropped
    result.elements.update(history.get("elements", {}))
    flows: set[tuple[str, str]] = {(source, target) for source, target in history.get("flows", [])}
    for task in ProcessEngine.tasks(workflow):
        bpmn_id = _bpmn_id(task)
        state = element_state(task)
        if bpmn_id is None or state is None:
            continue
        merge_state(result.elements, bpmn_id, state)
        flow = flow_into(task)
        if flow is not None:
            flows.add(flow)
        if task.state != TaskState.WAITING:
            continue
        spec = task.task_spec
        event = getattr(spec, "event_definition", None)
        name = spec.bpmn_name or bpmn_id
        if isinstance(event, TimerEventDefinition):
            result.timers.append(WaitingTimer(bpmn_id, name, parse_due(task.internal_data.get("event_value")),
                                              _attached_to(task)))
        elif isinstance(event, MessageEventDefinition):
            result.messages.append(WaitingMessage(bpmn_id, event.name, _attached_to(task)))
    result.flows = sorted(flows)
    result.timers.sort(key=lambda t: (t.due_at is None, t.due_at or datetime.max, t.bpmn_id))
    return result
