"""A process's versions: the list with how many orders run on each, one version's files, and the diff of two."""
from __future__ import annotations

from dataclasses import asdict

from sqlalchemy import func, select

from app.engine import engine
from app.engine.versions import diff_versions
from app.errors import NotFound
from app.extensions import db
from app.models import ProcessDefinition, ProcessInstance
from app.usecases.process import definition_forms

# An instance "runs" on its version until it completes: suspended or failed ones still wait there.
OPEN_STATUSES = ("running", "suspended", "error")


def versions_of(process_id: str) -> list[ProcessDefinition]:
    """Every version of the process, newest first (NotFound when it was never deployed)."""
    versions = db.session.execute(select(ProcessDefinition).where(ProcessDefinition.process_id == process_id)
                                  .order_by(ProcessDefinition.version.desc())).scalars().all()
    if not versions:
        raise NotFound(f"Процесс «{process_id}» не найден", fields={"process_id": "unknown"})
    return list(versions)


def running_instances(process_id: str) -> dict[int, int]:
    """version number → instances not yet completed on it."""
    rows = db.session.execute(
        select(ProcessDefinition.version, func.count(ProcessInstance.id))
        .join(ProcessInstance, ProcessInstance.definition_id == ProcessDefinition.id)
        .where(ProcessDefinition.process_id == process_id, ProcessInstance.status.in_(OPEN_STATUSES))
        .group_by(ProcessDefinition.version)).all()
    return {version: count for version, count in rows}


def version_of(process_id: str, version: int) -> ProcessDefinition:
    definition = db.session.execute(select(ProcessDefinition).where(
        ProcessDefinition.process_id == process_id, ProcessDefinition.version == version)).scalar_one_or_none()
    if definition is None:
        versions_of(process_id)  # an unknown process says so first
        raise NotFound(f"У процесса «{process_id}» нет версии {version}", fields={"version": "unknown"})
    return definition


def version_specs(definition: ProcessDefinition) -> tuple:
    """The version's (spec, subprocess specs), cached like every version's."""
    return engine().specs(definition.id, definition.checksum, lambda: definition.spec_json)


def _fields(schema: dict, prefix: str = "") -> dict[str, dict]:
    """dotted field path → its schema, nested objects included."""
    found: dict[str, dict] = {}
    for name, prop in (schema.get("properties") or {}).items():
        if not isinstance(prop, dict):
            continue
        path = f"{prefix}{name}"
        found[path] = prop
        if prop.get("type") == "object":
            found.update(_fields(prop, f"{path}."))
    return found


def _required(schema: dict, prefix: str = "") -> set[str]:
    required = {f"{prefix}{name}" for name in schema.get("required") or []}
    for name, prop in (schema.get("properties") or {}).items():
        if isinstance(prop, dict) and prop.get("type") == "object":
            required |= _required(prop, f"{prefix}{name}.")
    return required


def form_changes(old: dict, new: dict) -> list[dict]:
    """Per form file: added / removed / changed, with the fields added and removed, required and enum changes."""
    changes: list[dict] = []
    for name in sorted(old.keys() | new.keys()):
        before, after = old.get(name), new.get(name)
        if before == after:
            continue
        if before is None or after is None:
            changes.append({"file": name, "change": "added" if before is None else "removed", "details": []})
            continue
        details: list[str] = []
        if name.endswith(".uischema.json"):
            details.append("оформление формы (UI schema)")
        else:
            fields_before, fields_after = _fields(before), _fields(after)
            details += [f"поле {f} добавлено" for f in sorted(fields_after.keys() - fields_before.keys())]
            details += [f"поле {f} удалено" for f in sorted(fields_before.keys() - fields_after.keys())]
            req_before, req_after = _required(before), _required(after)
            details += [f"поле {f} стало обязательным" for f in sorted(req_after - req_before)]
            details += [f"поле {f} стало необязательным" for f in sorted(req_before - req_after)]
            for field in sorted(fields_before.keys() & fields_after.keys()):
                a, b = fields_before[field], fields_after[field]
                if a.get("enum") != b.get("enum") or a.get("x-enumNames") != b.get("x-enumNames"):
                    added = [v for v in b.get("enum") or [] if v not in (a.get("enum") or [])]
                    removed = [v for v in a.get("enum") or [] if v not in (b.get("enum") or [])]
                    parts = ([f"+{', '.join(map(str, added))}"] if added else []) + \
                            ([f"−{', '.join(map(str, removed))}"] if removed else [])
                    details.append(f"поле {field}: варианты изменены" + (f" ({'; '.join(parts)})" if parts else ""))
                rest_a = {k: v for k, v in a.items() if k not in ("enum", "x-enumNames", "properties", "required")}
                rest_b = {k: v for k, v in b.items() if k not in ("enum", "x-enumNames", "properties", "required")}
                if rest_a != rest_b:
                    details.append(f"поле {field}: описание изменено")
            outer = lambda s: {k: v for k, v in s.items() if k not in ("properties", "required")}  # noqa: E731
            if outer(before) != outer(after):
                details.append("правила и описание формы изменены")
        changes.append({"file": name, "change": "changed", "details": details or ["изменена"]})
    return changes


def dmn_changes(old: dict, new: dict) -> list[dict]:
    changes = []
    for name in sorted(old.keys() | new.keys()):
        before, after = old.get(name), new.get(name)
        if before is None or after is None:
            changes.append({"file": name, "change": "added" if before is None else "removed", "details": []})
        elif " ".join(before.split()) != " ".join(after.split()):
            rules = (before.count("<rule"), after.count("<rule"))
            detail = f"правил: {rules[0]} → {rules[1]}" if rules[0] != rules[1] else "таблица решений изменена"
            changes.append({"file": name, "change": "changed", "details": [detail]})
    return changes


def compare(process_id: str, old_version: int, new_version: int) -> dict:
    """What changed from one version to another: elements (for the diagram and the list), forms, DMN."""
    old, new = version_of(process_id, old_version), version_of(process_id, new_version)
    elements = diff_versions(engine().serializer.registry, version_specs(old), version_specs(new),
                             old.bpmn_xml, new.bpmn_xml)
    return {
        "process_id": process_id, "from_version": old.version, "to_version": new.version,
        "elements": [asdict(e) for e in sorted(elements, key=lambda e: (e.change, e.type == "SequenceFlow",
                                                                          e.name))],
        "forms": form_changes(definition_forms(old), definition_forms(new)),
        "dmn": dmn_changes(old.dmn_files or {}, new.dmn_files or {}),
    }
