"""Excel import of orders over the API: the template, a dry run or an import of a workbook, an import's progress."""
from __future__ import annotations

from io import BytesIO

from flask import jsonify, request, send_file

from app.api import bp
from app.api.auth import endpoint
from app.api.openapi import PATHS, _op, _path
from app.api.schemas import COMPONENTS, ID, STAMP, nullable, obj, ref
from app.errors import NotFound, ValidationError
from app.extensions import db
from app.models import OrderImport
from app.services import order_import
from app.usecases import imports

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _flag(value: str | None) -> bool:
    """`dry_run`: true unless it says false; anything else is a 422 naming it."""
    if value in (None, "", "true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off"):
        return False
    raise ValidationError("'dry_run': ожидается true или false", fields={"dry_run": "true или false"})


def check_json(check: order_import.Check) -> dict:
    return {"rows": check.rows, "valid": len(check.accepted), "errors": check.errors,
            "orders": [{"row": item["row"], "external_ref": item["ref"], "kind": item["payload"]["kind"],
                        "customer": item["payload"]["customer"]["name"], "address": item["payload"]["address"]}
                       for item in check.accepted]}


def import_json(record: OrderImport) -> dict:
    return {"id": record.id, "file_name": record.file_name, "sha256": record.sha256, "status": record.status,
            "uploaded_by": record.uploaded_by.login if record.uploaded_by else None, "rows": record.rows,
            "valid": record.valid, "created": record.created, "failed": record.failed, "started": record.started,
            "errors": list(record.errors or ()), "created_at": record.created_at.isoformat(),
            "finished_at": record.finished_at.isoformat() if record.finished_at else None}


@bp.get("/imports/orders/template.xlsx")
@endpoint("orders.import")
def import_template(user):
    return send_file(BytesIO(order_import.template()), mimetype=XLSX, as_attachment=True,
                     download_name="import-zakazov.xlsx")


@bp.post("/imports/orders")
@endpoint("orders.import", write=True)
def import_orders(user):
    upload = request.files.get("file")
    if upload is None:
        raise ValidationError("Приложите файл Excel в поле 'file'", fields={"file": "обязательно"})
    dry = _flag(request.form.get("dry_run", request.args.get("dry_run")))
    data = upload.read()
    if dry:
        return jsonify({"dry_run": True, **check_json(imports.dry_run(data)), "import_id": None, "job_id": None})
    record, check, job_id = imports.start_import(data, upload.filename or "", user)
    response = jsonify({"dry_run": False, **check_json(check), "import_id": record.id, "job_id": job_id})
    response.status_code = 202
    return response


@bp.get("/imports/<int:import_id>")
@endpoint("orders.import")
def import_progress(user, import_id: int):
    record = db.session.get(OrderImport, import_id)
    if record is None:
        raise NotFound(f"Импорт {import_id} не найден", fields={"import_id": "unknown"})
    return jsonify(import_json(record))


ROW_ERROR = obj({"row": {"type": "integer", "minimum": 1, "description": "the row number as Excel shows it"},
                 "column": {"type": "string", "description": "the column's header"},
                 "message": {"type": "string", "description": "why the row is not taken, in Russian"}})
COMPONENTS["ImportRowError"] = ROW_ERROR
COMPONENTS["ImportCheck"] = obj({
    "dry_run": {"type": "boolean"}, "rows": {"type": "integer", "minimum": 0},
    "valid": {"type": "integer", "minimum": 0, "description": "rows that would become orders"},
    "errors": {"type": "array", "items": ref("ImportRowError")},
    "orders": {"type": "array", "description": "what would be created", "items": obj({
        "row": {"type": "integer"}, "external_ref": {"type": "string"}, "kind": {"type": "string"},
        "customer": {"type": "string"}, "address": {"type": "string"}})},
    "import_id": nullable(ID), "job_id": nullable(ID)})
COMPONENTS["OrderImport"] = obj({
    "id": ID, "file_name": {"type": "string"}, "sha256": {"type": "string"},
    "status": {"enum": ["queued", "running", "done"]}, "uploaded_by": nullable({"type": "string"}),
    "rows": {"type": "integer", "minimum": 0}, "valid": {"type": "integer", "minimum": 0},
    "created": {"type": "integer", "minimum": 0}, "failed": {"type": "integer", "minimum": 0},
    "started": {"type": "integer", "minimum": 0,
                "description": "created orders whose process has started (workers start them beside the import)"},
    "errors": {"type": "array", "items": ref("ImportRowError")}, "created_at": STAMP,
    "finished_at": nullable(STAMP)})
PATHS["/imports/orders/template.xlsx"] = {"get": _op(
    "The Excel template for importing orders: the columns, and a sheet explaining each",
    {200: ("the workbook", {"content": {XLSX: {"schema": {"type": "string", "format": "binary"}}}}),
     403: "sales, the director and admins only"}, tag="imports")}
_import = _op("Check a workbook of orders (dry_run=true, the default) or import it: the import runs in a worker", {
    200: ("the dry run: every refused row and what would be created", "ImportCheck"),
    202: ("checked and queued: the same answer with the import and its job", "ImportCheck"),
    403: "sales, the director and admins only", 413: "the request is larger than the server takes",
    422: "no file, not a workbook, no header row, too large or too many rows (named `file`), or a bad `dry_run`"},
    tag="imports")
_import["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary", "description": "the filled-in template (.xlsx)"},
        "dry_run": {"type": "string", "enum": ["true", "false"]}}}}}}
PATHS["/imports/orders"] = {"post": _import}
PATHS["/imports/{import_id}"] = {"get": _op(
    "An import's progress: rows created and refused so far, each refusal with its row and column, and how many"
    " of the created orders have their process started",
    {200: ("progress", "OrderImport"), 403: "sales, the director and admins only", 404: "no such import"},
    params=[_path("import_id", ID)], tag="imports")}
