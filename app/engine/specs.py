"""Our task specs: the asynchronous service task, and the parser/serializer wiring."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
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
from SpiffWorkflow.spiff.parser.task_spec import ScriptTaskParser, ServiceTaskParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.serializer.task_spec import ServiceTaskConverter, SpiffMultiInstanceConverter
from SpiffWorkflow.spiff.specs.defaults import (
    ParallelMultiInstanceTask,
    ScriptTask,
    SequentialMultiInstanceTask,
    ServiceTask,
)

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


class _CheckedCollection:
    """SpiffWorkflow 3.2 runs a multi-instance task over whatever its input holds: a missing collection, a number
    or a text cardinality fail deep inside with a bare TypeError. Refuse them first with what the task needs."""

    data_input: Any
    cardinality: str | None
    raise_data_exception: Callable[..., None]

    def check_input(self, my_task, count=None) -> None:
        if self.data_input is not None:
            if not self.data_input.exists(my_task):
                self.raise_data_exception(f"the collection '{self.data_input.bpmn_id}' is missing from the data",
                                          my_task)
            items = self.data_input.get(my_task)
            if isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
                self.raise_data_exception(f"'{self.data_input.bpmn_id}' must be a list or a dict, not "
                                          f"{type(items).__name__}", my_task)
        elif self.cardinality is not None:
            if count is None:
                count = my_task.workflow.script_engine.evaluate(my_task, self.cardinality)
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                self.raise_data_exception(f"loopCardinality '{self.cardinality}' must give a whole number ≥ 0, "
                                          f"not {count!r}", my_task)


class CheckedParallelMultiInstanceTask(_CheckedCollection, ParallelMultiInstanceTask):
    """Also keeps a list of answers in the order of the items they answer (SpiffWorkflow appends them as people
    finish), so `verdicts[i]` is the answer about `suppliers[i]`."""

    def create_children(self, my_task):
        self.check_input(my_task)
        super().create_children(my_task)

    def merge_child(self, workflow, child):
        my_task = child.parent
        before = self._answers(my_task)
        size = len(before) if before is not None else 0
        super().merge_child(workflow, child)
        answers, index = self._answers(my_task), child.internal_data.get("key_or_index")
        if answers is None or len(answers) != size + 1 or not isinstance(index, int):
            return
        positions = my_task.internal_data.setdefault("answer_positions", [])
        positions.append(index)
        if len(positions) == len(answers):
            answers[:] = [answers[i] for i in sorted(range(len(answers)), key=positions.__getitem__)]
            positions.sort()

    def _answers(self, my_task) -> list | None:
        """The output collection when it is a list of its own (not the input updated in place), else None."""
        if self.data_output is None or self.output_item is None or not self.data_output.exists(my_task):
            return None
        output = self.data_output.get(my_task)
        same = self.data_input is not None and self.data_input.get(my_task) is output
        return output if isinstance(output, list) and not same else None


class CheckedSequentialMultiInstanceTask(_CheckedCollection, SequentialMultiInstanceTask):
    def init_remaining_items(self, my_task):
        self.check_input(my_task)
        return super().init_remaining_items(my_task)

    def get_next_index(self, my_task):
        self.check_input(my_task, my_task.internal_data.get("cardinality"))
        return super().get_next_index(my_task)


def _checked_loops(parser_class: type) -> type:
    return type(parser_class.__name__, (parser_class,), {"PARALLEL_MI_CLASS": CheckedParallelMultiInstanceTask,
                                                          "SEQUENTIAL_MI_CLASS": CheckedSequentialMultiInstanceTask})


class ScriptTaskWithScriptsParser(ScriptTaskParser):
    """SpiffWorkflow 3.2's script task parser drops `spiffworkflow:preScript`/`postScript` (every other task's
    keeps them); the spec and its serializer already run and store them."""

    def create_task(self):
        task = super().create_task()
        extensions = self.parse_extensions()
        task.prescript, task.postscript = extensions.get("preScript"), extensions.get("postScript")
        return task


class BespokeParser(SpiffBpmnParser):
    OVERRIDE_PARSER_CLASSES = {tag: (_checked_loops(parser), spec) for tag, (parser, spec) in {
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        full_tag("serviceTask"): (ServiceTaskParser, AsyncServiceTask),
        full_tag("startEvent"): (StartEventParser, SpiffBpmnParser.OVERRIDE_PARSER_CLASSES[full_tag("startEvent")][1]),
        full_tag("scriptTask"): (ScriptTaskWithScriptsParser, ScriptTask),
    }.items()}


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
    config[CheckedParallelMultiInstanceTask] = SpiffMultiInstanceConverter
    config[CheckedSequentialMultiInstanceTask] = SpiffMultiInstanceConverter
    config[BpmnWorkflow] = VersionedWorkflowConverter
    for clocked in CLOCKED_TIMERS.values():  # registered last: their typenames load as the clocked timers
        config[clocked] = TimerConditionalEventDefinitionConverter
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))
