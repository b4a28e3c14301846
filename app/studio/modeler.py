"""The studio's modeler: a process's draft in bpmn-js and its DMN tables in dmn-js, saved and validated live,
published as the next version.

The pages load the draft's files from JSON/XML views and post them back as JSON (session and CSRF header, like
every page); the answers carry the validation problems the editors put on the diagram.
"""
from __future__ import annotations

from flask import Response, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.errors import NotFound, ValidationError
from app.studio import bp
from app.studio.catalog import catalog
from app.usecases import drafts
from app.usecases.uow import unit_of_work
from app.web import action, allowed


def _actor():
    return current_user._get_current_object()


def _body(*required: str) -> dict:
    """The JSON a studio editor posts; every required part must be text."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationError(_("Ожидался JSON с содержимым черновика"), fields={"_body": _("Нужен JSON")})
    wrong = {name: _("Нужен текст") for name in required if not isinstance(body.get(name), str)}
    if wrong:
        raise ValidationError(_("Не хватает полей: %(names)s", names=", ".join(sorted(wrong))), fields=wrong)
    return body


def _token(body: dict) -> str | None:
    token = body.get("token")
    return token if isinstance(token, str) else None


def _xml(text: str) -> Response:
    """A draft's file as data: an analyst's XML opened in the browser must never run as a page of ours."""
    response = Response(text, mimetype="application/xml")
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def _saved(draft) -> Response:
    problems = drafts.problem_rows(draft.problems or [])
    return jsonify({"problems": problems, "errors": sum(p["severity"] == "error" for p in problems),
                    "token": drafts.draft_token(draft), "updated_at": drafts.draft_token(draft),
                    "updated_by": draft.updated_by.name if draft.updated_by else None})


@bp.get("/<process_id>")
@allowed("studio.view")
def process(process_id: str):
    """The modeler on the process's draft (or on its active version until somebody saves a draft)."""
    state = drafts.draft_state(process_id)
    return render_template("studio/process.html", state=state,
                           errors=sum(p["severity"] == "error" for p in state.problems))


@bp.get("/<process_id>/draft.bpmn")
@allowed("studio.view")
def draft_bpmn(process_id: str):
    """The draft's BPMN as it was last saved («Скачать BPMN» with ?download=1)."""
    state = drafts.draft_state(process_id)
    response = _xml(state.bpmn_xml)
    if request.args.get("download"):
        suffix = "draft" if state.exists else f"v{state.base_version}"
        response.headers["Content-Disposition"] = f'attachment; filename="{process_id}-{suffix}.bpmn"'
    return response


@bp.get("/<process_id>/catalog")
@allowed("studio.view")
def modeler_catalog(process_id: str):
    """What the properties panel offers: roles, operators, forms, bindings, SLA keys, decisions."""
    return jsonify(catalog(drafts.draft_state(process_id)))


@bp.post("/<process_id>/draft")
@allowed("studio.edit")
def save(process_id: str):
    """Store the posted diagram in the draft (even an invalid one) and answer what validation says about it."""
    body = _body("bpmn")
    with unit_of_work():
        draft = drafts.save_draft(process_id, _actor(), bpmn=body["bpmn"], expected=_token(body))
        answer = _saved(draft)
    return answer


@bp.post("/<process_id>/publish")
@allowed("studio.edit")
def publish(process_id: str):
    """Deploy the draft as the next version with the analyst's comment; a refusal answers the problems (422)."""
    body = _body("comment")
    with unit_of_work():
        definition, created = drafts.publish_draft(process_id, _actor(), body["comment"], expected=_token(body))
        version = definition.version
    if created:
        flash(_("Опубликована версия v%(version)s", version=version), "success")
    else:
        flash(_("Черновик совпадает с уже опубликованной версией v%(version)s: новая версия не нужна",
                version=version), "info")
    return jsonify({"version": version, "created": created, "next": url_for("studio.index")})


@bp.post("/<process_id>/discard")
@allowed("studio.edit")
@action
def discard(process_id: str):
    drafts.discard_draft(process_id)
    flash(_("Черновик отменён: в студии снова действующая версия"), "success")
    return redirect(url_for("studio.process", process_id=process_id))


@bp.route("/<process_id>/dmn/<name>", methods=["GET", "POST"])
@allowed("studio.view", write="studio.edit")
def decision_table(process_id: str, name: str):
    """The draft's DMN file in dmn-js; POST stores it in the draft and answers the problems like the modeler."""
    if request.method == "POST":
        body = _body("xml")
        with unit_of_work():
            draft = drafts.save_decision(process_id, _actor(), name, body["xml"], expected=_token(body))
            answer = _saved(draft)
        return answer
    state = drafts.draft_state(process_id)
    if name not in state.dmn_files:
        raise NotFound(_("В черновике нет таблицы решений «%(name)s»", name=name))
    return render_template("studio/dmn.html", state=state, name=name,
                           problems=[p for p in state.problems if p.get("file") == name])


@bp.get("/<process_id>/dmn/<name>/source")
@allowed("studio.view")
def decision_source(process_id: str, name: str):
    state = drafts.draft_state(process_id)
    if name not in state.dmn_files:
        raise NotFound(_("В черновике нет таблицы решений «%(name)s»", name=name))
    return _xml(state.dmn_files[name])
