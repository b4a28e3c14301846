"""The studio's form editor: a process draft's forms, each edited beside a live preview drawn by the renderer
employees see on their tasks, and saved into the draft so it is versioned with the diagram."""
from __future__ import annotations

import copy
from typing import Any

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from app.errors import BespokeError, MalformedInput, NotFound, ValidationError
from app.extensions import db
from app.forms_ui import parse_form, render_form
from app.models import ProcessDefinition, ProcessDraft
from app.services.form_design import form_problems
from app.services.forms import prepare_schema, validate_form
from app.studio import bp
from app.studio.form_words import EDITOR_WORDS
from app.usecases.drafts import FORM_SUFFIX, draft_of, form_users, is_form_name, remove_form, save_form, ui_schema_name
from app.usecases.uow import unit_of_work
from app.web import allowed

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _current(process_id: str) -> ProcessDraft | ProcessDefinition:
    """What the analyst works on: the draft, else the version new instances get (a draft starts from it)."""
    draft = draft_of(process_id)
    if draft is not None:
        return draft
    version = db.session.execute(select(ProcessDefinition).where(ProcessDefinition.process_id == process_id)
                                 .order_by(ProcessDefinition.active.desc(), ProcessDefinition.version.desc())
                                 .limit(1)).scalar_one_or_none()
    if version is None:
        raise NotFound(_("Процесса «%(id)s» нет", id=process_id))
    return version


def _form_name(name: str) -> str:
    if not is_form_name(name):
        raise NotFound(_("«%(name)s» — не имя файла формы (нужно, например, call_customer.schema.json)", name=name))
    return name


def _related(problems: list[dict], name: str, users: list[dict]) -> list[dict]:
    """The draft's problems that concern this form: of the tasks using it, or naming its files."""
    tasks = {user["id"] for user in users}
    files = (f"'{name}'", f"'{ui_schema_name(name)}'")
    return [p for p in problems or [] if p.get("element_id") in tasks or any(f in p.get("message", "") for f in files)]


def _blank(title: str) -> dict:
    return {"$schema": SCHEMA_DIALECT, "title": title, "type": "object", "properties": {}, "required": []}


def _preview(schema: Any, ui_schema: Any, values: Any = None) -> tuple[Markup, dict[str, str]]:
    """The form as the task page draws it; with `values` (the preview's fields as posted) checked as on submit."""
    if not isinstance(schema, dict) or not isinstance(schema.get("properties", {}), dict):
        raise ValueError(_("форма должна быть JSON-объектом со свойством properties"))
    ui = ui_schema if isinstance(ui_schema, dict) else {}
    data: dict = {}
    errors: dict[str, str] = {}
    if isinstance(values, list):
        posted = MultiDict([(str(pair[0]), str(pair[1])) for pair in values
                            if isinstance(pair, list) and len(pair) == 2])
        data, _uploads = parse_form(schema, posted, MultiDict())
        try:
            validate_form(schema, data)
        except ValidationError as exc:
            errors = exc.fields
    return render_form(prepare_schema(schema), ui, data, errors, use_defaults=not values), errors


def _json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise MalformedInput(_("Ожидался JSON-объект {schema, ui_schema}"), fields={"_body": "expected JSON"})
    return body


@bp.get("/<process_id>/forms")
@allowed("studio.view")
def forms(process_id: str):
    """The draft's forms and the user tasks using each; «Новая форма» opens the editor on a new file name."""
    current = _current(process_id)
    new = request.args.get("new", "").strip()
    if new:
        name = new if new.endswith(FORM_SUFFIX) else f"{new}{FORM_SUFFIX}"
        if is_form_name(name):
            return redirect(url_for("studio.form_editor", process_id=process_id, name=name))
        flash(_("Имя формы «%(name)s»: только латинские строчные буквы, цифры и «_», например call_customer",
                name=new), "error")
    users = form_users(current.bpmn_xml)
    files = current.forms or {}
    names = sorted({n for n in files if n.endswith(FORM_SUFFIX)} | {n for n in users if n.endswith(FORM_SUFFIX)})
    rows = [{"name": n, "title": (files.get(n) or {}).get("title") if isinstance(files.get(n), dict) else None,
             "exists": n in files, "ui": ui_schema_name(n) in files, "users": users.get(n, []),
             "fields": len((files.get(n) or {}).get("properties") or {}) if isinstance(files.get(n), dict) else 0}
            for n in names]
    return render_template("studio/forms.html", process_id=process_id, rows=rows, new=new,
                           is_draft=isinstance(current, ProcessDraft), current=current)


@bp.get("/<process_id>/forms/<name>")
@allowed("studio.view")
def form_editor(process_id: str, name: str):
    """The editor: field list, conditions and rules on the left, the live preview on the right, raw JSON in tabs."""
    name = _form_name(name)
    current = _current(process_id)
    files = current.forms or {}
    users = form_users(current.bpmn_xml).get(name, [])
    exists = name in files
    schema = copy.deepcopy(files[name]) if exists else _blank(users[0]["name"] if users and users[0]["name"]
                                                             else name[: -len(FORM_SUFFIX)])
    ui = copy.deepcopy(files.get(ui_schema_name(name))) or {}
    is_draft = isinstance(current, ProcessDraft)
    try:
        preview, _errors = _preview(schema, ui)
    except Exception as exc:  # noqa: BLE001 - a stored form the renderer cannot draw is shown as the reason
        preview = Markup('<p class="error">{}</p>').format(exc)
    return render_template(
        "studio/form_editor.html", process_id=process_id, name=name, ui_name=ui_schema_name(name), exists=exists,
        schema=schema, ui=ui, users=users, preview=preview, problems=form_problems(schema, ui),
        draft_problems=_related(current.problems if isinstance(current, ProcessDraft) else [], name, users),
        is_draft=is_draft, words={word: _(word) for word in EDITOR_WORDS})


@bp.post("/<process_id>/forms/<name>/preview")
@allowed("studio.view")
def form_preview(process_id: str, name: str):
    """The posted schema + UI schema drawn by the task page's renderer, with the editor's checks: {html, problems}."""
    _form_name(name)
    body = _json_body()
    problems = form_problems(body.get("schema"), body.get("ui_schema"))
    try:
        html, errors = _preview(body.get("schema"), body.get("ui_schema"), body.get("values"))
    except Exception as exc:  # noqa: BLE001 - half-typed JSON the renderer cannot draw: say why, keep the editor
        message = _("Предпросмотр недоступен: %(reason)s", reason=str(exc))
        return jsonify({"html": str(Markup('<p class="error">{}</p>').format(message)), "problems": problems,
                        "errors": {}})
    title = Markup("<h2>{}</h2>").format(body["schema"].get("title") or name)
    intro = Markup('<p class="muted form-intro">{}</p>').format(body["schema"]["description"]) \
        if body["schema"].get("description") else Markup("")
    return jsonify({"html": str(title + intro + html), "problems": problems, "errors": errors})


@bp.post("/<process_id>/forms/<name>")
@allowed("studio.view", write="studio.edit")
def form_save(process_id: str, name: str):
    """Write the form and its UI schema into the draft; the answer lists what is still wrong (kept all the same)."""
    try:
        name = _form_name(name)
        body = _json_body()
        _current(process_id)
        with unit_of_work():
            draft = save_form(process_id, current_user, name, body.get("schema"), body.get("ui_schema"))
            users = form_users(draft.bpmn_xml).get(name, [])
            answer = {"saved": True, "name": name, "ui_name": ui_schema_name(name),
                      "problems": form_problems(body["schema"], body["ui_schema"]),
                      "draft_problems": _related(draft.problems, name, users), "users": users}
    except BespokeError as exc:  # the editor reads every answer as JSON and keeps what was typed
        return jsonify(exc.to_dict()), exc.status
    return jsonify(answer)


@bp.post("/<process_id>/forms/<name>/remove")
@allowed("studio.view", write="studio.edit")
def form_remove(process_id: str, name: str):
    """Take a form (and its UI schema) out of the draft."""
    name = _form_name(name)
    _current(process_id)
    with unit_of_work():
        remove_form(process_id, current_user, name)
    flash(_("Форма %(name)s убрана из черновика", name=name), "success")
    return redirect(url_for("studio.forms", process_id=process_id))
