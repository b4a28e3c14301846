"""Parsing and validating a deployment: BPMN + DMN + forms, safely, with every problem named.

`inspect_definition` runs every check in one pass (the raw diagram first: app/engine/checks.py, names.py; then
SpiffWorkflow's parser) and returns errors and warnings alike; `parse_definition` refuses on any error.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Callable, Iterable

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR

from app.engine import checks
from app.engine.bindings import BindingRule, Bindings, binding_problems, read_bindings
from app.engine.checks import element_properties
from app.engine.names import load_forms, name_problems
from app.engine.problems import FLOW_NODES, NS, errors, local, owner, problem, summary
from app.engine.specs import BespokeParser
from app.engine.unsupported import unsupported_problems
from app.errors import DeployError


@dataclass
class ParsedDefinition:
    """A version ready to store: its files, serialized spec, checksum and the warnings validation left."""

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


class UnreadableXML(DeployError):
    """A file that is not XML we accept (malformed, or with a DOCTYPE): nothing else can be checked in it."""

    def __init__(self, reason: str, filename: str) -> None:
        found = problem(reason, file=filename, unreadable=True)
        super().__init__(f"{filename}: {reason}", problems=[found])
        self.problem = found


def safe_xml(content: bytes, filename: str):
    """Parse untrusted XML: no DTD, no entities, no network; UnreadableXML says why not."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             dtd_validation=False, huge_tree=False, remove_comments=False)
    try:
        tree = etree.fromstring(content, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise UnreadableXML(f"malformed XML: {exc}", filename) from exc
    if tree is None:
        raise UnreadableXML("malformed XML: the file is empty", filename)
    docinfo = tree.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise UnreadableXML("DOCTYPE/entity declarations are not allowed", filename)
    return tree


def _all_specs(spec, subprocess_specs):
    yield from spec.task_specs.values()
    for sub in subprocess_specs.values():
        yield from sub.task_specs.values()


def version_bindings(spec, subprocess_specs) -> Bindings:
    """The `bespoke:` bindings of every element of a version (its process and sub-processes)."""
    return read_bindings((s.bpmn_id, task_properties(s)) for s in _all_specs(spec, subprocess_specs)
                         if getattr(s, "bpmn_id", None))


@dataclass
class Inspection:
    """Everything validation found; `parsed` is None when an error stopped the version from being built."""

    problems: list[dict]
    parsed: ParsedDefinition | None = None

    @property
    def errors(self) -> list[dict]:
        return errors(self.problems)


def inspect_definition(bpmn: bytes, bpmn_name: str, dmn_files: dict[str, bytes], form_files: dict[str, bytes],
                       *, roles: set[str], operators: set[str], serializer,
                       bindings: Iterable[BindingRule] = (),
                       form_check: Callable[[dict], list[str]] | None = None,
                       known_names: Iterable[str] | None = None,
                       strict: bool = True, mapped_lanes: Iterable[str] = ()) -> Inspection:
    """Run every check in one pass and collect every problem (errors and warnings), never raising for them.

    `known_names` are the names every script may read without a definition in the diagram (the start data, the
    script environment); without them the names are not analysed. `strict` (the order lifecycle): lanes must be
    roles and every name read must be defined somewhere — errors; otherwise warnings (a lane nobody mapped goes to
    the starter, a name may come with the start data). `mapped_lanes`: lane names the process's settings map to
    roles. A bpmn that is not XML at all is one `unreadable` problem and nothing else can be checked.
    """
    try:
        bpmn_tree = safe_xml(bpmn, bpmn_name)
    except UnreadableXML as exc:
        return Inspection([exc.problem])
    if bpmn_tree.tag != f"{{{NS['bpmn']}}}definitions":
        return Inspection([problem(f"not a BPMN diagram: the root element is <{local(bpmn_tree) or '?'}>, "
                                   "not bpmn:definitions", file=bpmn_name, unreadable=True)])
    problems: list[dict] = []
    dmn_trees = {}
    for name, content in sorted(dmn_files.items()):
        try:
            dmn_trees[name] = safe_xml(content, name)
        except UnreadableXML as exc:
            problems.append({key: value for key, value in exc.problem.items() if key != "unreadable"})
    problems += checks.flow_problems(bpmn_tree, bpmn_name)
    problems += unsupported_problems(bpmn_tree, bpmn_name)
    problems += checks.lane_problems(bpmn_tree, bpmn_name, roles, strict=strict, mapped=mapped_lanes)
    problems += checks.sandbox_problems(bpmn_tree, bpmn_name)
    for name, tree in dmn_trees.items():
        problems += checks.dmn_sandbox_problems(tree, name)
    problems += checks.operator_problems(bpmn_tree, bpmn_name, operators)
    problems += checks.decision_problems(bpmn_tree, bpmn_name, dmn_trees)
    form_problems, forms = checks.form_problems(bpmn_tree, bpmn_name, form_files, form_check)
    problems += form_problems
    problems += binding_problems(*_raw_bindings(bpmn_tree), bindings, bpmn_name, _element_names(bpmn_tree))
    if known_names is not None:
        problems += name_problems(bpmn_tree, bpmn_name, load_forms(form_files), dmn_trees, known_names,
                                  start_data_open=not strict)

    processes = bpmn_tree.xpath("//bpmn:process[@isExecutable='true']", namespaces=NS)
    if not processes:
        problems.append(problem("no executable bpmn:process in the diagram", file=bpmn_name))
        return Inspection(problems)
    process_id, process_name = processes[0].get("id"), processes[0].get("name") or processes[0].get("id")
    specs = _spiff_specs(bpmn_tree, bpmn_name, dmn_trees, process_id, problems)
    if specs is None or errors(problems) or len(dmn_trees) < len(dmn_files):
        return Inspection(problems)
    spec, subprocess_specs = specs
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
    return Inspection(problems, ParsedDefinition(
        process_id=process_id, name=process_name, bpmn_xml=bpmn.decode("utf-8"),
        dmn_files={k: v.decode("utf-8") for k, v in dmn_files.items()}, forms=forms,
        spec_dict=spec_dict, checksum=digest.hexdigest(), problems=problems,
    ))


def parse_definition(bpmn: bytes, bpmn_name: str, dmn_files: dict[str, bytes], form_files: dict[str, bytes],
                     **checks_with) -> ParsedDefinition:
    """Parse and validate; raise DeployError listing every problem when any is an error, else return the parsed
    definition (its `problems` are the warnings). Keywords as `inspect_definition`."""
    inspection = inspect_definition(bpmn, bpmn_name, dmn_files, form_files, **checks_with)
    if inspection.errors or inspection.parsed is None:
        raise DeployError(summary(inspection.problems), problems=inspection.problems)
    return inspection.parsed


def _spiff_specs(bpmn_tree, bpmn_name: str, dmn_trees: dict, process_id: str, problems: list[dict]):
    """SpiffWorkflow's own parse; its refusal becomes a problem on its element unless one is already there."""
    parser = BespokeParser(validator=VALIDATOR)
    try:
        parser.add_bpmn_xml(bpmn_tree, filename=bpmn_name)
        for name, tree in dmn_trees.items():
            parser.add_dmn_xml(tree, filename=name)
        return parser.get_spec(process_id), parser.get_subprocess_specs(process_id)
    except ValidationException as exc:
        line = getattr(exc, "line_number", None) or None
        element = _element_at(bpmn_tree, line) if not getattr(exc, "id", None) else None
        element_id = getattr(exc, "id", None) or (element.get("id") if element is not None else None)
        caused = [p for p in errors(problems) if element_id is None or p["element_id"] == element_id or "missing" in p]
        if not caused:  # else an earlier error (on the element, or a flow to nothing) says it better
            problems.append({"element_id": element_id,
                             "name": getattr(exc, "name", None) or (element.get("name") if element is not None
                                                                    else None),
                             "message": str(exc).split("\n")[0], "severity": "error",
                             "file": exc.file_name or bpmn_name, "line": line})
    except (SpiffWorkflowException, etree.LxmlError, KeyError, AttributeError, TypeError) as exc:
        if not errors(problems):  # an earlier error (a flow to nothing, say) is the likelier cause
            problems.append(problem(f"SpiffWorkflow cannot read the diagram: {exc}", file=bpmn_name))
    return None


def _element_at(tree, line: int | None):
    """The BPMN element (flow node, flow, lane) written on this line of the file, if any (the schema check only
    knows the line)."""
    node = next((n for n in tree.iter() if line and n.sourceline == line and local(n)), None)
    return owner(node) if node is not None else None


def _raw_bindings(tree) -> tuple[Bindings, dict[str, str | None]]:
    """The `bespoke:` bindings declared in the XML and the user tasks (id → name) they may sit on."""
    elements = [n for n in tree.iter() if local(n) in FLOW_NODES and n.get("id")]
    user_tasks = {n.get("id"): n.get("name") for n in elements if local(n) == "userTask"}
    return read_bindings((n.get("id"), element_properties(n)) for n in elements), user_tasks


def _element_names(tree) -> dict[str, str | None]:
    return {n.get("id"): n.get("name") for n in tree.iter() if local(n) in FLOW_NODES and n.get("id")}


def executable_process_id(bpmn: bytes) -> str | None:
    """The id of the diagram's executable process, if the bpmn is readable and has one."""
    try:
        tree = safe_xml(bpmn, "")
    except UnreadableXML:
        return None
    found = tree.xpath("//bpmn:process[@isExecutable='true']/@id", namespaces=NS)
    return str(found[0]) if found else None
