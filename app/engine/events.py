"""Events on top of SpiffWorkflow 3.2: what a workflow waits for, and event sub-processes as BPMN means them.

Spiff lists an event-based gateway's events as one opaque "multiple" event, and its event sub-processes started by
a message or signal wait as specs rather than tasks: `pending_events` names each. Spiff runs every event
sub-process as non-interrupting and keeps a timer-started one alive after the rest of its process has ended:
`interrupt` and `close_idle_event_subprocesses` give them BPMN's meaning after each run of the engine.
"""
from __future__ import annotations

from SpiffWorkflow.bpmn.specs.control import _EndJoin
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.util.event import PendingBpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.specs.event_definitions import SignalEventDefinition
from SpiffWorkflow.util.task import TaskState

from app.engine.specs import INTERRUPTING_KEY


def pending_events(workflow: BpmnWorkflow) -> list:
    """What the workflow waits for: Spiff's `waiting_events()`, with an event-based gateway's events one by one.

    An event-based gateway takes the events of the catches after it into one MultipleEventDefinition, whose
    `details()` names none of them: its timer would never be scheduled and its messages never accepted. The
    message and signal starts of the process's event sub-processes are listed too: Spiff starts those sub-processes
    when the event comes, so nothing waits for it as a task.
    """
    pending = []
    for task in workflow.event_manager.tasks.values():
        event = task.task_spec.event_definition
        parts = event.event_definitions if isinstance(event, MultipleEventDefinition) else [event]
        pending += [part.details(task) for part in parts]
    if not workflow.completed:  # an event sub-process started by a message or signal waits as a spec, not a task
        for name in workflow.spec.start.trigger_specs:
            pending += [PendingBpmnEvent(start.event_definition.name, type(start.event_definition).__name__)
                        for start in workflow.subprocess_specs[name].bpmn_start_events]
    return pending


def catches_signal(specs: tuple, name: str) -> bool:
    """Whether anything in a version (its process or sub-processes) catches the named signal."""
    spec, subs = specs
    for wf_spec in (spec, *subs.values()):
        for task_spec in wf_spec.task_specs.values():
            event = getattr(task_spec, "event_definition", None)
            parts = event.event_definitions if isinstance(event, MultipleEventDefinition) else [event]
            if any(isinstance(p, SignalEventDefinition) and p.name == name for p in parts):
                return True
    return False


_ACTIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR
INTERRUPTED_KEY = "interrupted"


def _event_subprocesses(workflow: BpmnWorkflow, wf):
    """(task, its sub-workflow) of each event sub-process started in `wf` (a timer one starts with its process,
    a message or signal one when the event comes)."""
    for task in wf.tasks.values():
        sub = workflow.subprocesses.get(task.id)
        if sub is not None and (task.task_spec.name in wf.spec.start.trigger_specs
                                or (task.parent is not None and task.parent.task_spec is wf.spec.start)):
            yield task, sub


def interrupt(workflow: BpmnWorkflow) -> bool:
    """Let an interrupting event sub-process that has just started cancel the rest of its process.

    Spiff 3.2 runs every event sub-process as if non-interrupting; our parser keeps `isInterrupting`
    (`app.engine.specs.StartEventParser`). True when something was cancelled (run steps again).
    """
    acted = False
    for wf in (workflow, *workflow.subprocesses.values()):
        for task, sub in list(_event_subprocesses(workflow, wf)):
            if task.internal_data.get(INTERRUPTED_KEY) or not task.has_state(_ACTIVE | TaskState.COMPLETED):
                continue
            fired = [t for t in sub.tasks.values() if t.task_spec in sub.spec.bpmn_start_events
                     and t.state == TaskState.COMPLETED]
            if not any((getattr(t.task_spec, "extensions", None) or {}).get(INTERRUPTING_KEY, True) for t in fired):
                continue
            task.internal_data[INTERRUPTED_KEY] = True
            for other in list(wf.tasks.values()):
                if (other is not task and other.has_state(_ACTIVE) and not isinstance(other.task_spec, _EndJoin)
                        and not _is_ancestor(other, task)):
                    other.cancel()
            _update_end_joins(wf)
            acted = True
    return acted


def _update_end_joins(wf) -> None:
    """A process's end waits for its branches: after cancelling some, let it look again."""
    for task in list(wf.tasks.values()):
        if task.state == TaskState.WAITING and isinstance(task.task_spec, _EndJoin):
            task.task_spec._update(task)


def _is_ancestor(candidate, task) -> bool:
    parent = task.parent
    while parent is not None:
        if parent is candidate:
            return True
        parent = parent.parent
    return False


def close_idle_event_subprocesses(workflow: BpmnWorkflow) -> bool:
    """End the event sub-processes still waiting for their timer start once the rest of their process is done.

    Spiff 3.2 starts a timer-started event sub-process with its process and waits for it at the process's end:
    the process would not finish until the timer fired, and then run the sub-process after the work was done.
    In BPMN an event sub-process lives only as long as its process; True when one was closed (run steps again).
    """
    closed = False
    for wf in (workflow, *workflow.subprocesses.values()):
        idle, busy = [], False
        for task in wf.tasks.values():
            if not task.has_state(_ACTIVE) or isinstance(task.task_spec, _EndJoin):
                continue
            sub = workflow.subprocesses.get(task.id)
            if (sub is not None and task.parent is not None and task.parent.task_spec is wf.spec.start
                    and task.state == TaskState.STARTED and _waits_to_start(sub)):
                idle.append(task)
            else:
                busy = True
        if idle and not busy:
            for task in idle:
                task.cancel()
            _update_end_joins(wf)
            closed = True
    return closed


def _waits_to_start(sub) -> bool:
    starts = {spec.name for spec in sub.spec.bpmn_start_events}
    tasks = [t for t in sub.tasks.values() if t.task_spec.name in starts]
    return bool(tasks) and all(t.state == TaskState.WAITING for t in tasks)
