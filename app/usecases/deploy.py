"""Deploying a process version: validate everything, store it once, immutably."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from app.engine import bindings as b
from app.engine import engine
from app.engine.bindings import BindingRule
from app.engine.definitions import executable_process_id, inspect_definition, parse_definition
from app.errors import Conflict, NotFound
from app.extensions import db
from app.models import LANE_ROLES, ProcessDefinition, User
from app.services import audit
from app.services.form_rules import rule_problems
from app.usecases.process import ORDER_PROCESS, lane_roles


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
        BindingRule(b.VISIT, "the measurer's visit", values=frozenset({"measurement"}),
                    required=frozenset({"measurement"})),
        BindingRule(b.RATING, "the customer's rating of the finished order", values=yes),
    )


SOURCES = ("repository", "studio", "api")  # flask deploy, published in the browser, uploaded through the API


class AnalystVersionKept(Conflict):
    """The repository's copy would supersede a version an analyst published: refused unless forced."""


def _checks(bpmn: bytes) -> dict:
    """What the engine adapter checks a bundle against: the app's roles, operators, form rules and the names every
    script may read (the script environment). The order lifecycle, besides, must carry the bindings the app reads,
    may read the order's start data, and must name a role in every lane (an order has no starter to fall back on);
    any other process is checked leniently (`inspect_definition`'s `strict`) with its settings' lane mapping."""
    from app.operators.registry import OPERATOR_NAMES
    from app.services.orders import START_DATA_NAMES

    eng = engine()
    process_id = executable_process_id(bpmn) or ""
    lifecycle = process_id == ORDER_PROCESS
    return {"roles": set(LANE_ROLES), "operators": set(OPERATOR_NAMES), "serializer": eng.serializer,
            "bindings": binding_rules() if lifecycle else (), "form_check": rule_problems,
            "known_names": (START_DATA_NAMES if lifecycle else frozenset()) | eng.names_in_scope,
            "strict": lifecycle, "mapped_lanes": set(lane_roles(process_id)) if process_id else set()}


def _parse(bpmn: bytes, bpmn_name: str, dmn_files: dict[str, bytes], form_files: dict[str, bytes]):
    return parse_definition(bpmn, bpmn_name, dmn_files, form_files, **_checks(bpmn))


def validate(bpmn: bytes, bpmn_name: str, dmn_files: dict[str, bytes], form_files: dict[str, bytes],
             *, process_id: str | None = None) -> list[dict]:
    """What deploying this would say, without deploying: [{element_id, name, message, severity, file, …}].

    The same checks as `deploy` (the studio's live validation, `POST /processes/{id}/validate`), all of them in one
    pass; "error" problems refuse a deploy, "warning" ones do not. A bpmn that is not XML at all gives one problem
    marked `unreadable`. With `process_id`, a diagram whose executable process is another one is an error.
    """
    inspection = inspect_definition(bpmn, bpmn_name, dmn_files, form_files, **_checks(bpmn))
    problems = inspection.problems
    found = executable_process_id(bpmn) if process_id is not None else None
    if found is not None and found != process_id:
        problems.append({"element_id": found, "name": None, "severity": "error", "file": bpmn_name,
                         "message": f"the diagram's executable process is '{found}', not '{process_id}'"})
    return problems


def deploy(bpmn: bytes, bpmn_name: str, dmn_files: dict[str, bytes], form_files: dict[str, bytes],
           actor: User | None, comment: str = "", *, source: str = "api",
           force: bool = False, warnings: list[dict] | None = None) -> tuple[ProcessDefinition, bool]:
    """Stage a new version that new instances get; (version, False) when one with the same content exists.

    Content already deployed is never numbered again (a rollback is `activate`, not a re-upload). The
    repository's copy (`source="repository"`) does not replace a version published from the studio or the API
    unless `force`: `flask deploy` in every `make run` must not undo an analyst's work. Any "error" problem
    refuses it (DeployError listing them all); the "warning" ones are appended to `warnings` when it is given.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown deploy source {source!r}")
    eng = engine()
    parsed = _parse(bpmn, bpmn_name, dmn_files, form_files)
    if warnings is not None:
        warnings.extend(parsed.problems)
    versions = db.session.execute(
        select(ProcessDefinition).where(ProcessDefinition.process_id == parsed.process_id)
        .order_by(ProcessDefinition.version.desc()).with_for_update()
    ).scalars().all()
    same = next((v for v in versions if v.checksum == parsed.checksum), None)
    if same is not None:
        return same, False
    current = active_version(versions)
    if source == "repository" and not force and current is not None and current.source != "repository":
        raise AnalystVersionKept(
            f"{parsed.process_id} v{current.version} was published from the {current.source}; "
            f"the repository's {bpmn_name} replaces it only with --force",
            process_id=parsed.process_id, version=current.version)
    definition = ProcessDefinition(
        process_id=parsed.process_id, name=parsed.name, version=(versions[0].version + 1) if versions else 1,
        checksum=parsed.checksum, bpmn_xml=parsed.bpmn_xml, dmn_files=parsed.dmn_files, forms=parsed.forms,
        spec_json=eng.spec_json(parsed.spec_dict), deployed_by=actor, comment=comment, source=source,
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
