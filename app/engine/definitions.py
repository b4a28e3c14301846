"""Parsing and validating a deployment: BPMN + DMN + forms, safely, with every problem named."""
from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from typing import Callable, Iterable

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR

from app.engine.bindings import BindingRule, Bindings, binding_problems, read_bindings
from app.engine.scripting import RefusedScript, compile_expression, compile_script
from app.engine.specs import AsyncServiceTask, BespokeParser
from app.errors import DeployError

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
    "dmn": "https://www.omg.org/spec/DMN/20191111/MODEL/",
}
FORM_PROPERTY = "formJsonSchemaFilename"
UI_PROPERTY = "formUiSchemaFilename"
EXPRESSION_PROPERTIES = ("assignee", "preCompleteCheck")


@dataclass
class ParsedDefinition:
    process_id: str
    name: str
    bpmn_xml: str
    dmn_files: dict[str, str]
    forms: dict[str, dict]
    spec_dict: dict
    checksum: str
    problems: list[dict] = field(default_factory=list)


def task_properties(task_spec) -> dict[str, str]:
    """The one place that reads spiffworkflow:properties from a task spec."""
    extensions = getattr(task_spec, "extensions", None) or {}
    return dict(extensions.get("properties") or {})


def safe_xml(content: bytes, filename: str):
    """Parse untrusted XML: no DTD, no entities, no network."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             dtd_validation=False, huge_tree=False, remove_comments=False)
    try:
        tree = etree.fromstring(content, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise DeployError(f"{filename}: malformed XML: {exc}",
                          problems=[{"file": filename, "problem": f"malformed XML: {exc}"}]) from exc
    doctype = tree.getroottree().docinfo.doctype
    if doctype or tree.getroottree().docinfo.internalDTD is not None:
        raise DeployError(f"{filename}: DOCTYPE/entity declarations are not allowed",
                          problems=[{"file": filename, "problem": "DOCTYPE/entity declarations are not allowed"}])
    return tree


def _problem(problems: list, element, problem: str, file: str) -> None:
    problems.append({"file": file, "element": element.get("id") if element is not None else None,
                     "name": element.get("name") if element is not None else None, "problem": problem})


def _owner(node):
    """The nearest ancestor (or self) with an id: the BPMN element to blame."""
    while node is not None and node.get("id") is None:
        node = node.getparent()
    return node


def _check_expressions(tree, filename: str, problems: list) -> None:
    def check(nodes, compiler, text_of):
        for node in nodes:
            text = text_of(node)
            if not text or not text.strip():
                continue
            try:
                compiler(text)
            except (RefusedScript, SyntaxError) as exc:
                _problem(problems, _owner(node), f"refused by the script sandbox: {exc}", filename)

    text = lambda n: n.text  # noqa: E731
    check(tree.xpath("//bpmn:conditionExpression", namespaces=NS), compile_expression, text)
    check(tree.xpath("//bpmn:timeDate|//bpmn:timeDuration|//bpmn:timeCycle", namespaces=NS), compile_expression, text)
    check(tree.xpath("//bpmn:scriptTask/bpmn:script", namespaces=NS), compile_script, text)
    check(tree.xpath("//spiffworkflow:preScript|//spiffworkflow:postScript", namespaces=NS), compile_script, text)
    check(tree.xpath("//spiffworkflow:messagePayload", namespaces=NS), compile_expression, text)
    check(tree.xpath("//spiffworkflow:parameter[@value]", namespaces=NS), compile_expression, lambda n: n.get("value"))
    props = " or ".join(f"@name='{p}'" for p in EXPRESSION_PROPERTIES)
    check(tree.xpath(f"//spiffworkflow:property[{props}]", namespaces=NS), compile_expression, lambda n: n.get("value"))


def _check_dmn_expressions(tree, filename: str, problems: list) -> None:
    for node in tree.xpath("//*[local-name()='inputExpression' or local-name()='outputEntry']/*[local-name()='text']"):
        if node.text and node.text.strip():
            try:
                compile_expression(node.text)
            except (RefusedScript, SyntaxError) as exc:
                _problem(problems, _owner(node), f"refused by the script sandbox: {exc}", filename)
    for node in tree.xpath("//*[local-name()='inputEntry']/*[local-name()='text']"):
        entry = (node.text or "").strip()
        if entry and entry != "-":
            try:
                compile_expression(entry.replace("?", "v"))
            except (RefusedScript, SyntaxError):
                try:
                    compile_expression(f"v {entry}")
                except (RefusedScript, SyntaxError) as exc:
                    _problem(problems, _owner(node), f"refused by the script sandbox: {exc}", filename)


def _all_specs(spec, subprocess_specs):
    yield from spec.task_specs.values()
    for sub in subprocess_specs.values():
        yield from sub.task_specs.values()


def version_bindings(spec, subprocess_specs) -> Bindings:
    """The `bespoke:` bindings of every element of a version (its process and sub-processes)."""
    return read_bindings((s.bpmn_id, task_properties(s)) for s in _all_specs(spec, subprocess_specs)
                         if getattr(s, "bpmn_id", None))


def parse_definition(bpmn: bytes, bpmn_name: str, dmn_files: dict[str, bytes], form_files: dict[str, bytes],
                     *, roles: set[str], operators: set[str], serializer,
                     bindings: Iterable[BindingRule] = (),
                     form_check: Callable[[dict], list[str]] | None = None) -> ParsedDefinition:
    """Parse and validate; raise DeployError listing every problem, or return the parsed definition."""
    problems: list[dict] = []
    bpmn_tree = safe_xml(bpmn, bpmn_name)
    dmn_trees = {name: safe_xml(content, name) for name, content in sorted(dmn_files.items())}

    _check_expressions(bpmn_tree, bpmn_name, problems)
    for name, tree in dmn_trees.items():
        _check_dmn_expressions(tree, name, problems)
    for lane in bpmn_tree.xpath("//bpmn:lane", namespaces=NS):
        if lane.get("name") not in roles:
            _problem(problems, lane, f"lane '{lane.get('name')}' is not a known role "
                     f"(known: {', '.join(sorted(roles))})", bpmn_name)
    if problems:
        raise DeployError(_summary(problems), problems=problems)

    processes = bpmn_tree.xpath("//bpmn:process[@isExecutable='true']", namespaces=NS)
    if not processes:
        raise DeployError(f"{bpmn_name}: no executable bpmn:process", problems=[{"file": bpmn_name,
                          "problem": "no executable bpmn:process"}])
    process_id, process_name = processes[0].get("id"), processes[0].get("name") or processes[0].get("id")

    parser = BespokeParser(validator=VALIDATOR)
    try:
        parser.add_bpmn_xml(bpmn_tree, filename=bpmn_name)
        for name, tree in dmn_trees.items():
            parser.add_dmn_xml(tree, filename=name)
        spec = parser.get_spec(process_id)
        subprocess_specs = parser.get_subprocess_specs(process_id)
    except ValidationException as exc:
        problem = {"file": exc.file_name or bpmn_name, "element": getattr(exc, "id", None) or None,
                   "name": getattr(exc, "name", None) or None, "line": getattr(exc, "line_number", None) or None,
                   "problem": str(exc).split("\n")[0]}
        raise DeployError(_summary([problem]), problems=[problem]) from exc
    except (SpiffWorkflowException, etree.LxmlError) as exc:
        problem = {"file": bpmn_name, "problem": str(exc)}
        raise DeployError(_summary([problem]), problems=[problem]) from exc

    forms: dict[str, dict] = {}
    user_tasks: dict[str, str | None] = {}
    for task_spec in _all_specs(spec, subprocess_specs):
        element = {"element": task_spec.bpmn_id, "name": task_spec.bpmn_name}
        if isinstance(task_spec, UserTask):
            user_tasks[task_spec.bpmn_id] = task_spec.bpmn_name
            if task_spec.lane is None:
                problems.append({"file": bpmn_name, **element,
                                 "problem": "user task is not in a lane"})
            props = task_properties(task_spec)
            for prop in (FORM_PROPERTY, UI_PROPERTY):
                filename = props.get(prop)
                if filename is None:
                    if prop == FORM_PROPERTY:
                        problems.append({"file": bpmn_name, **element, "problem": f"user task has no {prop}"})
                    continue
                form, error = _load_form(filename, form_files, prop == FORM_PROPERTY, form_check)
                if error or form is None:
                    problems.append({"file": bpmn_name, **element, "problem": error})
                else:
                    forms[filename] = form
        if isinstance(task_spec, AsyncServiceTask) and task_spec.operation_name not in operators:
            problems.append({"file": bpmn_name, **element, "problem":
                             f"unknown service operator '{task_spec.operation_name}' "
                             f"(registered: {', '.join(sorted(operators))})"})
    problems += binding_problems(version_bindings(spec, subprocess_specs), user_tasks, bindings, bpmn_name)
    if problems:
        raise DeployError(_summary(problems), problems=problems)

    spec_dict = {
        "spec": serializer.to_dict(spec),
        "subprocess_specs": {name: serializer.to_dict(s) for name, s in subprocess_specs.items()},
    }
    digest = hashlib.sha256()
    digest.update(bpmn)
    for name in sorted(dmn_files):
        digest.update(name.encode() + b"\0" + dmn_files[name])
    for name in sorted(forms):
        digest.update(name.encode() + b"\0" + json.dumps(forms[name], sort_keys=True).encode())
    return ParsedDefinition(
        process_id=process_id, name=process_name, bpmn_xml=bpmn.decode("utf-8"),
        dmn_files={k: v.decode("utf-8") for k, v in dmn_files.items()}, forms=forms,
        spec_dict=spec_dict, checksum=digest.hexdigest(),
    )


def _load_form(filename: str, form_files: dict[str, bytes], validate_schema: bool,
               form_check: Callable[[dict], list[str]] | None) -> tuple[dict | None, str | None]:
    content = form_files.get(filename)
    if content is None:
        return None, f"form file '{filename}' is missing"
    try:
        form = json.loads(content)
    except ValueError as exc:
        return None, f"form file '{filename}' is not valid JSON: {exc}"
    if validate_schema:
        problem = _form_problem(json.dumps(form, sort_keys=True), form_check)
        if problem:
            return None, f"form file '{filename}'{problem}"
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
    problems = form_check(form) if form_check is not None else []
    return f": x-rules: {'; '.join(problems)}" if problems else None


def _summary(problems: list[dict]) -> str:
    first = problems[0]
    where = first.get("element") or first.get("file")
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"Deployment rejected: {where}: {first['problem']}{more}"
