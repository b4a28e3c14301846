"""The typical path through a diagram: the people's tasks an order still meets after a task, when nothing unusual
happens — what the naive «SLA sum» forecast adds the stages' norms along."""
from __future__ import annotations

from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.specs.mixins.manual_task import ManualTask
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from SpiffWorkflow.specs.ExclusiveChoice import ExclusiveChoice


def typical_path(specs: tuple, bpmn_id: str) -> list[str]:
    """The user and manual tasks from `bpmn_id` (itself first) to the end, in the order met.

    An exclusive gateway goes its default way (a diagram's default is its usual outcome; without one, every
    way is taken), a parallel one every way; boundary events (SLA escalations, cancellations) are the
    unusual, so they are not followed. A loop is walked once.
    """
    spec, subprocess_specs = specs
    for process in (spec, *subprocess_specs.values()):
        start = process.task_specs.get(bpmn_id)
        if start is not None:
            break
    else:
        return []
    path: list[str] = []
    seen: set[str] = set()
    stack = [start]
    while stack:
        task_spec = stack.pop()
        if task_spec.name in seen or isinstance(task_spec, BoundaryEvent):
            continue
        seen.add(task_spec.name)
        if isinstance(task_spec, (UserTask, ManualTask)) and task_spec.bpmn_id:
            path.append(task_spec.bpmn_id)
        outputs = list(task_spec.outputs)
        default = getattr(task_spec, "default_task_spec", None) if isinstance(task_spec, ExclusiveChoice) else None
        if default is not None:
            outputs = [o for o in outputs if o.name == default] or outputs
        stack.extend(reversed(outputs))  # depth first, the diagram's first way first
    return path
