"""Messages into a workflow: which ones a version can catch, what an instance waits for, and delivering one.

A message may carry correlation properties (`bpmn:correlationProperty` with a retrieval expression read from the
payload, grouped by `bpmn:correlationKey`); an instance holds its own values for them (`workflow.correlations`,
filled by SpiffWorkflow from `spiffworkflow:processVariableCorrelation` or an earlier message). SpiffWorkflow
lets a waiting event catch a message only when the values the payload gives match the instance's — but it
computes them only from a payload it receives, so an external message is correlated here, first, and a payload
the expressions cannot read is refused with the key it lacks instead of failing half-way through a step.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition as BaseMessageDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition


class MissingPayloadKey(Exception):
    """The payload lacks what a correlation property's retrieval expression reads."""

    def __init__(self, key: str, prop: str, expression: str) -> None:
        super().__init__(f"the payload has no '{key}' (correlation property '{prop}' reads `{expression}`)")
        self.key, self.prop, self.expression = key, prop, expression


@dataclass(frozen=True)
class Waiting:
    """A message an instance waits for now, and the correlation values it holds (property id → value)."""

    name: str
    properties: frozenset[str]  # the correlation properties the message carries
    correlations: dict[str, Any]


def caught_messages(specs: tuple) -> frozenset[str]:
    """Names of the messages some catching event of the version (its process or a sub-process) waits for."""
    spec, subprocess_specs = specs
    names = set()
    for wf_spec in (spec, *subprocess_specs.values()):
        for task_spec in wf_spec.task_specs.values():
            definition = getattr(task_spec, "event_definition", None)
            if isinstance(definition, BaseMessageDefinition) and hasattr(task_spec, "catches"):
                names.add(definition.name)
    return frozenset(names)


def _waiting_tasks(workflow: BpmnWorkflow, name: str) -> list[tuple[Any, BaseMessageDefinition]]:
    """(waiting task, its definition of message `name`): a catch event, or one of an event-based gateway's."""
    found = []
    for task in workflow.event_manager.tasks.values():
        event = task.task_spec.event_definition
        for part in event.event_definitions if isinstance(event, MultipleEventDefinition) else [event]:
            if isinstance(part, BaseMessageDefinition) and part.name == name:
                found.append((task, part))
    return found


def _starts_sub_process(workflow: BpmnWorkflow, name: str) -> bool:
    """An event sub-process of the instance starts on message `name` (it waits as a spec, not as a task)."""
    if workflow.completed:
        return False
    return any(isinstance(start.event_definition, BaseMessageDefinition) and start.event_definition.name == name
               for spec_name in workflow.spec.start.trigger_specs
               for start in workflow.subprocess_specs[spec_name].bpmn_start_events)


def _instance_correlations(workflow: BpmnWorkflow) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for wf in (workflow, *workflow.subprocesses.values()):
        for properties in wf.correlations.values():
            values.update(properties)
    return values


def waiting(workflow: BpmnWorkflow, name: str) -> Waiting | None:
    """What the instance holds for message `name`, or None when nothing in it waits for that message now."""
    tasks = _waiting_tasks(workflow, name)
    if not tasks:
        return Waiting(name, frozenset(), _instance_correlations(workflow)) if _starts_sub_process(workflow, name) \
            else None
    properties = frozenset(p.name for _task, definition in tasks for p in definition.correlation_properties)
    return Waiting(name, properties, _instance_correlations(workflow))


def _correlate(workflow: BpmnWorkflow, definition: BaseMessageDefinition, payload: dict) -> dict:
    """The payload's correlation values as SpiffWorkflow compares them ({key: {property: value}})."""
    environment = workflow.script_engine.environment
    correlations: dict[str, dict] = {}
    for prop in definition.correlation_properties:
        try:
            value = environment.evaluate(prop.retrieval_expression, dict(payload))
        except NameError as exc:
            raise MissingPayloadKey(exc.name or prop.retrieval_expression, prop.name,
                                    prop.retrieval_expression) from None
        except (KeyError, IndexError) as exc:
            raise MissingPayloadKey(str(exc.args[0]) if exc.args else prop.retrieval_expression, prop.name,
                                    prop.retrieval_expression) from None
        except Exception:  # noqa: BLE001 - whatever else the payload makes the expression fail with
            raise MissingPayloadKey(prop.retrieval_expression, prop.name, prop.retrieval_expression) from None
        for key in prop.correlation_keys:
            correlations.setdefault(key, {})[prop.name] = value
    return correlations


def _event(workflow: BpmnWorkflow, name: str, payload: dict):
    """(the event correlated as the first waiting task that catches it reads it, the tasks that catch it);
    raises MissingPayloadKey."""
    catching: list = []
    chosen = None
    for task, definition in _waiting_tasks(workflow, name):
        event = BpmnEvent(MessageEventDefinition(name), payload, _correlate(workflow, definition, payload))
        if definition.catches(task, event):
            catching.append(task)
            chosen = chosen or event
    if chosen is None and _starts_sub_process(workflow, name):
        chosen = BpmnEvent(MessageEventDefinition(name), payload)
        catching.append(None)
    return chosen, catching


def payload_correlations(workflow: BpmnWorkflow, name: str, payload: dict) -> dict[str, Any]:
    """The correlation values the payload gives (property id → value); raises MissingPayloadKey."""
    values: dict[str, Any] = {}
    for _task, definition in _waiting_tasks(workflow, name):
        for properties in _correlate(workflow, definition, payload).values():
            values.update(properties)
    return values


def catches(workflow: BpmnWorkflow, name: str, payload: dict) -> bool:
    """Something in the instance waits for `name` and the payload's correlation values match the instance's."""
    return bool(_event(workflow, name, payload)[1])


def deliver(workflow: BpmnWorkflow, name: str, payload: dict) -> bool:
    """Hand the message to the instance; False (nothing changed) when nothing there catches it."""
    event, catching = _event(workflow, name, payload)
    if not catching:
        return False
    workflow.send_event(event)
    return True
