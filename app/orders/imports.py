"""The Excel import page: download the template, check a filled-in workbook, import it and watch the worker."""
from __future__ import annotations

from io import BytesIO

from flask import current_app, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from sqlalchemy import select

from app.errors import NotFound, ValidationError
from app.extensions import db
from app.models import OrderImport
from app.orders import bp
from app.services import order_import
from app.usecases import imports
from app.web import allowed

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _recent() -> list[OrderImport]:
    return list(db.session.execute(select(OrderImport).order_by(OrderImport.id.desc()).limit(10)).scalars())


@bp.route("/orders/import", methods=["GET", "POST"])
@allowed("orders.import")
def import_page():
    check, errors, kept, file_name = None, {}, None, ""
    if request.method == "POST":
        upload = request.files.get("file")
        data = upload.read() if upload is not None else b""
        file_name = (upload.filename if upload is not None else "") or request.form.get("file_name", "")
        try:
            if not data and request.form.get("checked"):  # «Импортировать» under a check: the file kept then
                data = order_import.checked(request.form["checked"])
            if request.form.get("mode") == "import":
                record, _check, _job = imports.start_import(data, file_name, current_user)
                order_import.forget_checked(record.sha256)
                return redirect(url_for("orders.import_progress", import_id=record.id))
            check = imports.dry_run(data)
            if check.accepted:
                kept = order_import.keep_checked(data)
        except ValidationError as exc:
            errors = exc.fields or {"file": exc.message}
    status = 422 if errors else 200
    return render_template("orders/import.html", check=check, errors=errors, recent=_recent(), kept=kept,
                           file_name=file_name[:255], max_rows=current_app.config["IMPORT_MAX_ROWS"]), status


@bp.get("/orders/import/template.xlsx")
@allowed("orders.import")
def import_template():
    return send_file(BytesIO(order_import.template()), mimetype=XLSX, as_attachment=True,
                     download_name="import-zakazov.xlsx")


@bp.get("/orders/import/<int:import_id>")
@allowed("orders.import")
def import_progress(import_id: int):
    record = db.session.get(OrderImport, import_id)
    if record is None:
        raise NotFound(f"Импорт {import_id} не найден")
    return render_template("orders/import_progress.html", record=record)
