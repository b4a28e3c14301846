"""Checks on the raw diagram, before SpiffWorkflow's parser sees it, so its first exception hides nothing.

Flows to missing elements, elements nothing leads to or nothing leaves, conditions the engine would ignore,
lanes that are not roles, user tasks outside every lane, scripts the sandbox refuses, forms and operators.
Each problem names the element (see app/engine/problems.py).
"""
from __future__ import annotations

import functools
import json
from typing import Callable, Iterable

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from app.engine.problems import ERROR, NS, WARNING, local, owner, problem
from app.engine.scripting import RefusedScript, compile_expression, compile_script

FORM_PROPERTY = "formJsonSchemaFilename"
UI_PROPERTY = "formUiSchemaFilename"
EXPRESSION_PROPERTIES = ("assignee", "preCompleteCheck")
ACTIVITIES = frozenset({"task", "userTask", "manualTask", "serviceTask", "scriptTask", "businessRuleTask",
                        "sendTask", "receiveTask", "callActivity", "subProcess", "transaction"})
NEEDS_BOTH = ACTIVITIES | {"exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway",
                           "complexGateway", "intermediateCatchEvent", "intermediateThrowEvent"}
CONDITIONAL_SOURCES = frozenset({"exclusiveGateway", "inclusiveGateway", "complexGateway"})


def element_properties(node) -> dict[str, str]:
    """The spiffworkflow:properties of a BPMN element in the raw XML (its own, not its children's)."""
    return {p.get("name"): p.get("value") or "" for p in
            node.xpath("./bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", namespaces=NS)}


def flow_problems(tree, filename: str) -> list[dict]:
    """Flows to or from nothing, boundary events on nothing, ids used twice (error); elements with no way in or
    out, conditions nobody evaluates (warning)."""
    problems: list[dict] = []
    nodes = {n.get("id"): n for n in tree.iter() if local(n) in NEEDS_BOTH | {"startEvent", "endEvent",
                                                                             "boundaryEvent"} and n.get("id")}
    seen: set[str] = set()
    for node in tree.iter(f"{{{NS['bpmn']}}}*"):  # spiffworkflow's `id`s (operators, parameters) name other things
        node_id = node.get("id")
        if node_id in seen:
            problems.append(problem(f"id {node_id} is used by more than one element", element=node, file=filename))
        elif node_id:
            seen.add(node_id)
    for event in tree.xpath("//bpmn:boundaryEvent", namespaces=NS):
        host = event.get("attachedToRef")
        if host not in nodes or local(nodes[host]) not in ACTIVITIES:
            what = "is not a task" if host in nodes else "does not exist"
            problems.append(problem(f"boundary event {event.get('id')} is attached to {host or 'nothing'}, which "
                                    f"{what}", element=event, file=filename, missing=host))
    incoming: set[str] = set()
    outgoing: set[str] = set()
    for flow in tree.xpath("//bpmn:sequenceFlow", namespaces=NS):
        source, target = flow.get("sourceRef"), flow.get("targetRef")
        for ref, verb in ((source, "comes from"), (target, "goes to")):
            if ref not in nodes:
                what = f"{ref}, which does not exist" if ref else "nothing"
                problems.append(problem(f"flow {flow.get('id')} {verb} {what}", element=flow, file=filename,
                                        missing=ref))
        incoming.add(target)
        outgoing.add(source)
        if flow.find(f"{{{NS['bpmn']}}}conditionExpression") is not None and source in nodes \
                and local(nodes[source]) not in CONDITIONAL_SOURCES:
            problems.append(problem(
                f"flow {flow.get('id')} has a condition but leaves {source} ({local(nodes[source])}), not an "
                "exclusive or inclusive gateway: the condition is never evaluated",
                element=flow, file=filename, severity=WARNING))
    for node_id, node in nodes.items():
        kind = local(node)
        if kind not in NEEDS_BOTH or node.get("triggeredByEvent") == "true" or node.get("isForCompensation") == "true":
            continue
        if node_id not in incoming:
            problems.append(problem(f"no flow leads to {kind} {node_id}: it can never run", element=node,
                                    file=filename, severity=WARNING))
        if node_id not in outgoing:
            problems.append(problem(f"no flow leaves {kind} {node_id}: the path ends here without an end event",
                                    element=node, file=filename, severity=WARNING))
    return problems


TASK_KINDS = {"userTask": "user task", "manualTask": "manual task", "task": "task"}
# spiff-arena's lane for whoever started the instance: its tasks are the starter's, as intended.
INITIATOR_LANES = frozenset({"process initiator", "initiator"})


def lane_problems(tree, filename: str, roles: set[str], *, strict: bool = True,
                  mapped: Iterable[str] = ()) -> list[dict]:
    """Lanes are role codes, or lanes the process's settings map to one (`mapped`); every user task sits in one
    (directly or through its sub-process).

    `strict` (the order lifecycle, which has no starter to fall back on) makes both errors; for any other process
    they are warnings: an unmapped lane's tasks and those outside every lane go to the instance's starter.
    """
    severity = ERROR if strict else WARNING
    problems: list[dict] = []
    in_lane: set[str] = set()
    mapped = set(mapped)
    for lane in tree.xpath("//bpmn:lane", namespaces=NS):
        in_lane.update(_text(ref) for ref in lane.xpath("./bpmn:flowNodeRef", namespaces=NS))
        name = lane.get("name") or ""
        if name in roles or name in mapped or (not strict and name.strip().lower() in INITIATOR_LANES):
            continue
        if strict:
            message = f"lane '{name}' is not a known role (known: {', '.join(sorted(roles))})"
        else:
            message = (f"lane '{name}' is not a role: map it to one in the process's settings, until then its "
                       "tasks go to the instance's starter")
        problems.append(problem(message, element=lane, file=filename, severity=severity))
    for task in tree.xpath("//bpmn:userTask|//bpmn:manualTask|//bpmn:task", namespaces=NS):
        chain = [task.get("id")] + [a.get("id") for a in task.iterancestors() if local(a) == "subProcess"]
        if not in_lane.intersection(chain) and (strict or tree.xpath("//bpmn:lane", namespaces=NS)):
            kind = TASK_KINDS.get(local(task), local(task))
            message = (f"{kind} {task.get('id')} is not in a lane: nobody would get it" if strict else
                       f"{kind} {task.get('id')} is not in a lane: the instance's starter gets it")
            problems.append(problem(message, element=task, file=filename, severity=severity))
    return problems


def sandbox_problems(tree, filename: str) -> list[dict]:
    """Every expression and script compiled under the sandbox, as the engine will run it."""
    problems: list[dict] = []

    def check(nodes, compiler, text_of):
        for node in nodes:
            text = text_of(node)
            if not text or not text.strip():
                continue
            try:
                compiler(text)
            except (RefusedScript, SyntaxError) as exc:
                problems.append(problem(f"refused by the script sandbox: {exc}", element=owner(node), file=filename))

    text = lambda n: n.text  # noqa: E731
    check(tree.xpath("//bpmn:conditionExpression", namespaces=NS), compile_expression, text)
    check(tree.xpath("//bpmn:timeDate|//bpmn:timeDuration|//bpmn:timeCycle", namespaces=NS), compile_expression, text)
    check(tree.xpath("//bpmn:loopCardinality|//bpmn:completionCondition", namespaces=NS), compile_expression, text)
    check(tree.xpath("//bpmn:scriptTask/bpmn:script", namespaces=NS), compile_script, text)
    check(tree.xpath("//spiffworkflow:preScript|//spiffworkflow:postScript", namespaces=NS), compile_script, text)
    check(tree.xpath("//spiffworkflow:messagePayload", namespaces=NS), compile_expression, text)
    check(tree.xpath("//spiffworkflow:parameter[@value]", namespaces=NS), compile_expression, lambda n: n.get("value"))
    props = " or ".join(f"@name='{p}'" for p in EXPRESSION_PROPERTIES)
    check(tree.xpath(f"//spiffworkflow:property[{props}]", namespaces=NS), compile_expression, lambda n: n.get("value"))
    return problems


def dmn_sandbox_problems(tree, filename: str) -> list[dict]:
    problems: list[dict] = []
    for node in tree.xpath("//*[local-name()='inputExpression' or local-name()='outputEntry']/*[local-name()='text']"):
        if node.text and node.text.strip():
            try:
                compile_expression(node.text)
            except (RefusedScript, SyntaxError) as exc:
                problems.append(problem(f"refused by the script sandbox: {exc}", element=_with_id(node), file=filename))
    for node in tree.xpath("//*[local-name()='inputEntry']/*[local-name()='text']"):
        entry = (node.text or "").strip()
        if entry and entry != "-":
            try:
                compile_expression(entry.replace("?", "v"))
            except (RefusedScript, SyntaxError):
                try:
                    compile_expression(f"v {entry}")
                except (RefusedScript, SyntaxError) as exc:
                    problems.append(problem(f"refused by the script sandbox: {exc}", element=_with_id(node),
                                            file=filename))
    return problems


def operator_problems(tree, filename: str, operators: set[str]) -> list[dict]:
    return [problem(f"unknown service operator '{op.get('id')}' (registered: {', '.join(sorted(operators))})",
                    element=owner(op), file=filename, operator=op.get("id"))
            for op in tree.xpath("//bpmn:serviceTask//spiffworkflow:serviceTaskOperator", namespaces=NS)
            if op.get("id") not in operators]


def decision_problems(tree, filename: str, dmn_trees: dict) -> list[dict]:
    """Every business rule task calls a decision one of the DMN files defines."""
    decisions = {d.get("id") for t in dmn_trees.values() for d in t.xpath("//*[local-name()='decision']")}
    return [problem(f"business rule task calls decision '{_text(called)}', which no DMN file defines"
                    f" (defined: {', '.join(sorted(decisions)) or 'none'})", element=owner(called), file=filename)
            for called in tree.xpath("//bpmn:businessRuleTask//spiffworkflow:calledDecisionId", namespaces=NS)
            if _text(called) not in decisions]


def form_problems(tree, filename: str, form_files: dict[str, bytes],
                  form_check: Callable[[dict], list[str]] | None, *,
                  formless_warning: bool = False) -> tuple[list[dict], dict[str, dict]]:
    """(problems, the forms the diagram uses): each user task's and start event's form and UI schema, named by
    the element. A user task without a form shows its documentation and a «Готово» button — valid; with
    `formless_warning` (the order lifecycle, where every stage records something) it is pointed out."""
    problems: list[dict] = []
    forms: dict[str, dict] = {}
    for task in tree.xpath("//bpmn:userTask|//bpmn:startEvent", namespaces=NS):
        props = element_properties(task)
        for prop in (FORM_PROPERTY, UI_PROPERTY):
            form_name = props.get(prop)
            if not form_name:
                if formless_warning and prop == FORM_PROPERTY and local(task) == "userTask":
                    problems.append(problem(f"user task has no form ({prop}): people will see only its "
                                            "documentation and «Готово»", element=task, file=filename,
                                            severity=WARNING))
                continue
            form, error = _load_form(form_name, form_files, prop == FORM_PROPERTY, form_check)
            if error or form is None:
                problems.append(problem(error or f"form file '{form_name}' is empty", element=task, file=filename,
                                        form=form_name))
            else:
                forms[form_name] = form
    return problems, forms


def _load_form(form_name: str, form_files: dict[str, bytes], validate_schema: bool,
               form_check: Callable[[dict], list[str]] | None) -> tuple[dict | None, str | None]:
    content = form_files.get(form_name)
    if content is None:
        return None, f"form file '{form_name}' is missing"
    try:
        form = json.loads(content)
    except ValueError as exc:
        return None, f"form file '{form_name}' is not valid JSON: {exc}"
    if validate_schema:
        if not isinstance(form, dict):
            return None, f"form file '{form_name}' is not a JSON Schema object"
        trouble = _form_problem(json.dumps(form, sort_keys=True), form_check)
        if trouble:
            return None, f"form file '{form_name}'{trouble}"
    return form, None


@functools.lru_cache(maxsize=512)
def _form_problem(canonical: str, form_check: Callable[[dict], list[str]] | None) -> str | None:
    """What is wrong with a form's schema or its rules (`form_check`, the app's x-rules check); remembered by
    content, since checking a schema against the metaschema costs ~20 ms and every deploy (every test, too)
    checks the same unchanged forms."""
    form = json.loads(canonical)
    try:
        Draft202012Validator.check_schema(form)
    except SchemaError as exc:
        return f" is not a valid JSON Schema: {exc.message}"
    troubles = form_check(form) if form_check is not None else []
    return f": x-rules: {'; '.join(troubles)}" if troubles else None


def _with_id(node):
    while node is not None and node.get("id") is None:
        node = node.getparent()
    return node


def _text(node) -> str:
    return (node.text or "").strip()

