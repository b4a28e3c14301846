"""Deploying a process version: validate everything, store it once, immutably."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from app.engine import bindings as b
from app.engine import engine
from app.engine.bindings import BindingRule
from app.engine.definitions import parse_definition
from app.extensions import db
from app.models import LANE_ROLES, ProcessDefinition, User
from app.services import audit
from app.services.form_rules import rule_problems


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


def deploy(bpmn: bytes, bpmn_name: str, dmn_files: dict[str, bytes], form_files: dict[str, bytes],
           actor: User | None, comment: str = "") -> tuple[ProcessDefinition, bool]:
    """Stage a new version, or return the newest one unchanged when the content is the same."""
    from app.operators.registry import OPERATOR_NAMES

    eng = engine()
    parsed = parse_definition(bpmn, bpmn_name, dmn_files, form_files, roles=set(LANE_ROLES),
                              operators=set(OPERATOR_NAMES), serializer=eng.serializer,
                              bindings=binding_rules(), form_check=rule_problems)
    newest = db.session.execute(
        select(ProcessDefinition).where(ProcessDefinition.process_id == parsed.process_id)
        .order_by(ProcessDefinition.version.desc()).limit(1).with_for_update()
    ).scalar_one_or_none()
    if newest is not None and newest.checksum == parsed.checksum:
        return newest, False
    definition = ProcessDefinition(
        process_id=parsed.process_id, name=parsed.name, version=(newest.version + 1) if newest else 1,
        checksum=parsed.checksum, bpmn_xml=parsed.bpmn_xml, dmn_files=parsed.dmn_files, forms=parsed.forms,
        spec_json=eng.spec_json(parsed.spec_dict), deployed_by=actor, comment=comment,
    )
    db.session.add(definition)
    db.session.flush()
    audit.record(None, "deploy", actor, entity="process", entity_id=definition.id, field=parsed.process_id,
                 old=f"v{newest.version}" if newest else None, new=f"v{definition.version}")
    return definition, True


def read_directory(processes_dir: str | Path, forms_dir: str | Path) -> list[tuple[str, bytes, dict, dict]]:
    """(bpmn name, bpmn, dmn files, form files) for every diagram in the processes folder."""
    processes, forms = Path(processes_dir), Path(forms_dir)
    dmn = {p.name: p.read_bytes() for p in sorted(processes.glob("*.dmn"))}
    form_files = {p.name: p.read_bytes() for p in sorted(forms.glob("*.json"))}
    return [(p.name, p.read_bytes(), dmn, form_files) for p in sorted(processes.glob("*.bpmn"))]
