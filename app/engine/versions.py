"""Two versions of a process side by side: what changed, and moving a running workflow from one to the other.

SpiffWorkflow's `bpmn.util.diff` aligns the task specs of two versions by BPMN id (then by structure) and names the
serialized attributes that differ; the XML adds what specs do not carry (sequence flows, layout is ignored). A
workflow moves with `migrate_workflow`, which resets its READY and WAITING tasks: a waiting timer would start
again from the moment of the migration, so the due times of timers whose expression did not change are put back
(an order keeps its SLA deadlines; a timer changed in the new version starts afresh).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.util.diff import SpecDiff, diff_workflow, migrate_workflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from app.engine.definitions import NS, safe_xml, task_properties

# Serialized task-spec attributes → what a person calls them; the rest (inputs, lookahead …) follow from these.
ASPECTS = {
    "typename": "тип", "bpmn_name": "название", "lane": "дорожка (роль)", "documentation": "описание",
    "extensions": "свойства", "cond_task_specs": "условия переходов", "default_task_spec": "переход по умолчанию",
    "outputs": "переходы", "event_definition": "событие", "cancel_activity": "прерывающее",
    "script": "скрипт", "prescript": "скрипт до", "postscript": "скрипт после",
    "operation_name": "оператор", "operation_params": "параметры оператора", "result_variable": "результат",
    "retries": "повторы", "retry_backoff_base": "повторы", "decision_table": "таблица решений",
    "data_input_associations": "данные", "data_output_associations": "данные", "io_specification": "данные",
    "spec": "подпроцесс", "variable": "данные",
}
FLOW_ASPECTS = ("sourceRef", "targetRef", "name")
ACTIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED


@dataclass
class ElementChange:
    element_id: str
    name: str
    type: str
    change: str  # added | removed | changed
    what: list[str] = field(default_factory=list)  # for "changed": the aspects, in Russian


def _label(spec) -> str:
    return spec.bpmn_name or spec.bpmn_id


def _kind(spec) -> str:
    return type(spec).__name__


def _next_ids(spec) -> list[str]:
    return sorted(o.bpmn_id for o in spec.outputs if getattr(o, "bpmn_id", None))


def _aspects(old, new, keys: list[str]) -> list[str]:
    what: list[str] = []
    for key in keys:
        if key == "extensions":  # name the properties: "свойство formJsonSchemaFilename", "bespoke:milestone"
            before, after = task_properties(old), task_properties(new)
            names = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
            what += [f"свойство {name}" for name in names] or (["свойства"] if old.extensions != new.extensions
                                                                 else [])
            continue
        if key == "outputs" and _next_ids(old) == _next_ids(new):
            continue  # only the engine's own joins and splits behind it were renamed
        label = ASPECTS.get(key)
        if label and label not in what:
            what.append(label)
    if "outputs" in keys and "условия переходов" in what:
        what.remove("переходы")
    return what


def _changes_of(registry, old, new) -> list[str]:
    """What a person would call changed between two aligned task specs (nothing for renamed internals)."""
    before, after = registry.convert(old), registry.convert(new)
    keys = [key for key, value in before.items() if after.get(key) != value]
    return ["тип"] if "typename" in keys else _aspects(old, new, keys)


def _spec_changes(registry, old_spec, new_spec) -> list[ElementChange]:
    diff = SpecDiff(registry, old_spec, new_spec)
    changes: list[ElementChange] = []
    for spec in diff.added:
        if getattr(spec, "bpmn_id", None):
            changes.append(ElementChange(spec.bpmn_id, _label(spec), _kind(spec), "added"))
    for spec in diff.removed:
        if getattr(spec, "bpmn_id", None):
            changes.append(ElementChange(spec.bpmn_id, _label(spec), _kind(spec), "removed"))
    for old, keys in diff.changed.items():
        new = diff.alignment[old]
        if not getattr(old, "bpmn_id", None):
            continue
        what = _aspects(old, new, keys)
        if old.bpmn_id != new.bpmn_id:
            what.insert(0, f"идентификатор → {new.bpmn_id}")
        if what:
            changes.append(ElementChange(old.bpmn_id, _label(new), _kind(new), "changed", what))
    return changes


def _flows(xml: str) -> dict[str, dict]:
    tree = safe_xml(xml.encode(), "bpmn")
    flows = {}
    for flow in tree.xpath("//bpmn:sequenceFlow", namespaces=NS):
        condition = flow.find("bpmn:conditionExpression", NS)
        flows[flow.get("id")] = {"sourceRef": flow.get("sourceRef"), "targetRef": flow.get("targetRef"),
                                 "name": flow.get("name") or "",
                                 "condition": (condition.text or "").strip() if condition is not None else ""}
    return flows


def _flow_changes(old_xml: str, new_xml: str) -> list[ElementChange]:
    old, new = _flows(old_xml), _flows(new_xml)
    changes = []
    for flow_id in sorted(new.keys() - old.keys()):
        changes.append(ElementChange(flow_id, new[flow_id]["name"] or flow_id, "SequenceFlow", "added"))
    for flow_id in sorted(old.keys() - new.keys()):
        changes.append(ElementChange(flow_id, old[flow_id]["name"] or flow_id, "SequenceFlow", "removed"))
    for flow_id in sorted(old.keys() & new.keys()):
        before, after = old[flow_id], new[flow_id]
        what = [{"sourceRef": "откуда", "targetRef": "куда", "name": "название"}[k]
                for k in FLOW_ASPECTS if before[k] != after[k]]
        if before["condition"] != after["condition"]:
            what.append("условие")
        if what:
            changes.append(ElementChange(flow_id, after["name"] or flow_id, "SequenceFlow", "changed", what))
    return changes


def diff_versions(registry, old: tuple, new: tuple, old_xml: str, new_xml: str) -> list[ElementChange]:
    """Elements added, removed and changed from `old` to `new` ((spec, subprocess specs) each); layout is ignored."""
    (old_spec, old_subs), (new_spec, new_subs) = old, new
    changes = _spec_changes(registry, old_spec, new_spec)
    for name, sub in old_subs.items():
        if name in new_subs:
            changes += _spec_changes(registry, sub, new_subs[name])
    changes += _flow_changes(old_xml, new_xml)
    seen, unique = set(), []
    for change in changes:  # a sub-process's own node appears in both its parent and itself
        if (change.element_id, change.change) not in seen:
            seen.add((change.element_id, change.change))
            unique.append(change)
    return unique


# -- running workflows ----------------------------------------------------------------------------------------

def _active_tasks(workflow: BpmnWorkflow):
    yield from (t for t in workflow.tasks.values() if t.state & ACTIVE)
    for sub in workflow.subprocesses.values():
        yield from (t for t in sub.tasks.values() if t.state & ACTIVE)


def _where(task) -> str:
    spec = task.task_spec
    return f"«{spec.bpmn_name or spec.bpmn_id}» ({spec.bpmn_id})" if getattr(spec, "bpmn_id", None) else spec.name


def migration_problems(registry, workflow: BpmnWorkflow, new: tuple, target: str) -> list[str]:
    """Why this workflow cannot move to `new` (a version named `target`, e.g. "v2"), in Russian; [] when it can.

    Every task that is open (READY, WAITING, STARTED) must exist in the new version, a job's task (STARTED) must
    not have changed under it, and every task the workflow has passed must still exist (its history is kept with
    the new version's specs and must load).
    """
    new_spec, new_subs = new
    top, subs = diff_workflow(registry, workflow, new_spec, new_subs)
    problems: list[str] = []
    for sp_id, sp_diff in subs.items():
        if sp_diff is None:
            sub = workflow.subprocesses[sp_id]
            problems.append(f"подпроцесс «{sub.spec.description or sub.spec.name}» отсутствует в {target}")
    for diff in [top, *(d for d in subs.values() if d is not None)]:
        for task in diff.removed:
            if task.state & ACTIVE:
                problems.append(f"задача {_where(task)} отсутствует в {target}")
            elif task.state & TaskState.FINISHED_MASK and getattr(task.task_spec, "bpmn_id", None):
                problems.append(f"пройденный шаг {_where(task)} отсутствует в {target}: историю заказа "
                                f"не загрузить в новой версии")
        for task in diff.changed:
            new_spec_of_task = diff.alignment.get(task)
            if task.state == TaskState.STARTED and new_spec_of_task is not None \
                    and _changes_of(registry, task.task_spec, new_spec_of_task):
                problems.append(f"задача {_where(task)} выполняется фоновым заданием и изменена в {target}")
    problems += _pruned_problems(workflow, new, target)
    return list(dict.fromkeys(problems))


def _pruned_problems(workflow: BpmnWorkflow, new: tuple, target: str) -> list[str]:
    """The same refusal for passed steps whose tasks the saved state no longer holds (`app.engine.pruning`)."""
    new_spec, new_subs = new
    old_specs = {workflow.spec.name: workflow.spec, **workflow.subprocess_specs}
    new_specs = {new_spec.name: new_spec, **new_subs}
    problems = []
    passed = (getattr(workflow, "bespoke_history", None) or {}).get("passed", {})
    for name, ids in passed.items():
        spec = new_specs.get(name)
        present = {getattr(t, "bpmn_id", None) for t in spec.task_specs.values()} if spec is not None else set()
        old = {getattr(t, "bpmn_id", None): t for t in old_specs[name].task_specs.values()} \
            if name in old_specs else {}
        for bpmn_id in ids:
            if bpmn_id not in present:
                task_spec = old.get(bpmn_id)
                where = f"«{task_spec.bpmn_name or bpmn_id}» ({bpmn_id})" if task_spec is not None else bpmn_id
                problems.append(f"пройденный шаг {where} отсутствует в {target}: историю заказа "
                                f"не загрузить в новой версии")
    return problems


def _waiting_timers(workflow: BpmnWorkflow) -> dict:
    """task id → (timer expression, its internal data) of every waiting timer."""
    kept = {}
    for task in _active_tasks(workflow):
        spec = task.task_spec
        event = getattr(spec, "event_definition", None)
        if task.state == TaskState.WAITING and isinstance(spec, CatchingEvent) \
                and isinstance(event, TimerEventDefinition):
            kept[task.id] = (event.expression, dict(task.internal_data))
    return kept


def migrate(registry, workflow: BpmnWorkflow, new: tuple) -> None:
    """Move the workflow (and its sub-processes) to the new version's specs, keeping its timers' due times."""
    new_spec, new_subs = new
    timers = _waiting_timers(workflow)
    top, subs = diff_workflow(registry, workflow, new_spec, new_subs)
    migrate_workflow(top, workflow, new_spec)
    for sp_id, sp_diff in subs.items():
        sub = workflow.subprocesses[sp_id]
        migrate_workflow(sp_diff, sub, new_subs[sub.spec.name])
    workflow.subprocess_specs = new_subs
    for task in _active_tasks(workflow):
        saved = timers.get(task.id)
        event = getattr(task.task_spec, "event_definition", None)
        if saved and task.state == TaskState.WAITING and getattr(event, "expression", None) == saved[0]:
            task.internal_data.update(saved[1])
