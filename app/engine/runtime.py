"""The SpiffWorkflow adapter: build, load, run and save workflows; hand back plain views."""
from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Sized
from typing import Any, Callable
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import ErrorEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.specs.mixins.manual_task import ManualTask
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask, StandardLoopTask
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition, SignalEventDefinition
from SpiffWorkflow.util.task import TaskState

from app.engine import messages, pruning
from app.engine.bindings import Bindings
from app.engine.definitions import task_properties, version_bindings
from app.engine.events import catches_signal, close_idle_event_subprocesses, interrupt, pending_events
from app.engine.scripting import IN_SCOPE, RestrictedEnvironment, ScriptEngine
from app.engine.specs import CALL_KEY, AsyncServiceTask, make_serializer
from app.engine.views import (
    INPUT_ERROR_CODE,
    INPUT_ERROR_VARIABLE,
    TIMER_TYPES,
    ServiceCall,
    StepView,
    TaskView,
    jsonable,
    parse_due,
)
from app.errors import ScriptError


class ProcessEngine:
    """Parser + serializer + sandboxed script engine, composed once per app."""

    def __init__(self, helpers: dict[str, Callable[..., Any]], cache_size: int = 64) -> None:
        self.serializer = make_serializer()
        self.script_engine = ScriptEngine(environment=RestrictedEnvironment(helpers))
        self._versions: OrderedDict[tuple, Any] = OrderedDict()
        self._cache_size = cache_size
        # instance id → (specs, the state as saved, that state loaded): `load_ahead` fills it, `load` takes from it
        self._ahead: OrderedDict[int, tuple[tuple, str, BpmnWorkflow]] = OrderedDict()

    # -- definitions -------------------------------------------------------------------------
    def version_cached(self, definition_id: int, checksum: str, kind: str, load: Callable[[], Any]) -> Any:
        """Keep what is derived from an immutable version (specs, forms) instead of rebuilding it per step."""
        key = (definition_id, checksum, kind)
        cached = self._versions.get(key)
        if cached is None:
            cached = self._versions[key] = load()
            if len(self._versions) > self._cache_size:
                self._versions.popitem(last=False)
        else:
            self._versions.move_to_end(key)
        return cached

    def specs(self, definition_id: int, checksum: str, spec_json: Callable[[], str]) -> tuple:
        """A version's deserialized spec and subprocess specs (immutable, so shared by its instances)."""

        def load() -> tuple:
            dct = json.loads(spec_json())
            spec = self.serializer.from_dict(dct["spec"])
            return spec, {name: self.serializer.from_dict(s) for name, s in dct["subprocess_specs"].items()}

        return self.version_cached(definition_id, checksum, "specs", load)

    def bindings(self, definition_id: int, checksum: str, spec_json: Callable[[], str]) -> Bindings:
        """A version's bindings (element id → its `bespoke:` properties), read from its spec once."""
        return self.version_cached(definition_id, checksum, "bindings",
                                   lambda: version_bindings(*self.specs(definition_id, checksum, spec_json)))

    def lanes(self, definition_id: int, checksum: str, spec_json: Callable[[], str]) -> dict[str, str]:
        """A version's element id → the lane it sits in (elements in no lane left out)."""

        def load() -> dict[str, str]:
            spec, subprocesses = self.specs(definition_id, checksum, spec_json)
            return {task_spec.bpmn_id: task_spec.lane for process in (spec, *subprocesses.values())
                    for task_spec in process.task_specs.values() if getattr(task_spec, "lane", None)}

        return self.version_cached(definition_id, checksum, "lanes", load)

    @property
    def names_in_scope(self) -> frozenset[str]:
        """What a diagram's scripts may read without the diagram defining it: the sandbox's built-ins, the app's
        functions and what the engine itself puts in task data."""
        helpers = {name for name in self.script_engine.environment.globals if not name.startswith("_")}
        return IN_SCOPE | helpers | {INPUT_ERROR_VARIABLE}

    def spec_json(self, spec_dict: dict) -> str:
        return json.dumps(spec_dict)

    # -- instances -----------------------------------------------------------------------------
    def new_workflow(self, specs: tuple, data: dict) -> BpmnWorkflow:
        spec, subs = specs
        workflow = BpmnWorkflow(spec, subs, script_engine=self.script_engine)
        self.script_engine.environment.log.take()  # a step starts here: forget what an earlier failed one printed
        workflow.get_tasks(state=TaskState.READY)[0].data.update(jsonable(data))
        return workflow

    def load(self, specs: tuple, state: str, *, instance_id: int | None = None) -> BpmnWorkflow:
        """The workflow saved as `state`. With `instance_id`, the one `load_ahead` made of exactly this state (of
        the same version) is taken instead of parsing it again: a workflow is taken once, by the step that then
        saves it, so a step that fails leaves nothing half-changed behind."""
        self.script_engine.environment.log.take()  # a step starts here: forget what an earlier failed one printed
        if instance_id is not None:
            ahead = self._ahead.pop(instance_id, None)
            if ahead is not None and ahead[0] is specs and ahead[1] == state:
                return ahead[2]
        return self._restore(specs, state)

    def holds_ahead(self, instance_id: int, state: str) -> bool:
        """Whether a workflow of exactly this state is loaded ahead for the instance (what its next step takes)."""
        ahead = self._ahead.get(instance_id)
        return ahead is not None and ahead[1] == state

    def load_ahead(self, instance_id: int, specs: tuple, state: str) -> None:
        """Load a state just committed for the instance's next step in this process (`load(…, instance_id=)`):
        run after the answer went out, it takes the parsing off that step's time. Anything else that saves the
        instance meanwhile (another process, a worker) saves another state, and the step then loads that."""
        self._ahead[instance_id] = (specs, state, self._restore(specs, state))
        self._ahead.move_to_end(instance_id)
        while len(self._ahead) > self._cache_size:
            self._ahead.popitem(last=False)

    def _restore(self, specs: tuple, state: str) -> BpmnWorkflow:
        dct = json.loads(state, cls=self.serializer.json_decoder_cls)
        self.serializer.migrate(dct)
        history = dct.pop(pruning.HISTORY_KEY, None)  # absent from states saved before pruning: nothing dropped
        dct["spec"], dct["subprocess_specs"] = specs  # a state saved with its spec embedded loads as well
        workflow = self.serializer.from_dict(dct)
        workflow.script_engine = self.script_engine
        workflow.bespoke_history = history or pruning.empty_history()
        return workflow

    def dump(self, workflow: BpmnWorkflow) -> str:
        """The workflow as JSON without its spec (the version holds it) and without the finished history of its
        task tree (`app.engine.pruning`); the workflow itself is left as it was."""
        serializer = self.serializer
        serializer.registry._encoder_mode = True  # as Spiff's serialize_json: datetimes etc. left to the encoder
        try:
            dct = serializer.to_dict(workflow)
            dct[serializer.VERSION_KEY] = serializer.VERSION
            dct[pruning.HISTORY_KEY] = pruning.prune(workflow, dct, getattr(workflow, "bespoke_history", None))
            return json.dumps(dct, cls=serializer._encoder_cls)
        finally:
            serializer.registry._encoder_mode = False

    # -- acting ----------------------------------------------------------------------------------
    def user_task(self, workflow: BpmnWorkflow, guid: str):
        """The task a person completes (a user, manual or plain task) with this id, or None."""
        try:
            task = workflow.get_task_from_id(UUID(guid))
        except (ValueError, WorkflowException, KeyError):
            return None
        if task is None or not task.task_spec.manual:
            return None
        return task

    @staticmethod
    def state_of(task) -> str:
        return TaskState.get_name(task.state)

    def evaluate(self, task, expression: str, extra: dict | None = None) -> Any:
        try:
            return self.script_engine.evaluate(task, expression, external_context=extra)
        except SpiffWorkflowException as exc:
            raise ScriptError(_describe(exc, task)) from exc

    def complete_user_task(self, task, data: dict) -> None:
        task.data.pop(INPUT_ERROR_VARIABLE, None)  # answered: the next tasks must not show it again
        task.data.update(jsonable(data))
        try:
            task.run()  # its postScript runs here, and the next task's preScript
        except SpiffWorkflowException as exc:
            raise ScriptError(_describe(exc, getattr(exc, "task", None) or task)) from exc
        except DIAGRAM_ERRORS as exc:  # an expression Spiff evaluates unguarded (a message's correlation …)
            raise ScriptError(_describe(exc, task)) from exc

    def update_waiting_data(self, workflow: BpmnWorkflow, data: dict) -> bool:
        """Change process variables where the process waits now (its ready, started and waiting tasks), so the
        steps after them see the new values; False when nothing waits."""
        changed = False
        for task in self.tasks(workflow):
            if task.state in (TaskState.READY, TaskState.STARTED, TaskState.WAITING):
                task.data.update(jsonable(data))
                changed = True
        return changed

    @staticmethod
    def _waiting_service_task(workflow: BpmnWorkflow, guid: str):
        try:
            task = workflow.get_task_from_id(UUID(guid))
        except Exception:  # noqa: BLE001 - a vanished task is simply "not waiting"
            return None
        if task is None or task.state != TaskState.STARTED or not isinstance(task.task_spec, AsyncServiceTask):
            return None
        return task

    def complete_service_task(self, workflow: BpmnWorkflow, guid: str, result: Any) -> bool:
        """Finish a STARTED service task with its result; False when it is no longer waiting."""
        task = self._waiting_service_task(workflow, guid)
        if task is None:
            return False
        task.data[task.task_spec.result_variable] = jsonable({"r": result})["r"]
        task.complete()
        return True

    def input_error_boundary(self, workflow: BpmnWorkflow, guid: str):
        """The waiting error boundary event that catches an input error of this STARTED service task, or None."""
        task = self._waiting_service_task(workflow, guid)
        for sibling in task.parent.children if task is not None and task.parent else []:
            spec = sibling.task_spec
            event = getattr(spec, "event_definition", None)
            if (isinstance(spec, BoundaryEvent) and isinstance(event, ErrorEventDefinition)
                    and event.code in (None, INPUT_ERROR_CODE) and sibling.state == TaskState.WAITING):
                return sibling
        return None

    def reject_service_task(self, workflow: BpmnWorkflow, guid: str, message: str) -> dict | None:
        """Throw the input error on a STARTED service task; the payload, or None when nothing catches it.

        The boundary event interrupts the service task and its flow leads back to the person whose data
        was refused; the payload (the boundary's name as the title, the operator's message) travels in
        `input_error` to the task that flow reaches.
        """
        boundary = self.input_error_boundary(workflow, guid)
        if boundary is None:
            return None
        service = workflow.get_task_from_id(UUID(guid)).task_spec
        spec = boundary.task_spec
        payload = {"title": spec.bpmn_name or service.bpmn_name or service.bpmn_id, "message": message,
                   "service_task": service.bpmn_id, "service_name": service.bpmn_name or service.bpmn_id}
        spec.catch(boundary, BpmnEvent(spec.event_definition, payload))
        boundary.data[INPUT_ERROR_VARIABLE] = payload
        spec._update(boundary)
        return payload

    def send_message(self, workflow: BpmnWorkflow, name: str, payload: dict) -> bool:
        """Deliver a message, correlated (`app.engine.messages`); False when nothing waiting catches it.

        Raises `messages.MissingPayloadKey` when the payload lacks what a correlation expression reads.
        """
        return messages.deliver(workflow, name, jsonable(payload))

    @staticmethod
    def start_form(spec) -> str | None:
        """The form file the process's start event asks for (`formJsonSchemaFilename`), if any."""
        for task_spec in spec.start.outputs:  # the process's own start events, not its event sub-processes'
            form = isinstance(task_spec, StartEvent) and task_properties(task_spec).get("formJsonSchemaFilename")
            if form:
                return form
        return None

    @staticmethod
    def workflow_data(workflow: BpmnWorkflow) -> dict:
        """What the process holds now: at its end the data it finished with, before that the last step's."""
        if workflow.completed and workflow.data:
            return jsonable(workflow.data)
        last = workflow.last_task
        return jsonable(last.data) if last is not None else {}

    def cancel(self, workflow: BpmnWorkflow) -> StepView:
        """Cancel every task of the workflow; what it looks like after."""
        workflow.cancel()
        return self.describe(workflow)

    @staticmethod
    def waiting_signals(workflow: BpmnWorkflow) -> set[str]:
        return {e.name for e in pending_events(workflow) if e.event_type == "SignalEventDefinition"}

    def send_signal(self, workflow: BpmnWorkflow, name: str, payload: dict) -> bool:
        """Throw a named signal into the workflow from outside; False when nothing in it waits for that signal."""
        if name not in self.waiting_signals(workflow):
            return False
        workflow.send_event(BpmnEvent(SignalEventDefinition(name), jsonable(payload)))
        return True

    @staticmethod
    def catches_signal(specs: tuple, name: str) -> bool:
        """Whether anything in a version (its process or sub-processes) catches the named signal."""
        return catches_signal(specs, name)

    def waiting_messages(self, workflow: BpmnWorkflow) -> set[str]:
        return {e.name for e in pending_events(workflow) if e.event_type == "MessageEventDefinition"}

    def run(self, workflow: BpmnWorkflow, refresh_timers: bool = False) -> StepView:
        """Run engine steps until only people, workers or timers can move it; describe the result.

        A run that completes more than MAX_RUN_STEPS tasks without waiting is a loop nothing ends (a gateway
        cycle of scripts, a process that calls itself): it is stopped with a ScriptError naming the task it
        was at, instead of holding the request and a worker for ever.
        """
        completed: list = []

        def done(task) -> None:
            completed.append(task)
            if len(completed) > MAX_RUN_STEPS:
                raise RunawayRun(task)

        try:
            if refresh_timers:
                workflow.refresh_timers()
            workflow.do_engine_steps(did_complete_task=done)
            while interrupt(workflow) or close_idle_event_subprocesses(workflow):
                workflow.do_engine_steps(did_complete_task=done)
            # SpiffWorkflow looks for ready tasks no deeper than 1,000 steps into its tree: a loop that went
            # further stops there, silently. That is the same loop nothing ends.
            left = next((t for t in self.tasks(workflow) if t.state == TaskState.READY and not t.task_spec.manual
                         and _deeper_than(t, SPIFF_MAX_DEPTH - 1)), None)
            if left is not None:
                raise RunawayRun(left)
        except SpiffWorkflowException as exc:
            raise ScriptError(_describe(exc, getattr(exc, "task", None))) from exc
        except RunawayRun as exc:
            raise ScriptError(_describe(exc, exc.task)) from exc
        except DIAGRAM_ERRORS as exc:  # an expression Spiff evaluates unguarded (a message's correlation …)
            raise ScriptError(_describe(exc)) from exc
        view = self.describe(workflow, completed)
        events = workflow.get_events()  # what the instance threw and did not catch itself
        view.signals = [(e.event_definition.name, e.payload) for e in events
                        if isinstance(e.event_definition, SignalEventDefinition)]
        workflow.bpmn_events = [e for e in events if not isinstance(e.event_definition, SignalEventDefinition)]
        return view

    @staticmethod
    def tasks(workflow: BpmnWorkflow):
        """Every task of the workflow and its subprocesses (a flat scan: cheaper than Spiff's tree iterator)."""
        yield from workflow.tasks.values()
        for subprocess in workflow.subprocesses.values():
            yield from subprocess.tasks.values()

    def describe(self, workflow: BpmnWorkflow, completed: list | None = None) -> StepView:
        ready, started = [], []
        for task in self.tasks(workflow):
            if task.state == TaskState.READY and task.task_spec.manual:
                ready.append(self._task_view(task))
            elif task.state == TaskState.STARTED:
                started.append(task)
        calls = []
        for task in [*started, *(completed or [])]:
            call = task.internal_data.get(CALL_KEY)
            if call and not call["outboxed"]:
                call["outboxed"] = True
                calls.append(ServiceCall(None if call.get("detached") else str(task.id), task.task_spec.bpmn_id,
                                         task.task_spec.bpmn_name or "", call["operator"], call["params"],
                                         call["retries"], call["backoff_base"]))
        milestones, message_data = [], {}
        for task in completed or []:
            event = getattr(task.task_spec, "event_definition", None)
            for part in event.event_definitions if isinstance(event, MultipleEventDefinition) else [event]:
                variable = getattr(part, "message_var", None)
                if isinstance(part, MessageEventDefinition) and variable in task.data:
                    message_data[variable] = task.data[variable]
            props = task_properties(task.task_spec)
            if not isinstance(task.task_spec, UserTask) and ("stage" in props or "orderStatus" in props):
                milestones.append({"stage": props.get("stage"), "status": props.get("orderStatus"),
                                   "bpmn_id": task.task_spec.bpmn_id})
        waiting = pending_events(workflow)
        dues = [d for d in (parse_due(e.value) for e in waiting if e.event_type in TIMER_TYPES) if d]
        return StepView(
            ready=ready, calls=calls, milestones=milestones, finished=workflow.completed,
            next_timer_at=min(dues) if dues else None,
            waiting_messages={e.name for e in waiting if e.event_type == "MessageEventDefinition"},
            message_data=message_data, log=self.script_engine.environment.log.take(),
        )

    def _task_view(self, task) -> TaskView:
        spec = task.task_spec
        props = task_properties(spec)
        assignee = None
        if props.get("assignee"):
            value = self.evaluate(task, props["assignee"])
            assignee = str(value) if value else None
        # The due time is the non-interrupting timer marked sla_level=head (the 100 % deadline);
        # a diagram without levels uses its earliest non-interrupting timer.
        due, earliest = None, None
        for sibling in task.parent.children if task.parent else []:
            sib_spec = sibling.task_spec
            # Boundary events are the task's siblings under Spiff's BoundaryEventSplit.
            if (sibling is not task and isinstance(sib_spec, CatchingEvent)
                    and isinstance(sib_spec.event_definition, TimerEventDefinition)
                    and not getattr(sib_spec, "cancel_activity", True)):
                candidate = parse_due(sibling.internal_data.get("event_value"))
                if candidate and task_properties(sib_spec).get("sla_level") == "head":
                    due = candidate
                if candidate and (earliest is None or candidate < earliest):
                    earliest = candidate
        due = due or earliest
        name = spec.bpmn_name or spec.bpmn_id
        instance = self._instance_label(task)
        if instance:  # one of several instances of the same task: say which, the inbox lists them side by side
            name = f"{name[:200 - len(instance) - 3]} — {instance}"
        return TaskView(
            guid=str(task.id), bpmn_id=spec.bpmn_id, name=name,
            stage=props.get("stage") or spec.bpmn_name or spec.bpmn_id, lane=spec.lane or "",
            form=props.get("formJsonSchemaFilename"), ui_form=props.get("formUiSchemaFilename"),
            assignee=assignee, due_at=due, data=jsonable(task.data),
            input_error=task.data.get(INPUT_ERROR_VARIABLE), kind=_kind(spec),
            documentation=getattr(spec, "documentation", None) or None,
        )

    def _instance_label(self, task) -> str | None:
        """Which instance of a multi-instance or looping task this is: its item (a short text or number), else
        «2/3» (or the round of a loop, «2»)."""
        loop = task.parent.task_spec if task.parent is not None else None
        if isinstance(loop, StandardLoopTask):
            return str(task.internal_data.get("iteration", 0) + 1)
        if not isinstance(loop, MultiInstanceTask):
            return None
        item = task.data.get(loop.input_item.bpmn_id) if loop.input_item is not None else None
        if isinstance(item, (str, int, float)) and not isinstance(item, bool) and 0 < len(str(item)) <= 60:
            return str(item)
        position = task.internal_data.get("key_or_index", task.internal_data.get("item"))
        if isinstance(position, str):  # a key of a dict collection
            return position[:60]
        if not isinstance(position, int):
            return None
        try:
            items = (loop.data_input.get(task.parent) if loop.data_input is not None
                     else self.evaluate(task.parent, loop.cardinality))
            total = len(items) if isinstance(items, Sized) else int(items)
        except (ScriptError, WorkflowException, TypeError, ValueError, KeyError):
            return str(position + 1)
        return f"{position + 1}/{total}"

    def task_check(self, task, data: dict) -> str | None:
        """Evaluate the task's preCompleteCheck on its data plus the submitted data; the message if it fails."""
        props = task_properties(task.task_spec)
        check = props.get("preCompleteCheck")
        if not check:
            return None
        merged = {**task.data, **jsonable(data)}
        try:
            ok = self.script_engine.environment.evaluate(check, merged)
        except Exception as exc:  # noqa: BLE001 - a failing check is a refusal, reported with its cause
            return f"{props.get('preCompleteMessage') or 'Проверка этапа не пройдена'} ({exc})"
        return None if ok else (props.get("preCompleteMessage") or "Проверка этапа не пройдена")


# What a diagram's own expressions raise where SpiffWorkflow does not wrap them in its exceptions (e.g. a message's
# correlation expression evaluated as its catch event is reached): the diagram's fault, a 422, not a 500.
DIAGRAM_ERRORS = (NameError, KeyError, IndexError, TypeError, ValueError, AttributeError, ArithmeticError)
MAX_RUN_STEPS = 5000  # tasks one run may complete before it counts as a loop nothing ends
SPIFF_MAX_DEPTH = 1000  # SpiffWorkflow's task iterator (what do_engine_steps looks through) stops this deep


def _deeper_than(task, depth: int) -> bool:
    """The task sits more than `depth` levels down its workflow's tree (counted only as far as needed)."""
    for _ in range(depth + 1):
        task = task.parent
        if task is None:
            return False
    return True


class RunawayRun(Exception):
    def __init__(self, task) -> None:
        super().__init__("the process ran on without waiting for anyone until it had to be stopped: a loop that "
                         "never ends (a cycle of scripts and gateways, or a process calling itself)")
        self.task = task


def _kind(spec) -> str:
    if isinstance(spec, UserTask):
        return "user"
    return "manual" if isinstance(spec, ManualTask) else "task"


def _describe(exc: Exception, task=None) -> str:
    where = ""
    if task is not None:
        spec = task.task_spec
        bpmn_id = getattr(spec, "bpmn_id", None) or spec.name
        where = f"{getattr(spec, 'bpmn_name', None) or bpmn_id} ({bpmn_id}): "
    notes = " ".join(getattr(exc, "__notes__", []) or [])
    return f"{where}{exc}{(' — ' + notes) if notes else ''}"
