"""Process versions: list and deploy (analysts and admins)."""
from __future__ import annotations

import json

from flask import jsonify, request
from sqlalchemy import func, select

from app.api import bp
from app.api.auth import endpoint, json_body
from app.api.schemas import _iso
from app.errors import DeployError, ValidationError
from app.extensions import db
from app.models import ProcessDefinition, ProcessInstance
from app.services.inputs import body_object, body_text
from app.usecases.deploy import deploy, validate


def definition_json(d: ProcessDefinition, running: int | None = None) -> dict:
    return {"id": d.id, "process_id": d.process_id, "name": d.name, "version": d.version, "checksum": d.checksum,
            "deployed_at": _iso(d.deployed_at), "deployed_by": d.deployed_by.login if d.deployed_by else None,
            "comment": d.comment, "forms": sorted((d.forms or {}).keys()), "dmn": sorted((d.dmn_files or {}).keys()),
            "running_instances": running}


@bp.get("/processes")
@endpoint("processes.view")
def list_processes(user):
    counts = dict(db.session.execute(select(ProcessInstance.definition_id, func.count())
                                     .where(ProcessInstance.status == "running")
                                     .group_by(ProcessInstance.definition_id)).all())
    rows = db.session.execute(select(ProcessDefinition).order_by(ProcessDefinition.process_id,
                                                                 ProcessDefinition.version.desc())).scalars().all()
    return jsonify({"items": [definition_json(d, counts.get(d.id, 0)) for d in rows]})


def _upload() -> tuple[str, bytes, dict, dict, str]:
    """Multipart (bpmn, dmn[], forms[]) or JSON {bpmn, bpmn_name, dmn: {name: xml}, forms: {name: schema}}."""
    if request.files:
        bpmn_file = request.files.get("bpmn")
        if bpmn_file is None:
            raise ValidationError("A 'bpmn' file is required", fields={"bpmn": "required"})
        dmn = {f.filename: f.read() for f in request.files.getlist("dmn")}
        forms = {f.filename: f.read() for f in request.files.getlist("forms")}
        comment = body_text(request.form, "comment", max_length=500, multiline=True)
        return bpmn_file.filename or "process.bpmn", bpmn_file.read(), dmn, forms, comment
    body = json_body()
    if not isinstance(body.get("bpmn"), str):
        raise ValidationError("Send multipart files or JSON with a 'bpmn' string", fields={"bpmn": "required"})
    dmn_files, form_files = body_object(body, "dmn"), body_object(body, "forms")
    bad = {f"dmn.{name}": "Ожидается строка с XML" for name, text in dmn_files.items() if not isinstance(text, str)}
    bad.update({f"forms.{name}": "Ожидается объект JSON Schema или строка" for name, v in form_files.items()
                if not isinstance(v, (str, dict))})
    if bad:
        raise ValidationError("Проверьте файлы процесса", fields=bad)
    dmn = {name: text.encode() for name, text in dmn_files.items()}
    forms = {name: (v if isinstance(v, str) else json.dumps(v)).encode() for name, v in form_files.items()}
    name = body_text(body, "bpmn_name", max_length=200) or "process.bpmn"
    return name, body["bpmn"].encode(), dmn, forms, body_text(body, "comment", max_length=500, multiline=True)


@bp.post("/processes")
@endpoint("processes.deploy", write=True)
def deploy_process(user):
    name, bpmn, dmn, forms, comment = _upload()
    warnings: list[dict] = []
    definition, created = deploy(bpmn, name, dmn, forms, user, comment=comment, warnings=warnings)
    response = jsonify({"created": created, **definition_json(definition), "warnings": warnings})
    response.status_code = 201 if created else 200
    return response


@bp.post("/processes/<process_id>/validate")
@endpoint("processes.deploy")
def validate_process(user, process_id):
    """What deploying this upload as `process_id` would say, deploying nothing: every error and warning."""
    name, bpmn, dmn, forms, _comment = _upload()
    problems = validate(bpmn, name, dmn, forms, process_id=process_id)
    if any(p.get("unreadable") for p in problems):
        raise DeployError(f"{name} is not a BPMN diagram: {problems[0]['message']}", problems=problems)
    return jsonify({"ok": not any(p["severity"] == "error" for p in problems), "problems": problems})
