"""Our task specs: the asynchronous service task, and the parser/serializer wiring."""
from __future__ import annotations

from uuid import UUID

from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.bpmn.serializer.default.event_definition import TimerConditionalEventDefinitionConverter
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.specs.mixins.exclusive_gateway import ExclusiveGateway
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.event_parsers import SpiffStartEventParser
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import ServiceTaskParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.serializer.task_spec import ServiceTaskConverter
from SpiffWorkflow.spiff.specs.defaults import ServiceTask

from app.engine.timers import CLOCKED_TIMERS

CALL_KEY = "service_call"


class AsyncServiceTask(ServiceTask):
    """Evaluates its parameters, records the call and stays STARTED until a worker completes it.

    Operators named in `detached_operators` (set by the app: those whose result no process reads,
    like notifications) complete at once: the job is written in the same transaction, so the hand-off
    is durable, and the next person's task never waits for a worker.
    """

    detached_operators: frozenset[str] = frozenset()

    def _execute(self, my_task):
        params = {name: value["value"] for name, value in self.evaluate_params(my_task).items()}
        trigger = _boundary_trigger(my_task)
        if trigger:
            params["trigger"] = trigger
        my_task.internal_data[CALL_KEY] = {
            "operator": self.operation_name,
            "params": params,
            "retries": self.retries,
            "backoff_base": self.retry_backoff_base,
            "outboxed": False,
        }
        if self.operation_name in self.detached_operators:
            my_task.internal_data[CALL_KEY]["detached"] = True
            return True
        return None


def _boundary_trigger(my_task, depth: int = 4) -> dict | None:
    """When a boundary event led here (through gateways at most), say which one and on which task.

    An SLA escalation learns its level from the properties of the timer that fired and the task it
    watches from the boundary's sibling, so one escalation task can serve several timers.
    """
    task = my_task.parent
    for _ in range(depth):
        if task is None:
            return None
        spec = task.task_spec
        if isinstance(spec, BoundaryEvent):
            main = next((t for t in task.parent.children if not isinstance(t.task_spec, BoundaryEvent)), None)
            return {"event": spec.bpmn_id, "task_guid": str(main.id) if main else None,
                    "task_bpmn_id": getattr(main.task_spec, "bpmn_id", None) if main else None,
                    **dict((getattr(spec, "extensions", None) or {}).get("properties") or {})}
        if not isinstance(spec, ExclusiveGateway):
            return None
        task = task.parent
    return None


INTERRUPTING_KEY = "interrupting"


class StartEventParser(SpiffStartEventParser):
    """Spiff 3.2 does not read a start event's isInterrupting; an event sub-process needs it (BPMN's default: true),
    so it is kept in the spec's extensions for the engine (`app.engine.runtime`) to act on."""

    def parse_node(self):
        task = super().parse_node()
        if getattr(task, "extensions", None) is None:
            task.extensions = {}
        task.extensions[INTERRUPTING_KEY] = self.node.get("isInterrupting") != "false"
        return task


class BespokeParser(SpiffBpmnParser):
    OVERRIDE_PARSER_CLASSES = {
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        full_tag("serviceTask"): (ServiceTaskParser, AsyncServiceTask),
        full_tag("startEvent"): (StartEventParser, SpiffBpmnParser.OVERRIDE_PARSER_CLASSES[full_tag("startEvent")][1]),
    }


class VersionedWorkflowConverter(BpmnWorkflowConverter):
    """Serializes a workflow without its spec; the spec objects are supplied on load."""

    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct):
        spec, subprocess_specs = dct.pop("spec"), dct.pop("subprocess_specs")
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)

        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def make_serializer() -> BpmnWorkflowSerializer:
    config = dict(SPIFF_CONFIG)
    config.pop(ServiceTask, None)
    config[AsyncServiceTask] = ServiceTaskConverter
    config[BpmnWorkflow] = VersionedWorkflowConverter
    for clocked in CLOCKED_TIMERS.values():  # registered last: their typenames load as the clocked timers
        config[clocked] = TimerConditionalEventDefinitionConverter
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))
