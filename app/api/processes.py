"""Process versions: list, deploy, download, diff, make one active, migrate running orders (analysts and admins)."""
from __future__ import annotations

import json
from dataclasses import dataclass

from flask import Response, jsonify, request
from sqlalchemy import func, select

from app.api import bp
from app.api.auth import endpoint, json_body
from app.api.schemas import _iso
from app.errors import DeployError, NotFound, ValidationError
from app.extensions import db
from app.models import Order, ProcessDefinition, ProcessInstance, ProcessMigration
from app.services.inputs import body_object, body_text
from app.usecases import migration as migrations
from app.usecases import versions
from app.usecases.deploy import activate, active_version, deploy_bundle, validate


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


@dataclass
class Upload:
    """A deploy's files: one or more BPMN (the first is the main file when several), DMN and forms."""

    bpmn: dict[str, bytes]
    dmn: dict[str, bytes]
    forms: dict[str, bytes]
    comment: str
    replace: bool


def _flag(value, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in (None, "", "false", "0", "off", "no"):
        return False
    if value in ("true", "1", "on", "yes"):
        return True
    raise ValidationError(f"'{name}': ожидается true или false", fields={name: "true или false"})


def _upload() -> Upload:
    """Multipart (bpmn[], dmn[], forms[], comment, replace) or JSON {bpmn, bpmn_name, bpmn_files: {name: xml},
    dmn: {name: xml}, forms: {name: schema}, comment, replace}."""
    if request.files:
        parts = request.files.getlist("bpmn")
        if not parts:
            raise ValidationError("A 'bpmn' file is required", fields={"bpmn": "required"})
        bpmn: dict[str, bytes] = {}
        for number, part in enumerate(parts, 1):
            name = part.filename or f"process-{number}.bpmn"
            if name in bpmn:
                raise ValidationError(f"Два файла BPMN с именем '{name}'", fields={"bpmn": f"повтор имени {name}"})
            bpmn[name] = part.read()
        dmn = {f.filename or "decision.dmn": f.read() for f in request.files.getlist("dmn")}
        forms = {f.filename or "form.json": f.read() for f in request.files.getlist("forms")}
        comment = body_text(request.form, "comment", max_length=500, multiline=True)
        return Upload(bpmn, dmn, forms, comment, _flag(request.form.get("replace"), "replace"))
    body = json_body()
    files = body_object(body, "bpmn_files")
    if not isinstance(body.get("bpmn"), str) and not files:
        raise ValidationError("Send multipart files or JSON with a 'bpmn' string or 'bpmn_files'",
                              fields={"bpmn": "required"})
    dmn_files, form_files = body_object(body, "dmn"), body_object(body, "forms")
    bad = {f"bpmn_files.{name}": "Ожидается строка с XML" for name, text in files.items() if not isinstance(text, str)}
    bad.update({f"dmn.{name}": "Ожидается строка с XML" for name, text in dmn_files.items()
                if not isinstance(text, str)})
    bad.update({f"forms.{name}": "Ожидается объект JSON Schema или строка" for name, v in form_files.items()
                if not isinstance(v, (str, dict))})
    if bad:
        raise ValidationError("Проверьте файлы процесса", fields=bad)
    bpmn = {}
    if isinstance(body.get("bpmn"), str):
        bpmn[body_text(body, "bpmn_name", max_length=200) or "process.bpmn"] = body["bpmn"].encode()
    bpmn.update({name: text.encode() for name, text in files.items() if name not in bpmn})
    dmn = {str(name): text.encode() for name, text in dmn_files.items()}
    forms = {str(name): (v if isinstance(v, str) else json.dumps(v)).encode() for name, v in form_files.items()}
    return Upload(bpmn, dmn, forms, body_text(body, "comment", max_length=500, multiline=True),
                  _flag(body.get("replace"), "replace"))


@bp.post("/processes")
@endpoint("processes.deploy", write=True)
def deploy_process(user):
    upload = _upload()
    warnings: list[dict] = []
    deployed = deploy_bundle(upload.bpmn, upload.dmn, upload.forms, user, comment=upload.comment,
                             replace=upload.replace, warnings=warnings)
    assert deployed.main is not None  # only the repository's copy is ever kept out
    definition, created = deployed.main
    response = jsonify({"created": created, **definition_json(definition), "warnings": warnings,
                        "processes": [{"process_id": d.process_id, "version": d.version, "created": new}
                                      for d, new in deployed.processes]})
    response.status_code = 201 if any(new for _d, new in deployed.processes) else 200
    return response


# -- versions, rollback, migration ------------------------------------------------------------------------------

def version_json(d: ProcessDefinition, running: dict[int, int]) -> dict:
    return {"version": d.version, "deployed_at": _iso(d.deployed_at),
            "deployed_by": d.deployed_by.login if d.deployed_by else None, "comment": d.comment,
            "checksum": d.checksum, "running_instances": running.get(d.version, 0), "active": bool(d.active),
            "source": d.source}


@bp.get("/processes/<process_id>/versions")
@endpoint("processes.view")
def process_versions(user, process_id: str):
    found = versions.versions_of(process_id)
    running = versions.running_instances(process_id)
    active = active_version(found)
    return jsonify({"items": [{**version_json(d, running), "active": d is active} for d in found]})


@bp.get("/processes/<process_id>/versions/<int:version>/bpmn")
@endpoint("processes.view")
def version_bpmn(user, process_id: str, version: int):
    definition = versions.version_of(process_id, version)
    return Response(definition.bpmn_xml, mimetype="application/xml", headers={
        "Content-Disposition": f'attachment; filename="{process_id}-v{version}.bpmn"'})


def _version_number(body: dict, name: str) -> int:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10**6:
        raise ValidationError(f"'{name}': ожидается номер версии (целое число от 1)", fields={name: "номер версии"})
    return value


@bp.post("/processes/<process_id>/activate")
@endpoint("processes.activate", write=True)
def activate_version(user, process_id: str):
    number = _version_number(json_body(), "version")
    versions.version_of(process_id, number)
    definition = activate(process_id, number, user)
    running = versions.running_instances(process_id)
    return jsonify({**version_json(definition, running), "active": True})


def migration_selection(body: dict) -> dict:
    """{"orders": [numbers]} | {"stage": name} | {} (all running) from the body; 422 naming the field otherwise."""
    orders, stage = body.get("orders"), body.get("stage")
    if orders is not None and stage is not None:
        raise ValidationError("Выберите заказы списком или этапом, не тем и другим сразу",
                              fields={"stage": "нельзя вместе с orders"})
    if orders is not None:
        limit = Order.number.type.length
        if not isinstance(orders, list) or not orders or len(orders) > 5000 or not all(
                isinstance(n, str) and n.strip() and len(n) <= limit for n in orders):
            raise ValidationError("'orders': ожидается непустой список номеров заказов",
                                  fields={"orders": "список номеров заказов"})
        return {"orders": [n.strip() for n in orders]}
    if stage is not None:
        return {"stage": body_text(body, "stage", max_length=120, required="Укажите этап")}
    return {}


def migration_json(m: ProcessMigration) -> dict:
    return {"id": m.id, "process_id": m.process_id, "from_version": m.from_version, "to_version": m.to_version,
            "selection": m.selection or {}, "status": m.status, "total": m.total, "moved": m.moved,
            "failed": m.failed, "pending": m.total - m.moved - m.failed, "created_at": _iso(m.created_at),
            "finished_at": _iso(m.finished_at),
            "items": [{"order_number": i.order.number, "state": i.state, "reason": i.reason} for i in m.items]}


@bp.post("/processes/<process_id>/migrations")
@endpoint("processes.migrate", write=True)
def migrate_orders(user, process_id: str):
    body = json_body()
    from_version, to_version = _version_number(body, "from_version"), _version_number(body, "to_version")
    selection = migration_selection(body)
    dry = body.get("dry_run", True)
    if not isinstance(dry, bool):
        raise ValidationError("'dry_run': ожидается true или false", fields={"dry_run": "true или false"})
    if dry:
        return jsonify({"dry_run": True, "items": migrations.dry_run(process_id, from_version, to_version,
                                                                     selection)})
    migration, items, job_id = migrations.start_migration(process_id, from_version, to_version, selection, user)
    response = jsonify({"dry_run": False, "items": items, "migration_id": migration.id, "job_id": job_id})
    response.status_code = 202
    return response


@bp.get("/processes/<process_id>/migrations/<int:migration_id>")
@endpoint("processes.view")
def migration_progress(user, process_id: str, migration_id: int):
    migration = db.session.get(ProcessMigration, migration_id)
    if migration is None or migration.process_id != process_id:
        raise NotFound(f"Перенос {migration_id} не найден", fields={"migration_id": "unknown"})
    return jsonify(migration_json(migration))
@bp.post("/processes/<process_id>/validate")
@endpoint("processes.deploy")
def validate_process(user, process_id):
    """What deploying this upload as `process_id` would say, deploying nothing: every error and warning."""
    upload = _upload()
    problems = validate(upload.bpmn, "", upload.dmn, upload.forms, process_id=process_id)
    unreadable = next((p for p in problems if p.get("unreadable")), None)
    if unreadable is not None:
        raise DeployError(f"{unreadable['file']} is not a BPMN diagram: {unreadable['message']}", problems=problems)
    return jsonify({"ok": not any(p["severity"] == "error" for p in problems), "problems": problems})
