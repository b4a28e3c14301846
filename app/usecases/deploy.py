"""Deploying a process version: validate everything, store it once, immutably."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from sqlalchemy import select

from app.engine import bindings as b
from app.engine import engine
from app.engine.bindings import BindingRule
from app.engine.bundles import bundle_process_ids, called_processes, inspect_bundle
from app.engine.problems import summary
from app.errors import Conflict, DeployError, NotFound
from app.extensions import db
from app.models import LANE_ROLES, VISIT_KINDS, ProcessDefinition, User
from app.services import audit
from app.services.form_rules import rule_problems
from app.usecases.process import ORDER_PROCESS
from app.usecases.projection import lane_roles


def binding_rules() -> tuple[BindingRule, ...]:
    """The bindings the app reads (docs/PROCESS.md, "Bindings"): what each may say, which every version needs."""
    from app.services.customer_view import MILESTONE_CODES, MILESTONES_FROM_TASKS

    yes = frozenset({"true"})
    return (
        BindingRule(b.MILESTONE, "the customer's milestone of the task, on the status page",
                    values=frozenset(MILESTONE_CODES), required=MILESTONES_FROM_TASKS),
        BindingRule(b.CUSTOMER_TEXT, "what the customer reads while the task is open", needs=b.MILESTONE),
        BindingRule(b.ENTRY, "where a new order waits for the sales decision", values=yes, required=yes),
        BindingRule(b.RECORDS, "what the task records", values=frozenset({"payment", "installation", "revisit"}),
                    required=frozenset({"payment", "installation"})),
        BindingRule(b.VISIT, "the visit the task works (on the dispatcher's calendar)",
                    values=frozenset(VISIT_KINDS), required=frozenset({"measurement"})),
        BindingRule(b.PLANS, "the visit the task plans (the dispatcher's queue and drag-to-plan)",
                    values=frozenset(VISIT_KINDS)),
        BindingRule(b.RATING, "the customer's rating of the finished order", values=yes),
    )


SOURCES = ("repository", "studio", "api")  # flask deploy, published in the browser, uploaded through the API


class AnalystVersionKept(Conflict):
    """The repository's copy would supersede a version an analyst published: refused unless forced."""


class ProcessClash(Conflict):
    """A deploy would make a different diagram the next version of a process already deployed: only on replace."""


def _checks_for(process_id: str) -> dict:
    """What the engine adapter checks a file whose executable process is `process_id` against: the app's roles,
    operators, form rules and the names every script may read (the script environment). The order lifecycle,
    besides, must carry the bindings the app reads, may read the order's start data, and must name a role in every
    lane (an order has no starter to fall back on); any other process is checked leniently (`file_problems`'
    `strict`) with its settings' lane mapping."""
    from app.operators.registry import OPERATOR_NAMES
    from app.services.orders import START_DATA_NAMES

    eng = engine()
    lifecycle = process_id == ORDER_PROCESS
    return {"roles": set(LANE_ROLES), "operators": set(OPERATOR_NAMES),
            "bindings": binding_rules() if lifecycle else (), "form_check": rule_problems,
            "known_names": (START_DATA_NAMES if lifecycle else frozenset()) | eng.names_in_scope,
            "strict": lifecycle, "mapped_lanes": set(lane_roles(process_id)) if process_id else set()}


def _library(bpmn_files: dict[str, bytes], dmn_files: dict[str, bytes], form_files: dict[str, bytes]):
    """(library, dmn, forms): the files of the deployed processes the bundle calls but does not carry (the active
    version's diagram and the files it needed), their DMN and forms added to the bundle's (the bundle's win)."""
    wanted = called_processes(bpmn_files) - set(bundle_process_ids(bpmn_files))
    library: dict[str, bytes] = {}
    dmn, forms = dict(dmn_files), dict(form_files)
    for process_id in sorted(wanted):
        current = active_version(db.session.execute(
            select(ProcessDefinition).where(ProcessDefinition.process_id == process_id)).scalars().all())
        if current is None:
            continue  # the call activity's problem says so
        library.setdefault(f"{process_id}.bpmn", current.bpmn_xml.encode())
        for name, xml in (current.bpmn_files or {}).items():
            library.setdefault(name, xml.encode())
        for name, xml in (current.dmn_files or {}).items():
            dmn.setdefault(name, xml.encode())
        for name, form in (current.forms or {}).items():
            forms.setdefault(name, json.dumps(form).encode())
    return library, dmn, forms


def inspect(bpmn_files: dict[str, bytes], dmn_files: dict[str, bytes], form_files: dict[str, bytes]):
    """Every problem of a bundle and its parsed processes (`app.engine.bundles.BundleInspection`)."""
    library, dmn, forms = _library(bpmn_files, dmn_files, form_files)
    return inspect_bundle(bpmn_files, dmn, forms, serializer=engine().serializer, checks_for=_checks_for,
                          library=library)


def validate(bpmn: bytes | dict[str, bytes], bpmn_name: str, dmn_files: dict[str, bytes],
             form_files: dict[str, bytes], *, process_id: str | None = None) -> list[dict]:
    """What deploying this would say, without deploying: [{element_id, name, message, severity, file, …}].

    The same checks as `deploy` (the studio's live validation, `POST /processes/{id}/validate`), all of them in one
    pass; "error" problems refuse a deploy, "warning" ones do not. `bpmn` is one file (named `bpmn_name`) or a
    bundle {name: bpmn}. A bpmn that is not XML at all gives one problem marked `unreadable`. With `process_id`, a
    bundle none of whose executable processes is that one is an error.
    """
    files = bpmn if isinstance(bpmn, dict) else {bpmn_name: bpmn}
    problems = inspect(files, dmn_files, form_files).problems
    found = bundle_process_ids(files)
    if process_id is not None and found and process_id not in found:
        first = next(iter(found))
        problems.append({"element_id": first, "name": None, "severity": "error", "file": found[first],
                         "message": f"the diagram's executable process is '{first}', not '{process_id}'"})
    return problems


def deploy(bpmn: bytes, bpmn_name: str, dmn_files: dict[str, bytes], form_files: dict[str, bytes],
           actor: User | None, comment: str = "", *, source: str = "api", force: bool = False, replace: bool = False,
           warnings: list[dict] | None = None) -> tuple[ProcessDefinition, bool]:
    """One diagram's `deploy_bundle`: (its version, whether it is new)."""
    deployed = deploy_bundle({bpmn_name: bpmn}, dmn_files, form_files, actor, comment, source=source, force=force,
                             replace=replace, warnings=warnings)
    if deployed.main is None:
        raise deployed.kept[0]
    return deployed.main


@dataclass
class Deployed:
    """What a deploy stored: every process of the bundle (version, created), the main one's (None when the
    repository's copy of it was kept out, see `kept`)."""

    processes: list[tuple[ProcessDefinition, bool]]
    main: tuple[ProcessDefinition, bool] | None
    kept: list[AnalystVersionKept]


def deploy_bundle(bpmn_files: dict[str, bytes], dmn_files: dict[str, bytes], form_files: dict[str, bytes],
                  actor: User | None, comment: str = "", *, source: str = "api", force: bool = False,
                  replace: bool = False, warnings: list[dict] | None = None) -> Deployed:
    """Stage a new version of every executable process of the bundle whose content is new.

    Content already deployed is never numbered again (a rollback is `activate`, not a re-upload). A process that
    exists with other content gets its next version only with `replace` (ProcessClash naming every clash
    otherwise; the studio's publish and `flask deploy` replace on purpose). The repository's copy
    (`source="repository"`) does not replace a version published from the studio or the API unless `force`:
    `flask deploy` in every `make run` must not undo an analyst's work (AnalystVersionKept; the bundle's other
    processes are still deployed). Any "error" problem refuses it (DeployError listing them all); the "warning"
    ones are appended to `warnings` when it is given.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown deploy source {source!r}")
    found = inspect(bpmn_files, dmn_files, form_files)
    if found.errors or not found.parsed:
        raise DeployError(summary(found.problems), problems=found.problems)
    if warnings is not None:
        warnings.extend(found.problems)
    plans = []
    for parsed in found.parsed:
        versions = db.session.execute(
            select(ProcessDefinition).where(ProcessDefinition.process_id == parsed.process_id)
            .order_by(ProcessDefinition.version.desc()).with_for_update()
        ).scalars().all()
        plans.append((parsed, versions, next((v for v in versions if v.checksum == parsed.checksum), None)))
    clashes = [_clash(parsed.process_id, active_version(versions)) for parsed, versions, same in plans
               if same is None and versions]
    if clashes and not replace:
        raise ProcessClash("; ".join(c["message"] for c in clashes) + ". Чтобы загруженное стало новой версией, "
                           "отправьте replace=true", clashes=clashes)
    kept: list[AnalystVersionKept] = []
    deployed = []
    for parsed, versions, same in plans:
        try:
            deployed.append(_stage(parsed, versions, same, actor, comment, source, force))
        except AnalystVersionKept as exc:
            kept.append(exc)
    return Deployed(deployed, next((d for d in deployed if d[0].process_id == found.main), None), kept)


def _clash(process_id: str, current: ProcessDefinition | None) -> dict:
    assert current is not None
    who = current.deployed_by.login if current.deployed_by else current.source
    when = current.deployed_at.isoformat(timespec="minutes") if current.deployed_at else ""
    return {"process_id": process_id, "version": current.version, "deployed_by": who,
            "deployed_at": current.deployed_at.isoformat() if current.deployed_at else None,
            "message": f"Процесс '{process_id}' уже развёрнут: v{current.version}, {who}, {when}"}


def _stage(parsed, versions, same, actor, comment: str, source: str, force: bool) -> tuple[ProcessDefinition, bool]:
    if same is not None:
        return same, False
    current = active_version(versions)
    if source == "repository" and not force and current is not None and current.source != "repository":
        raise AnalystVersionKept(
            f"{parsed.process_id} v{current.version} was published from the {current.source}; "
            f"the repository's {parsed.bpmn_name} replaces it only with --force",
            process_id=parsed.process_id, version=current.version, file=parsed.bpmn_name)
    definition = ProcessDefinition(
        process_id=parsed.process_id, name=parsed.name, version=(versions[0].version + 1) if versions else 1,
        checksum=parsed.checksum, bpmn_xml=parsed.bpmn_xml, dmn_files=parsed.dmn_files, forms=parsed.forms,
        bpmn_files=parsed.bpmn_files, spec_json=engine().spec_json(parsed.spec_dict), deployed_by=actor,
        comment=comment, source=source,
    )
    db.session.add(definition)
    _make_active(definition, current)
    db.session.flush()
    audit.record(None, "deploy", actor, entity="process", entity_id=definition.id, field=parsed.process_id,
                 old=f"v{current.version}" if current else None, new=f"v{definition.version}")
    return definition, True


def active_version(versions) -> ProcessDefinition | None:
    """The version new instances get among `versions` (the newest if none is marked, as before versions had a flag)."""
    marked = [v for v in versions if v.active]
    if marked:
        return marked[0]
    return max(versions, key=lambda v: v.version, default=None)


def _make_active(definition: ProcessDefinition, current: ProcessDefinition | None) -> None:
    if current is not None and current is not definition:
        current.active = False
        db.session.flush()
    definition.active = True


def activate(process_id: str, version: int, actor: User | None) -> ProcessDefinition:
    """Roll back or forward: make an existing version the one new instances get (no new number; audited)."""
    versions = db.session.execute(
        select(ProcessDefinition).where(ProcessDefinition.process_id == process_id).with_for_update()
    ).scalars().all()
    target = next((v for v in versions if v.version == version), None)
    if target is None:
        raise NotFound(f"Process '{process_id}' has no version {version}")
    current = active_version(versions)
    if current is target and target.active:
        return target
    _make_active(target, current)
    db.session.flush()
    audit.record(None, "activate", actor, entity="process", entity_id=target.id, field=process_id,
                 old=f"v{current.version}" if current else None, new=f"v{target.version}")
    return target


def read_directory(processes_dir: str | Path, forms_dir: str | Path) -> list[tuple[str, bytes, dict, dict]]:
    """(bpmn name, bpmn, dmn files, form files) for every diagram in the processes folder."""
    processes, forms = Path(processes_dir), Path(forms_dir)
    dmn = {p.name: p.read_bytes() for p in sorted(processes.glob("*.dmn"))}
    form_files = {p.name: p.read_bytes() for p in sorted(forms.glob("*.json"))}
    return [(p.name, p.read_bytes(), dmn, form_files) for p in sorted(processes.glob("*.bpmn"))]


def read_bundle(processes_dir: str | Path, forms_dir: str | Path) -> tuple[dict, dict, dict]:
    """(bpmn files, dmn files, form files) of the processes folder: `flask deploy` deploys them as one bundle."""
    processes, forms = Path(processes_dir), Path(forms_dir)
    return ({p.name: p.read_bytes() for p in sorted(processes.glob("*.bpmn"))},
            {p.name: p.read_bytes() for p in sorted(processes.glob("*.dmn"))},
            {p.name: p.read_bytes() for p in sorted(forms.glob("*.json"))})


def blank_diagram(process_id: str, name: str) -> bytes:
    """A new process's first diagram: a start event joined to an end event, laid out for the modeler."""
    pid, title = escape(process_id, {'"': "&quot;"}), escape(name, {'"': "&quot;"})
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI"
                  xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI"
                  id="{pid}_definitions" targetNamespace="http://bespoke.example/processes">
  <bpmn:process id="{pid}" name="{title}" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>flow_start_end</bpmn:outgoing></bpmn:startEvent>
    <bpmn:endEvent id="end"><bpmn:incoming>flow_start_end</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="flow_start_end" sourceRef="start" targetRef="end"/>
  </bpmn:process>
  <bpmndi:BPMNDiagram id="{pid}_diagram">
    <bpmndi:BPMNPlane id="{pid}_plane" bpmnElement="{pid}">
      <bpmndi:BPMNShape id="start_di" bpmnElement="start"><dc:Bounds x="180" y="160" width="36" height="36"/>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="end_di" bpmnElement="end"><dc:Bounds x="400" y="160" width="36" height="36"/>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="flow_start_end_di" bpmnElement="flow_start_end">
        <di:waypoint x="216" y="178"/><di:waypoint x="400" y="178"/>
      </bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
""".encode()
