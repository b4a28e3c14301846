"""A deploy of several BPMN files: one SpiffWorkflow parse, so call activities resolve inside the bundle and against
processes already deployed (the `library`: their files, given by the caller), and one version per executable
process of the bundle, each with the sub-process specs it calls and the other files it needs."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Callable

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR

from app.engine import checks
from app.engine.definitions import ParsedDefinition, UnreadableXML, _element_at, file_problems, safe_xml
from app.engine.problems import NS, errors, local, problem, summary
from app.engine.specs import BespokeParser
from app.errors import DeployError


@dataclass
class BundleInspection:
    """Everything validation found in a bundle; `parsed` (one per executable process) is empty on any error."""

    problems: list[dict]
    parsed: list[ParsedDefinition] = field(default_factory=list)
    main: str | None = None  # the process no other process of the bundle calls

    @property
    def errors(self) -> list[dict]:
        return errors(self.problems)

    @property
    def main_definition(self) -> ParsedDefinition | None:
        return next((p for p in self.parsed if p.process_id == self.main), None)


def _trees(files: dict[str, bytes]) -> dict:
    found = {}
    for name, content in files.items():
        try:
            found[name] = safe_xml(content, name)
        except UnreadableXML:
            continue
    return found


def _executable(tree) -> list:
    return tree.xpath("//bpmn:process[@isExecutable='true']", namespaces=NS)


def bundle_process_ids(bpmn_files: dict[str, bytes]) -> dict[str, str]:
    """{process id: file name} of every executable process in these files (unreadable files left out)."""
    return {p.get("id"): name for name, tree in _trees(bpmn_files).items() for p in _executable(tree)}


def called_processes(bpmn_files: dict[str, bytes]) -> set[str]:
    """The process ids the call activities of these files call."""
    return {str(c) for tree in _trees(bpmn_files).values()
            for c in tree.xpath("//bpmn:callActivity/@calledElement", namespaces=NS) if str(c)}


def _process_ids(tree) -> set[str]:
    return {str(i) for i in tree.xpath("//bpmn:process/@id", namespaces=NS)}


def inspect_bundle(bpmn_files: dict[str, bytes], dmn_files: dict[str, bytes], form_files: dict[str, bytes], *,
                   serializer, checks_for: Callable[[str], dict], library: dict[str, bytes] | None = None
                   ) -> BundleInspection:
    """Run every check on every file of the bundle and parse them together; never raising for a problem.

    `checks_for(process_id)` gives `file_problems`' keywords for the file whose executable process that is (the
    order lifecycle is checked strictly). `library`: the BPMN files of deployed processes the bundle calls, parsed
    with it but not deployed again. A file that is not XML at all is one `unreadable` problem.
    """
    problems: list[dict] = []
    trees = {}
    for name, content in bpmn_files.items():
        try:
            tree = safe_xml(content, name)
        except UnreadableXML as exc:
            problems.append(exc.problem)
            continue
        if tree.tag != f"{{{NS['bpmn']}}}definitions":
            problems.append(problem(f"not a BPMN diagram: the root element is <{local(tree) or '?'}>, "
                                    "not bpmn:definitions", file=name, unreadable=True))
            continue
        trees[name] = tree
    if len(trees) < len(bpmn_files):
        return BundleInspection(problems)
    dmn_trees = {}
    for name, content in sorted(dmn_files.items()):
        try:
            dmn_trees[name] = safe_xml(content, name)
        except UnreadableXML as exc:
            problems.append({key: value for key, value in exc.problem.items() if key != "unreadable"})
    for tree_name, tree in dmn_trees.items():
        problems += checks.dmn_sandbox_problems(tree, tree_name)
    library_trees = {name: tree for name, tree in _trees(library or {}).items() if name not in trees}
    forms_by_file: dict[str, dict[str, dict]] = {}
    owners: dict[str, str] = {}  # executable process id → its bundle file
    for name, tree in trees.items():
        executable = _executable(tree)
        for process in executable:
            if process.get("id") in owners:
                problems.append(problem(f"process '{process.get('id')}' is also in {owners[process.get('id')]}",
                                        element=process, file=name))
            owners.setdefault(process.get("id"), name)
        found, forms_by_file[name] = file_problems(tree, name, dmn_trees, form_files,
                                                   **checks_for(executable[0].get("id") if executable else ""))
        problems += found
    for name, tree in library_trees.items():
        forms_by_file[name] = checks.form_problems(tree, name, form_files, None)[1]
    problems += _call_problems(trees, library_trees)
    if not owners:
        problems.append(problem("no executable bpmn:process in the diagram", file=next(iter(bpmn_files), None)))
    if errors(problems) or len(dmn_trees) < len(dmn_files):
        return BundleInspection(problems)
    specs = _spiff_specs(trees, library_trees, dmn_trees, list(owners), problems)
    if specs is None or errors(problems):
        return BundleInspection(problems)
    file_of = {pid: name for name, tree in {**library_trees, **trees}.items() for pid in _process_ids(tree)}
    called = {sub for _spec, subs in specs.values() for sub in subs}
    parsed = []
    for process_id, (spec, subs) in specs.items():
        own = owners[process_id]
        needed = sorted({file_of[s] for s in subs if s in file_of} - {own})
        files = {**bpmn_files, **(library or {})}
        forms: dict[str, dict] = {}
        for name in [*needed, own]:
            forms.update(forms_by_file.get(name, {}))
        digest = hashlib.sha256()
        digest.update(bpmn_files[own])
        for name in needed:
            digest.update(b"\0bpmn\0" + name.encode() + b"\0" + files[name])
        for name in sorted(dmn_files):
            digest.update(name.encode() + b"\0" + dmn_files[name])
        for name in sorted(forms):
            digest.update(name.encode() + b"\0" + json.dumps(forms[name], sort_keys=True).encode())
        process = next(p for p in _executable(trees[own]) if p.get("id") == process_id)
        parsed.append(ParsedDefinition(
            process_id=process_id, name=process.get("name") or process_id, bpmn_xml=bpmn_files[own].decode("utf-8"),
            dmn_files={k: v.decode("utf-8") for k, v in dmn_files.items()}, forms=forms,
            spec_dict={"spec": serializer.to_dict(spec),
                       "subprocess_specs": {n: serializer.to_dict(s) for n, s in subs.items()}},
            checksum=digest.hexdigest(), problems=problems, bpmn_name=own,
            bpmn_files={name: files[name].decode("utf-8") for name in needed}))
    main = next((pid for pid in owners if pid not in called), next(iter(owners)))
    return BundleInspection(problems, parsed, main)


def _call_problems(trees: dict, library_trees: dict) -> list[dict]:
    """A call activity whose process is neither in the bundle nor deployed, or that calls its own process again
    (directly or through others: every instance would start another one, for ever), named on its element."""
    known = set().union(*(_process_ids(t) for t in [*trees.values(), *library_trees.values()]))
    calls = _call_graph([*trees.values(), *library_trees.values()])
    found = []
    for name, tree in trees.items():
        for call in tree.xpath("//bpmn:callActivity", namespaces=NS):
            target = call.get("calledElement") or ""
            caller = next((p.get("id") for p in call.iterancestors(f"{{{NS['bpmn']}}}process")), None)
            if not target:
                found.append(problem("the call activity names no process to call (calledElement)", element=call,
                                     file=name))
            elif target not in known:
                found.append(problem(f"calls '{target}', which is neither in this deploy nor deployed",
                                     element=call, file=name, called=target))
            elif caller and caller in _reachable(calls, target):
                found.append(problem(f"calls '{target}', which calls '{caller}' again: the calls would never end",
                                     element=call, file=name, called=target))
    return found


def _call_graph(trees: list) -> dict[str, set[str]]:
    """{process id: the process ids its call activities call}."""
    graph: dict[str, set[str]] = {}
    for tree in trees:
        for process in tree.xpath("//bpmn:process", namespaces=NS):
            graph.setdefault(process.get("id"), set()).update(
                str(c) for c in process.xpath(".//bpmn:callActivity/@calledElement", namespaces=NS) if str(c))
    return graph


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    """`start` and every process it calls, directly or through others."""
    seen, todo = set(), [start]
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(graph.get(current, ()))
    return seen


def _spiff_specs(trees: dict, library_trees: dict, dmn_trees: dict, process_ids: list[str], problems: list[dict]):
    """{process id: (spec, sub-process specs)} from SpiffWorkflow's own parse; its refusal becomes a problem on its
    element unless an earlier one is already there."""
    parser = BespokeParser(validator=VALIDATOR)
    try:
        for name, tree in {**trees, **library_trees}.items():
            parser.add_bpmn_xml(tree, filename=name)
        for name, tree in dmn_trees.items():
            parser.add_dmn_xml(tree, filename=name)
        return {pid: (parser.get_spec(pid), parser.get_subprocess_specs(pid)) for pid in process_ids}
    except ValidationException as exc:
        file_name = exc.file_name or next(iter(trees))
        line = getattr(exc, "line_number", None) or None
        tree = trees.get(file_name) if file_name in trees else library_trees.get(file_name)
        element = _element_at(tree, line) if tree is not None and not getattr(exc, "id", None) else None
        element_id = getattr(exc, "id", None) or (element.get("id") if element is not None else None)
        caused = [p for p in errors(problems) if element_id is None or p["element_id"] == element_id or "missing" in p]
        if not caused:
            problems.append({"element_id": element_id,
                             "name": getattr(exc, "name", None) or (element.get("name") if element is not None
                                                                    else None),
                             "message": str(exc).split("\n")[0], "severity": "error", "file": file_name,
                             "line": line})
    except (SpiffWorkflowException, etree.LxmlError, KeyError, AttributeError, TypeError) as exc:
        if not errors(problems):
            problems.append(problem(f"SpiffWorkflow cannot read the diagram: {exc}", file=next(iter(trees))))
    return None


@dataclass
class Inspection:
    """Everything validation found; `parsed` is None when an error stopped the version from being built."""

    problems: list[dict]
    parsed: ParsedDefinition | None = None

    @property
    def errors(self) -> list[dict]:
        return errors(self.problems)


def inspect_definition(bpmn: bytes, bpmn_name: str, dmn_files: dict[str, bytes], form_files: dict[str, bytes],
                       *, serializer, **file_checks) -> Inspection:
    """One diagram's `inspect_bundle`: its executable process, or every problem (keywords as `file_problems`)."""
    found = inspect_bundle({bpmn_name: bpmn}, dmn_files, form_files, serializer=serializer,
                           checks_for=lambda _process_id: file_checks)
    return Inspection(found.problems, found.main_definition)


def parse_definition(bpmn: bytes, bpmn_name: str, dmn_files: dict[str, bytes], form_files: dict[str, bytes],
                     **checks_with) -> ParsedDefinition:
    """Parse and validate; raise DeployError listing every problem when any is an error, else return the parsed
    definition (its `problems` are the warnings). Keywords as `inspect_definition`."""
    inspection = inspect_definition(bpmn, bpmn_name, dmn_files, form_files, **checks_with)
    if inspection.errors or inspection.parsed is None:
        raise DeployError(summary(inspection.problems), problems=inspection.problems)
    return inspection.parsed
