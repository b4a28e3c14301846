"""Keep a saved workflow small: drop the finished history of its task tree when it is saved.

SpiffWorkflow never forgets a task: every pass through a loop (an order sent back to re-measure) adds the
loop's tasks under the previous pass's, so the saved state and the cost of loading it grow with every pass.
What happened is kept elsewhere (the audit, `human_tasks`), so on save (`ProcessEngine.dump`) the
serialized tree loses what can never be needed again:

- a finished side branch with nothing in it anyone looks at again (cancelled boundary events of earlier passes,
  the branches of decisions long taken) is dropped;
- a chain of completed tasks leading to what is still going on is cut short: the first task still needed hangs
  from the last kept one, its data re-based on its new parent (Spiff stores a task's data as a delta to its
  parent's).

Never dropped: the tree's root, the last completed task (`workflow_data` reads it), every task still going
(waiting, ready, started, predicted, failed), its parent and siblings (boundary events, a loop's or
multi-instance's rounds, the SLA timers `_task_view` reads), the split a structured join will look back to,
and every unfinished task of a merging gateway with its parent (a parallel or inclusive join reads the branches
that already arrived, and merges their data).

The instance page colours the diagram with every element ever reached and every flow ever taken
(`app.engine.inspect`): what a dropped task contributed is kept as a small summary (`HISTORY_KEY`) that
grows with the diagram, not with the passes, and a task hung from a new parent remembers where it came from.
"""
from __future__ import annotations

from copy import deepcopy
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.control import _EndJoin
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.specs.mixins.unstructured_join import UnstructuredJoin
from SpiffWorkflow.util.deep_merge import DeepMerge
from SpiffWorkflow.util.task import TaskState

# The state's summary of the dropped tasks: {"elements": {id: state}, "flows": [[from, to]], "passed": {process: [id]}}
HISTORY_KEY = "bespoke_history"
FROM_KEY = "bespoke_from"  # internal_data of a task hung from a new parent: the element it was reached from

# When one element ran more than once (a loop, a re-measurement), the state that says most wins.
STATE_OF = {TaskState.ERROR: "error", TaskState.READY: "active", TaskState.STARTED: "active",
            TaskState.WAITING: "waiting", TaskState.COMPLETED: "done", TaskState.CANCELLED: "cancelled"}
PRECEDENCE = ("error", "active", "waiting", "done", "cancelled")
REACHED = TaskState.WAITING | TaskState.READY | TaskState.STARTED | TaskState.COMPLETED | TaskState.ERROR
FINISHED = TaskState.COMPLETED | TaskState.CANCELLED


def bpmn_id(task) -> str | None:
    return getattr(task.task_spec, "bpmn_id", None)


def named_source(task) -> str | None:
    """The nearest diagram element above this task (Spiff's own split/join tasks are not elements), also across
    the history pruning cut away."""
    current = task
    while True:
        if FROM_KEY in current.internal_data:
            return current.internal_data[FROM_KEY]
        parent = current.parent
        if parent is None:
            return None
        if bpmn_id(parent) is not None:
            return bpmn_id(parent)
        current = parent


def element_state(task) -> str | None:
    """What this task says of its element on the diagram (None: nothing to show)."""
    state = STATE_OF.get(task.state)
    if bpmn_id(task) is None or state is None:
        return None
    if isinstance(task.task_spec, BoundaryEvent) and state == "cancelled":
        return None  # a boundary event whose activity finished first was never going to fire
    return state


def flow_into(task) -> tuple[str, str] | None:
    """The flow this task was reached by, as (source id, target id), if it was reached by one."""
    target = bpmn_id(task)
    if target is None or not task.state & REACHED or isinstance(task.task_spec, BoundaryEvent):
        return None  # a boundary event has no incoming flow
    source = named_source(task)
    return (source, target) if source is not None and source != target else None


def merge_state(elements: dict[str, str], element: str, state: str) -> None:
    known = elements.get(element)
    if known is None or PRECEDENCE.index(state) < PRECEDENCE.index(known):
        elements[element] = state


def empty_history() -> dict[str, Any]:
    return {"elements": {}, "flows": [], "passed": {}}


def prune(workflow, dct: dict, history: dict[str, Any] | None) -> dict[str, Any]:
    """Drop the finished history from a serialized workflow (`dct`, made from `workflow` just now) and its
    subprocesses; the diagram summary of what was dropped, merged into `history`."""
    elements = dict((history or {}).get("elements", {}))
    flows = {tuple(f) for f in (history or {}).get("flows", [])}
    passed = {name: set(ids) for name, ids in (history or {}).get("passed", {}).items()}
    dropped: set[str] = set()
    workflows = [(workflow, dct)]
    for task_id, sub_dct in dct.get("subprocesses", {}).items():
        sub = workflow.subprocesses.get(UUID(task_id))
        if sub is not None:
            workflows.append((sub, sub_dct))
    for wf, wf_dct in workflows:
        for task in _prune_tree(wf, wf_dct):
            dropped.add(str(task.id))
            element = bpmn_id(task)
            if element is None:
                continue  # Spiff's own split/join tasks: not on the diagram
            passed.setdefault(wf.spec.name, set()).add(element)  # a version without it cannot take the instance
            state = element_state(task)
            if state is not None:
                merge_state(elements, element, state)
            flow = flow_into(task)
            if flow is not None:
                flows.add(flow)
    _drop_subprocesses(dct, dropped)
    return {"elements": elements, "flows": sorted([list(f) for f in flows]),
            "passed": {name: sorted(ids) for name, ids in sorted(passed.items())}}


def _drop_subprocesses(dct: dict, dropped: set[str]) -> None:
    """Subprocesses of dropped tasks go with them (and theirs with them)."""
    subprocesses = dct.get("subprocesses", {})
    pending = [key for key in subprocesses if key in dropped]
    while pending:
        sub = subprocesses.pop(pending.pop(), None)
        if sub is None:
            continue
        pending.extend(key for key in sub.get("tasks", {}) if key in subprocesses)


def _children(wf) -> dict:
    """Each task's children, listed once (Spiff's `Task.children` builds the list anew at every call)."""
    tasks = wf.tasks
    return {task: [tasks.get(child) for child in task._children] for task in tasks.values()}


def _protected(wf, children: dict) -> tuple[set, set, dict]:
    """(tasks never dropped or cut out, tasks whose children all stay, the process ends folded into one).

    A process's end merges into its final data the data every branch that ended before it had (Spiff's
    `UnstructuredJoin._run_hook`, oldest first). Each pass through a loop that leaves a branch ending on its own
    adds one such branch: only the newest is kept, the data of the older ones folded into it, oldest first
    (`_fold_ends`), so the end still merges the same data.
    """
    keep: set = {wf.task_tree}
    if wf.last_task is not None and wf.last_task.workflow is wf:
        keep.add(wf.last_task)
    whole: set = set()
    ends: dict[str, list] = {}
    for task in wf.tasks.values():
        if not task.state & FINISHED:  # still going (or failed): it, its parent and its children stay
            keep.add(task)
            keep.update(children[task])
            whole.add(task)
            if task.parent is not None:
                keep.add(task.parent)
                whole.add(task.parent)
                keep.update(children[task.parent])
            split_name = getattr(task.task_spec, "split_task", None)
            split = task.find_ancestor(split_name) if split_name else None
            if split is not None:  # a structured join looks back to its split and the split's children
                whole.add(split)
                keep.update(children[split])
                current = task
                while current is not None and current is not split:
                    keep.add(current)
                    current = current.parent
        elif isinstance(task.task_spec, _EndJoin) and task.state != TaskState.COMPLETED and task.parent:
            ends.setdefault(task.task_spec.name, []).append(task)
        elif isinstance(task.task_spec, UnstructuredJoin) and task.state != TaskState.COMPLETED:
            keep.add(task)  # a merging gateway counts the branches that arrived, and merges their data
            if task.parent is not None:
                keep.add(task.parent)
    folds = {}
    for same in ends.values():
        same.sort(key=lambda t: t.last_state_change)
        newest = same[-1]
        keep.update((newest, newest.parent))
        if len(same) > 1:
            folds[newest.parent] = [t.parent for t in same[:-1]]
    return keep, whole, folds


def _fold_ends(wf_dct: dict, folds: dict, dropped: set) -> None:
    """The kept end branch carries the data of the older ones dropped (merged oldest first, itself last)."""
    tasks = wf_dct["tasks"]
    for kept, older in folds.items():
        gone = [t for t in older if t in dropped]
        entry = tasks.get(str(kept.id))
        if not gone or entry is None or not entry.get("delta"):
            continue
        data: dict = {}
        for task in [*gone, kept]:
            DeepMerge.merge(data, deepcopy(task.data))
        parent = kept.workflow.tasks[UUID(entry["parent"])]
        entry["delta"] = {"updates": DeepMerge.get_updated_keys(parent.data, data),
                          "deletions": DeepMerge.get_deleted_keys(parent.data, data)}


def _prune_tree(wf, wf_dct: dict) -> list:
    """Drop what is no longer needed from one workflow's serialized tasks; the dropped tasks."""
    below_of = _children(wf)
    keep, whole, folds = _protected(wf, below_of)
    needed: set = set()  # a kept task or one with a kept task below it
    order = _preorder(wf.task_tree, below_of)
    for task in reversed(order):
        if task in keep or any(child in needed for child in below_of[task]):
            needed.add(task)
    if len(needed) == len(order):
        return []
    tasks = wf_dct["tasks"]
    dropped: list = []
    stack = [wf.task_tree]
    while stack:
        node = stack.pop()
        children = []
        for child in below_of[node]:
            if node not in whole and child not in needed:
                dropped.extend(_preorder(child, below_of))
                continue
            start = child
            while child not in keep and child not in whole and child.state == TaskState.COMPLETED:
                below = [c for c in below_of[child] if c in needed]
                if len(below) != 1:
                    break
                for other in below_of[child]:
                    if other is not below[0]:
                        dropped.extend(_preorder(other, below_of))
                dropped.append(child)
                child = below[0]
            if child is not start:
                _rehang(tasks[str(child.id)], child, node)
            children.append(child)
            stack.append(child)
        tasks[str(node.id)]["children"] = [str(c.id) for c in children]
    for task in dropped:
        tasks.pop(str(task.id), None)
    _fold_ends(wf_dct, folds, set(dropped))
    return dropped


def _rehang(entry: dict, task, parent) -> None:
    """Hang a serialized task from a new parent: its data as a delta to that parent's, its incoming flow kept."""
    entry["parent"] = str(parent.id)
    if entry.get("delta"):  # a task saved with its full data (a root's) does not depend on its parent
        entry["delta"] = {"updates": DeepMerge.get_updated_keys(parent.data, task.data),
                          "deletions": DeepMerge.get_deleted_keys(parent.data, task.data)}
    entry["internal_data"] = {**entry["internal_data"], FROM_KEY: named_source(task)}


def _preorder(root, children: dict) -> list:
    """The subtree's tasks, parents before children (without recursion: a long loop makes a deep tree)."""
    result, stack = [], [root]
    while stack:
        task = stack.pop()
        result.append(task)
        stack.extend(reversed(children[task]))
    return result
