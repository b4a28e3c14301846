"""Parsing and validating a deployment: BPMN + DMN + forms, safely, with every problem named.

`inspect_definition` runs every check in one pass (the raw diagram first: app/engine/checks.py, names.py; then
SpiffWorkflow's parser) and returns errors and warnings alike; `parse_definition` refuses on any error.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

from lxml import etree

from app.engine import checks
from app.engine.bindings import BindingRule, Bindings, binding_problems, read_bindings
from app.engine.checks import element_properties
from app.engine.names import load_forms, name_problems
from app.engine.problems import FLOW_NODES, NS, local, owner, problem
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
    bpmn_name: str = ""
    bpmn_files: dict[str, str] = field(default_factory=dict)  # the other BPMN files its call activities need


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


def file_problems(tree, filename: str, dmn_trees: dict, form_files: dict[str, bytes], *, roles: set[str],
                  operators: set[str], bindings: Iterable[BindingRule] = (),
                  form_check: Callable[[dict], list[str]] | None = None, known_names: Iterable[str] | None = None,
                  strict: bool = True, mapped_lanes: Iterable[str] = ()) -> tuple[list[dict], dict[str, dict]]:
    """(problems, forms used) of one BPMN file, before SpiffWorkflow's parse.

    `known_names` are the names every script may read without a definition in the diagram (the start data, the
    script environment); without them the names are not analysed. `strict` (the order lifecycle): lanes must be
    roles and every name read must be defined somewhere — errors; otherwise warnings (a lane nobody mapped goes to
    the starter, a name may come with the start data). `mapped_lanes`: lane names the process's settings map to
    roles.
    """
    problems = checks.flow_problems(tree, filename)
    problems += unsupported_problems(tree, filename)
    problems += checks.lane_problems(tree, filename, roles, strict=strict, mapped=mapped_lanes)
    problems += checks.sandbox_problems(tree, filename)
    problems += checks.operator_problems(tree, filename, operators)
    problems += checks.decision_problems(tree, filename, dmn_trees)
    form_problems, forms = checks.form_problems(tree, filename, form_files, form_check, formless_warning=strict)
    problems += form_problems
    problems += binding_problems(*_raw_bindings(tree), bindings, filename, _element_names(tree))
    if known_names is not None:
        problems += name_problems(tree, filename, load_forms(form_files), dmn_trees, known_names,
                                  start_data_open=not strict)
    return problems, forms


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


def lane_names(bpmn: bytes | str) -> list[str]:
    """The names of the diagram's lanes, its sub-processes' too, in the order drawn (each once); [] when the file
    is not readable."""
    try:
        tree = safe_xml(bpmn.encode() if isinstance(bpmn, str) else bpmn, "")
    except UnreadableXML:
        return []
    names = (str(lane.get("name") or "").strip() for lane in tree.xpath("//bpmn:lane", namespaces=NS))
    return list(dict.fromkeys(name for name in names if name))
