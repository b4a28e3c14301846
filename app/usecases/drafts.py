"""Drafts: an analyst's unpublished work on a process, validated on every save, published as the next version.

A process has at most one draft, kept on the server; opening a process without one starts it from the version new
instances get. Saving stores what was sent even when it is invalid (nothing typed is lost) together with what the
validation said; publishing deploys it exactly as `deploy` would (same checks) and the draft is gone.
"""
from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import select

from app.engine.definitions import FORM_PROPERTY, NS, UI_PROPERTY, safe_xml
from app.errors import DeployError, ValidationError
from app.extensions import db
from app.models import ProcessDraft, User
from app.usecases.deploy import deploy, validate
from app.usecases.process import active_definition


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


def save_draft(process_id: str, actor: User | None, *, bpmn: str | None = None,
               dmn_files: dict[str, str] | None = None, forms: dict[str, dict] | None = None) -> ProcessDraft:
    """Store the parts sent (others stay), validate the whole and keep the problems beside it."""
    draft = open_draft(process_id, actor)
    if bpmn is not None:
        draft.bpmn_xml = bpmn
    if dmn_files is not None:
        draft.dmn_files = {**(draft.dmn_files or {}), **dmn_files}
    if forms is not None:
        draft.forms = {**(draft.forms or {}), **forms}
    draft.problems = validate(*draft_files(draft))
    draft.updated_by = actor
    db.session.flush()
    return draft


def publish_draft(process_id: str, actor: User | None, comment: str = ""):
    """Deploy the draft as the next version (DeployError keeps the draft); returns (version, created)."""
    draft = open_draft(process_id, actor)
    bpmn, name, dmn, forms = draft_files(draft)
    definition, created = deploy(bpmn, name, dmn, forms, actor, comment=comment, source="studio")
    db.session.delete(draft)
    db.session.flush()
    return definition, created


def discard_draft(process_id: str) -> None:
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
    for field, value in (("schema", schema), ("ui_schema", ui_schema)):
        if not isinstance(value, dict):
            raise ValidationError("Форма и её UI-схема должны быть JSON-объектами", fields={field: "not an object"})
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
