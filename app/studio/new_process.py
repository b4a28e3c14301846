"""«Новый процесс»: upload BPMN files (with their forms and DMN) or start from a blank diagram; a process id that
is already deployed with another diagram is shown and replaced only after the analyst confirms."""
from __future__ import annotations

import base64
import binascii
import json
import re

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.errors import DeployError, ValidationError
from app.studio import bp
from app.usecases.deploy import ProcessClash, blank_diagram, deploy_bundle
from app.usecases.drafts import problem_rows
from app.usecases.uow import unit_of_work
from app.web import allowed

PROCESS_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,99}$")


def _kept() -> dict[str, dict[str, bytes]]:
    """The files of the first submit, carried in the page while the analyst confirms a replace."""
    try:
        kept = json.loads(request.form.get("kept") or "{}")
        return {kind: {name: base64.b64decode(text) for name, text in kept.get(kind, {}).items()}
                for kind in ("bpmn", "dmn", "forms")}
    except (ValueError, TypeError, AttributeError, binascii.Error) as exc:
        raise ValidationError(_("Загрузите файлы ещё раз"), fields={"bpmn": _("Загрузите файлы ещё раз")}) from exc


def _uploaded() -> dict[str, dict[str, bytes]]:
    """{bpmn, dmn, forms}: the files chosen in the page (a form is a .json file, a decision a .dmn one)."""
    files: dict[str, dict[str, bytes]] = {"bpmn": {}, "dmn": {}, "forms": {}}
    for part in request.files.getlist("bpmn"):
        if part.filename:
            files["bpmn"][part.filename] = part.read()
    for part in request.files.getlist("extra"):
        name = part.filename or ""
        if name.endswith(".dmn"):
            files["dmn"][name] = part.read()
        elif name.endswith(".json"):
            files["forms"][name] = part.read()
        elif name:
            raise ValidationError(_("Файл %(name)s: ожидаются формы (.json) и таблицы решений (.dmn)", name=name),
                                  fields={"extra": name})
    return files


def _blank() -> dict[str, dict[str, bytes]]:
    process_id = (request.form.get("process_id") or "").strip()
    name = (request.form.get("name") or "").strip()
    fields = {}
    if not PROCESS_ID.match(process_id):
        fields["process_id"] = _("Латинские буквы, цифры, «_», «-» или «.», с буквы, до 100 знаков")
    if not name or len(name) > 200:
        fields["name"] = _("Название процесса: от 1 до 200 знаков")
    if fields:
        raise ValidationError(_("Проверьте поля нового процесса"), fields=fields)
    return {"bpmn": {f"{process_id}.bpmn": blank_diagram(process_id, name)}, "dmn": {}, "forms": {}}


def _page(status: int = 200, **context):
    values = {"mode": request.form.get("mode", "upload"), "process_id": request.form.get("process_id", ""),
              "name": request.form.get("name", ""), "comment": request.form.get("comment", "")}
    return render_template("studio/new_process.html", values=values, **context), status


@bp.route("/new", methods=["GET", "POST"])
@allowed("studio.view", write="studio.edit")
def new_process():
    """The form; its POST deploys the upload (or a blank diagram) as processes of their own."""
    if request.method == "GET":
        return _page()
    replace = request.form.get("replace") == "true"
    try:
        files = _kept() if request.form.get("kept") else (_blank() if request.form.get("mode") == "blank"
                                                            else _uploaded())
        if not files["bpmn"]:
            raise ValidationError(_("Выберите хотя бы один файл BPMN"), fields={"bpmn": _("Нужен файл BPMN")})
        comment = (request.form.get("comment") or "").strip()[:500] or _("Новый процесс")
        with unit_of_work():
            deployed = deploy_bundle(files["bpmn"], files["dmn"], files["forms"], current_user._get_current_object(),
                                     comment, source="studio", replace=replace)
            assert deployed.main is not None
            main = deployed.main[0].process_id
            created = [f"{d.process_id} v{d.version}" for d, new in deployed.processes if new]
    except ProcessClash as clash:
        kept = {kind: {n: base64.b64encode(c).decode() for n, c in named.items()} for kind, named in files.items()}
        return _page(409, clashes=clash.details["clashes"], kept=json.dumps(kept))
    except DeployError as refused:
        return _page(422, problems=problem_rows(refused.details.get("problems", [])), message=refused.message)
    except ValidationError as wrong:
        return _page(422, fields=wrong.fields, message=wrong.message)
    if created:
        flash(_("Опубликовано: %(versions)s", versions=", ".join(created)), "success")
    else:
        flash(_("Эти файлы уже опубликованы: новых версий нет"), "info")
    return redirect(url_for("studio.index", _anchor=f"process-{main}"))
