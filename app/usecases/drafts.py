"""Drafts: an analyst's unpublished work on a process, validated on every save, published as the next version.

A process has at most one draft, kept on the server; opening a process without one starts it from the version new
instances get. Saving stores what was sent even when it is invalid (nothing typed is lost) together with what the
validation said; publishing deploys it exactly as `deploy` would (same checks) and the draft is gone.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select

from app import clock
from app.engine.checks import FORM_PROPERTY, UI_PROPERTY
from app.engine.definitions import NS, safe_xml
from app.errors import Conflict, DeployError, NotFound, ValidationError
from app.extensions import db
from app.models import ProcessDraft, User
from app.usecases.deploy import deploy, validate
from app.usecases.process import active_definition


class StaleDraft(Conflict):
    """Someone else saved the draft after it was loaded: saving over it would lose their work."""


@dataclass
class DraftState:
    """What the studio shows for a process: its draft, or the active version when nobody has started one."""

    process_id: str
    name: str
    bpmn_xml: str
    dmn_files: dict[str, str]
    forms: dict[str, dict]
    base_version: int | None
    exists: bool  # False: nothing saved yet, the active version is shown
    token: str  # the version token a save sends back ("" while there is no draft)
    updated_at: datetime | None = None
    updated_by: str | None = None
    problems: list[dict] = field(default_factory=list)


def draft_of(process_id: str) -> ProcessDraft | None:
    return db.session.execute(select(ProcessDraft).where(ProcessDraft.process_id == process_id)).scalar_one_or_none()


def open_draft(process_id: str, actor: User | None) -> ProcessDraft:
    """The process's draft, started from its active version when there is none (NotFound/Conflict if undeployed)."""
    draft = draft_of(process_id)
    if draft is not None:
        return draft
    version = active_definition(process_id)
    draft = ProcessDraft(process_id=process_id, base_version=version.version, bpmn_xml=version.bpmn_xml,
                         dmn_files=dict(version.dmn_files or {}), forms=dict(version.forms or {}),
                         problems=[], updated_by=actor)
    db.session.add(draft)
    db.session.flush()
    return draft


def draft_files(draft: ProcessDraft) -> tuple[bytes, str, dict[str, bytes], dict[str, bytes]]:
    """(bpmn, its file name, DMN files, form files) as a deploy takes them."""
    return (draft.bpmn_xml.encode(), f"{draft.process_id}.bpmn",
            {name: text.encode() for name, text in (draft.dmn_files or {}).items()},
            {name: json.dumps(form, ensure_ascii=False).encode() for name, form in (draft.forms or {}).items()})


def draft_token(draft: ProcessDraft | None) -> str:
    """The draft's version token: when it was last saved ("" for no draft), compared on the next save."""
    if draft is None or draft.updated_at is None:
        return ""
    moment = draft.updated_at if draft.updated_at.tzinfo else draft.updated_at.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


def draft_state(process_id: str) -> DraftState:
    """The draft as it is, or the active version it would start from (nothing is written: looking is not editing)."""
    draft = draft_of(process_id)
    try:
        version = active_definition(process_id)
    except Conflict as exc:
        raise NotFound(f"Процесс «{process_id}» не опубликован") from exc
    if draft is None:
        return DraftState(process_id, version.name, version.bpmn_xml, dict(version.dmn_files or {}),
                          dict(version.forms or {}), version.version, exists=False, token="")
    return DraftState(process_id, version.name, draft.bpmn_xml, dict(draft.dmn_files or {}), dict(draft.forms or {}),
                      draft.base_version, exists=True, token=draft_token(draft), updated_at=draft.updated_at,
                      updated_by=draft.updated_by.name if draft.updated_by else None,
                      problems=problem_rows(draft.problems or []))


def problem_rows(problems: list[dict]) -> list[dict]:
    """Problems in the one shape the studio shows: {element_id, name, message, severity, file}."""
    return [{key: p.get(key) for key in ("element_id", "name", "message", "severity", "file")} for p in problems]


def _ensure_fresh(draft: ProcessDraft | None, actor: User | None, expected: str | None) -> None:
    # The same person saving from another tab (the form editor beside the modeler) is not a conflict.
    if expected is None or draft is None or draft_token(draft) == expected:
        return
    if actor is not None and draft.updated_by_id == actor.id:
        return
    who = draft.updated_by.name if draft.updated_by else "система"
    raise StaleDraft(f"Черновик уже сохранил(а) {who} после того, как вы его открыли: обновите страницу, "
                     f"чтобы не затереть чужие правки (ваша схема не потеряна — её можно скачать)",
                     updated_by=who, updated_at=draft_token(draft))


def save_draft(process_id: str, actor: User | None, *, bpmn: str | None = None,
               dmn_files: dict[str, str] | None = None, forms: dict[str, dict] | None = None,
               expected: str | None = None) -> ProcessDraft:
    """Store the parts sent (others stay), validate the whole and keep the problems beside it.

    `expected` is the token (`draft_token`) the editor loaded: if someone else has saved since, StaleDraft.
    """
    _ensure_fresh(draft_of(process_id), actor, expected)
    draft = open_draft(process_id, actor)
    if bpmn is not None:
        draft.bpmn_xml = bpmn
    if dmn_files is not None:
        draft.dmn_files = {**(draft.dmn_files or {}), **dmn_files}
    if forms is not None:
        draft.forms = {**(draft.forms or {}), **forms}
    draft.problems = validate(*draft_files(draft), process_id=process_id)
    draft.updated_by = actor
    draft.updated_at = clock.now()
    db.session.flush()
    return draft


def publish_draft(process_id: str, actor: User | None, comment: str = "", *, expected: str | None = None):
    """Deploy the draft as the next version (DeployError keeps the draft); returns (version, created).

    A version says why it was made: the comment is required. `expected` as for `save_draft`.
    """
    if not comment.strip():
        raise ValidationError("Напишите комментарий к версии: что в ней изменилось",
                              fields={"comment": "Обязательное поле"})
    _ensure_fresh(draft_of(process_id), actor, expected)
    draft = open_draft(process_id, actor)
    bpmn, name, dmn, forms = draft_files(draft)
    try:
        definition, created = deploy(bpmn, name, dmn, forms, actor, comment=comment.strip(), source="studio",
                                      replace=True)
    except DeployError as exc:
        raise DeployError(exc.message, problems=problem_rows(exc.details.get("problems", []))) from exc
    db.session.delete(draft)
    db.session.flush()
    return definition, created


def discard_draft(process_id: str) -> None:
    """Forget the draft: the studio shows the active version again."""
    draft = draft_of(process_id)
    if draft is not None:
        db.session.delete(draft)
        db.session.flush()


# -- forms in the draft: the form editor's files ---------------------------------------------------------------

FORM_SUFFIX, UI_SUFFIX = ".schema.json", ".uischema.json"
_FORM_NAME = re.compile(r"^[a-z][a-z0-9_]{0,80}\.schema\.json$")


def ui_schema_name(form_name: str) -> str:
    """The UI schema kept beside a form: `call_customer.schema.json` → `call_customer.uischema.json`."""
    return form_name[: -len(FORM_SUFFIX)] + UI_SUFFIX


def is_form_name(name: str) -> bool:
    """A form file name the studio creates: lower-case latin letters, digits and `_`, then `.schema.json`."""
    return bool(_FORM_NAME.match(name))


def save_form(process_id: str, actor: User | None, name: str, schema: Any, ui_schema: Any) -> ProcessDraft:
    """Store a form and its UI schema in the draft — kept even when invalid, like the diagram — and re-validate it.

    Refused (ValidationError, nothing stored) only when there is nothing a form file could hold: a bad name or a
    schema / UI schema that is not a JSON object.
    """
    if not is_form_name(name):
        raise ValidationError("Имя файла формы: латинские буквы, цифры и «_», в конце .schema.json",
                              fields={"name": name})
    for part, value in (("schema", schema), ("ui_schema", ui_schema)):
        if not isinstance(value, dict):
            raise ValidationError("Форма и её UI-схема должны быть JSON-объектами", fields={part: "not an object"})
    return save_draft(process_id, actor, forms={name: schema, ui_schema_name(name): ui_schema})


def remove_form(process_id: str, actor: User | None, name: str) -> ProcessDraft:
    """Drop a form and its UI schema from the draft (a task still naming it becomes a problem of that task)."""
    draft = open_draft(process_id, actor)
    draft.forms = {key: value for key, value in (draft.forms or {}).items()
                   if key not in (name, ui_schema_name(name))}
    return save_draft(process_id, actor)


def form_users(bpmn_xml: str) -> dict[str, list[dict]]:
    """Form file → the user tasks naming it as their form or UI schema ([{id, name}]); {} for a diagram that does
    not parse (its problems say why)."""
    try:
        tree = safe_xml(bpmn_xml.encode(), "draft.bpmn")
    except DeployError:
        return {}
    users: dict[str, list[dict]] = {}
    for task in tree.xpath("//bpmn:userTask", namespaces=NS):
        for prop in task.xpath(".//spiffworkflow:property", namespaces=NS):
            if prop.get("name") in (FORM_PROPERTY, UI_PROPERTY) and prop.get("value"):
                users.setdefault(prop.get("value"), []).append({"id": task.get("id"), "name": task.get("name")})
    return users
def save_decision(process_id: str, actor: User | None, name: str, xml: str,
                  expected: str | None = None) -> ProcessDraft:
    """Store one of the draft's DMN files (the studio's decision-table editor), validated with the rest."""
    if name not in draft_state(process_id).dmn_files:
        raise NotFound(f"В черновике нет таблицы решений «{name}»")
    return save_draft(process_id, actor, dmn_files={name: xml}, expected=expected)


def decision_outputs(dmn_files: dict[str, str]) -> tuple[list[str], list[str]]:
    """(decision ids, SLA keys) the draft's DMN files define: what a business rule task may call and what
    `sla['<key>']` may name (the SLA table's outputs are `sla.<key>`). A file that does not parse gives nothing."""
    decisions: list[str] = []
    sla_keys: list[str] = []
    for name, xml in sorted(dmn_files.items()):
        try:
            tree = safe_xml(xml.encode(), name)
        except DeployError:
            continue
        decisions += [node.get("id") for node in tree.xpath("//*[local-name()='decision'][@id]")]
        sla_keys += [node.get("name")[len("sla."):] for node in tree.xpath("//*[local-name()='output'][@name]")
                     if node.get("name").startswith("sla.")]
    return decisions, sla_keys
