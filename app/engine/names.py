"""Which names a diagram's conditions and scripts read, and whether anything defines them before they are read.

Read from the raw XML (so it runs even when SpiffWorkflow's parser refuses the diagram): every gateway condition,
script, pre/post script, timer, message payload, service task parameter, multi-instance expression and the
`assignee`/`preCompleteCheck` properties, plus the input expressions of the DMN decisions a business rule task
calls. A name is defined by a user task's form field (any branch of its JSON Schema), a script's assignment, a DMN
result, a service task's `resultVariable`, a message variable, a multi-instance data item, a data object, the start
data or the script environment (`known`). Defined nowhere → error; defined only by elements that cannot run before
the reader along the flows → warning.

"Before" is generous — an element counts as running before itself, a boundary event after its task, an event
sub-process after anything beside it — so a warning is a likely mistake, never a guess. While a user task's form or
a called decision cannot be read, a name nothing defines is only a warning (that form may define it); while a flow
goes nowhere, the order is not judged at all.
"""
from __future__ import annotations

import json
from collections import defaultdict, deque
from typing import Iterable

from app.engine.checks import FORM_PROPERTY
from app.engine.problems import ERROR, FLOW_NODES, NS, WARNING, local, owner, problem
from app.engine.scripting import script_names

EXPRESSION_PROPERTIES = ("assignee", "preCompleteCheck")
_SCHEMA_BRANCHES = ("allOf", "anyOf", "oneOf")
_SCHEMA_ONE = ("if", "then", "else", "not")


def form_fields(schema) -> set[str]:
    """The top-level field names a form can submit: `properties`, in every if/then/else/allOf/… branch too."""
    if not isinstance(schema, dict):
        return set()
    fields = set(schema.get("properties") or {}) if isinstance(schema.get("properties"), dict) else set()
    for key in _SCHEMA_BRANCHES:
        for branch in schema.get(key) or []:
            fields |= form_fields(branch)
    for key in _SCHEMA_ONE:
        fields |= form_fields(schema.get(key))
    for branch in (schema.get("dependentSchemas") or {}).values():
        fields |= form_fields(branch)
    return fields


class _Diagram:
    """The flow graph of a BPMN document: which element can run after which."""

    def __init__(self, tree) -> None:
        self.nodes = {n.get("id"): n for n in tree.iter() if local(n) and n.get("id")}
        self.after: dict[str, set[str]] = defaultdict(set)
        self.broken = False  # a flow to or from nothing: what runs before what is anyone's guess
        for flow in tree.xpath("//bpmn:sequenceFlow", namespaces=NS):
            self.after[flow.get("sourceRef")].add(flow.get("targetRef"))
            self.broken |= flow.get("sourceRef") not in self.nodes or flow.get("targetRef") not in self.nodes
        for event in tree.xpath("//bpmn:boundaryEvent[@attachedToRef]", namespaces=NS):
            self.after[event.get("attachedToRef")].add(event.get("id"))
        for sub in tree.xpath("//bpmn:subProcess[@triggeredByEvent='true']", namespaces=NS):
            for sibling in sub.getparent():  # an event sub-process may start while anything beside it runs
                if local(sibling) in FLOW_NODES and sibling is not sub and sibling.get("id"):
                    self.after[sibling.get("id")].add(sub.get("id"))
        for sub in tree.xpath("//bpmn:subProcess", namespaces=NS):
            leaving = set(self.after[sub.get("id")])
            for child in sub:
                if local(child) == "startEvent":
                    self.after[sub.get("id")].add(child.get("id"))
                elif local(child) == "endEvent":
                    self.after[child.get("id")] |= leaving
        self._reach: dict[str, set[str]] = {}

    def reachable(self, start: str) -> set[str]:
        """Every element that can run after `start` (itself included: a loop, or its own later step)."""
        if start not in self._reach:
            seen, queue = {start}, deque([start])
            while queue:
                for nxt in self.after.get(queue.popleft(), ()):
                    if nxt not in seen:
                        seen.add(nxt)
                        queue.append(nxt)
            self._reach[start] = seen
        return self._reach[start]


def _text(node) -> str:
    return (node.text or "").strip()


def _definers(tree, forms: dict[str, dict], decisions: dict[str, set[str]]) -> tuple[dict[str, set[str]], bool]:
    """(name → ids of the elements that define it, whether every user task's form and called decision was found)."""
    defined: dict[str, set[str]] = defaultdict(set)
    complete = True

    def add(names: Iterable[str], node) -> None:
        where = owner(node)
        for name in names:
            defined[name].add(where.get("id") if where is not None else "")

    for task in tree.xpath("//bpmn:userTask|//bpmn:startEvent", namespaces=NS):
        filename = next((p.get("value") for p in task.xpath(".//spiffworkflow:property", namespaces=NS)
                         if p.get("name") == FORM_PROPERTY), None)
        if filename:  # a user task without a form defines nothing (it shows its documentation and «Готово»)
            complete &= filename in forms
            add(form_fields(forms.get(filename)), task)
    for script in tree.xpath("//bpmn:scriptTask/bpmn:script|//spiffworkflow:preScript|//spiffworkflow:postScript",
                             namespaces=NS):
        try:
            add(script_names(_text(script))[1], script)
        except SyntaxError:
            pass  # the sandbox check reports it
    for operator in tree.xpath("//spiffworkflow:serviceTaskOperator[@resultVariable]", namespaces=NS):
        add([operator.get("resultVariable")], operator)
    for called in tree.xpath("//bpmn:businessRuleTask//spiffworkflow:calledDecisionId", namespaces=NS):
        complete &= _text(called) in decisions
        add(decisions.get(_text(called), set()), called)
    for variable in tree.xpath("//spiffworkflow:messageVariable", namespaces=NS):
        add([_text(variable)], variable)
    for item in tree.xpath("//bpmn:inputDataItem|//bpmn:outputDataItem", namespaces=NS):
        add([item.get("name") or item.get("id")], item)
    for ref in tree.xpath("//bpmn:loopDataOutputRef", namespaces=NS):
        add([_text(ref)], ref)
    return defined, complete


def _readers(tree, decision_inputs: dict[str, list[str]]):
    """(element blamed, where it runs, what it is, source, mode) for every expression and script."""
    for condition in tree.xpath("//bpmn:sequenceFlow/bpmn:conditionExpression", namespaces=NS):
        flow = condition.getparent()
        yield flow, flow.get("sourceRef"), "condition", _text(condition), "eval"
    for timer in tree.xpath("//bpmn:timeDate|//bpmn:timeDuration|//bpmn:timeCycle", namespaces=NS):
        yield owner(timer), None, "timer", _text(timer), "eval"
    scripts = {"script": "//bpmn:scriptTask/bpmn:script", "pre-script": "//spiffworkflow:preScript",
               "post-script": "//spiffworkflow:postScript"}
    for kind, path in scripts.items():
        for script in tree.xpath(path, namespaces=NS):
            yield owner(script), None, kind, _text(script), "exec"
    for payload in tree.xpath("//spiffworkflow:messagePayload", namespaces=NS):
        yield owner(payload), None, "message payload", _text(payload), "eval"
    for parameter in tree.xpath("//spiffworkflow:parameter[@value]", namespaces=NS):
        yield owner(parameter), None, f"parameter '{parameter.get('id')}'", parameter.get("value") or "", "eval"
    for prop in tree.xpath("//spiffworkflow:property", namespaces=NS):
        if prop.get("name") in EXPRESSION_PROPERTIES:
            yield owner(prop), None, prop.get("name"), prop.get("value") or "", "eval"
    for expression in tree.xpath("//bpmn:loopCardinality|//bpmn:completionCondition|//bpmn:loopDataInputRef",
                                 namespaces=NS):
        yield owner(expression), None, local(expression), _text(expression), "eval"
    for called in tree.xpath("//bpmn:businessRuleTask//spiffworkflow:calledDecisionId", namespaces=NS):
        for text in decision_inputs.get(_text(called), []):
            yield owner(called), None, f"decision '{_text(called)}' input", text, "eval"


def decision_names(dmn_trees: dict) -> tuple[dict[str, set[str]], dict[str, list[str]]]:
    """For each DMN decision id: the names its results define (`sla.new_order` defines `sla`), its input expressions."""
    results: dict[str, set[str]] = {}
    inputs: dict[str, list[str]] = {}
    for tree in dmn_trees.values():
        for decision in tree.xpath("//*[local-name()='decision']"):
            outputs = decision.xpath(".//*[local-name()='output']")
            results[decision.get("id")] = {(o.get("name") or "").split(".")[0] for o in outputs} - {""}
            inputs[decision.get("id")] = [t.text.strip() for t in decision.xpath(
                ".//*[local-name()='inputExpression']/*[local-name()='text']") if t.text and t.text.strip()]
    return results, inputs


def name_problems(tree, filename: str, forms: dict[str, dict], dmn_trees: dict, known: Iterable[str], *,
                  start_data_open: bool = False) -> list[dict]:
    """Every name read that nothing defines (error) or that only later elements define (warning).

    `start_data_open`: the process is started with whatever data its starter sends, so a name nothing defines may
    come with it — a warning, not an error.
    """
    results, inputs = decision_names(dmn_trees)
    defined, complete = _definers(tree, forms, results)
    always = set(known) | {data.get("id") for data in tree.xpath("//bpmn:dataObject", namespaces=NS)}
    diagram = _Diagram(tree)
    problems: list[dict] = []
    for element, runs_at, kind, source, mode in _readers(tree, inputs):
        if not source or element is None:
            continue
        try:
            read = script_names(source, mode)[0]
        except SyntaxError:
            continue  # the sandbox check reports it
        where = runs_at or element.get("id")
        for name in sorted(read - always):
            definers = defined.get(name, set())
            if not definers:  # with a form or decision missing, it may define it: a warning until it is back
                problems.append(problem(
                    f"{kind} reads '{name}', which no form field, start datum, script or result defines"
                    + ("" if complete else " (unless a form or decision that could not be read does)")
                    + (": it must come with the start data" if start_data_open else ""),
                    element=element, file=filename, severity=ERROR if complete and not start_data_open else WARNING,
                    variable=name))
            elif not diagram.broken and not any(where in diagram.reachable(d) for d in definers):
                problems.append(problem(
                    f"{kind} reads '{name}', which only {', '.join(sorted(definers))} define(s), "
                    "and none of them can run before it", element=element, file=filename, severity=WARNING,
                    variable=name))
    return problems


def load_forms(form_files: dict[str, bytes]) -> dict[str, dict]:
    """The form files that parse as JSON objects (the form checks report the others)."""
    forms: dict[str, dict] = {}
    for name, content in form_files.items():
        try:
            form = json.loads(content)
        except ValueError:
            continue
        if isinstance(form, dict):
            forms[name] = form
    return forms
