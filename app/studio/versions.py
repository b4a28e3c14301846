"""Studio pages for versions: the list (download, make active), the diff of two, migrating running orders."""
from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app import policy
from app.errors import BespokeError, ValidationError
from app.extensions import db
from app.models import ProcessMigration
from app.studio import bp
from app.usecases import migration as migrations
from app.usecases import versions
from app.usecases.deploy import activate, active_version
from app.usecases.uow import discard, unit_of_work
from app.web import action, allowed


@bp.get("/<process_id>/versions")
@allowed("studio.view")
def versions_page(process_id: str):
    found = versions.versions_of(process_id)
    return render_template("studio/versions.html", process_id=process_id, versions=found,
                           active=active_version(found), running=versions.running_instances(process_id),
                           can_activate=policy.can(current_user, "processes.activate"),
                           can_migrate=policy.can(current_user, "processes.migrate"))


@bp.get("/<process_id>/versions/<int:version>/bpmn")
@allowed("studio.view")
def version_bpmn(process_id: str, version: int):
    definition = versions.version_of(process_id, version)
    download = request.args.get("download") is not None
    return Response(definition.bpmn_xml, mimetype="application/xml", headers={
        "Content-Disposition": f'{"attachment" if download else "inline"}; filename="{process_id}-v{version}.bpmn"'})


@bp.post("/<process_id>/activate")
@allowed("processes.activate")
@action
def activate_page(process_id: str):
    raw = request.form.get("version", "")
    if not raw.isdigit():
        raise ValidationError(_("Выберите версию"), fields={"version": "required"})
    before = active_version(versions.versions_of(process_id))
    target = activate(process_id, int(raw), current_user)
    flash(_("Новые заказы получают v%(new)d (было v%(old)d)", new=target.version,
            old=before.version if before else target.version), "success")
    return redirect(url_for("studio.versions_page", process_id=process_id))


def _number(name: str) -> int | None:
    raw = request.values.get(name, "")
    return int(raw) if raw.isdigit() else None


@bp.get("/<process_id>/diff")
@allowed("studio.view")
def diff_page(process_id: str):
    found = versions.versions_of(process_id)
    old = _number("from") or (found[1].version if len(found) > 1 else found[0].version)
    new = _number("to") or found[0].version
    try:
        diff = versions.compare(process_id, old, new)
    except BespokeError as exc:
        flash(exc.message, "error")
        return redirect(url_for("studio.versions_page", process_id=process_id))
    return render_template("studio/diff.html", process_id=process_id, versions=found, diff=diff)


def _selection(form) -> dict:
    mode = form.get("mode", "all")
    if mode == "stage":
        stage = form.get("stage", "").strip()
        if not stage:
            raise ValidationError(_("Выберите этап"), fields={"stage": _("Выберите этап")})
        return {"stage": stage}
    if mode == "orders":
        numbers = [n.strip() for n in form.get("orders", "").replace(",", " ").split() if n.strip()]
        if not numbers:
            raise ValidationError(_("Перечислите номера заказов"), fields={"orders": _("Перечислите номера заказов")})
        if any(len(n) > 20 for n in numbers):
            raise ValidationError(_("Номер заказа длиннее 20 знаков"), fields={"orders": _("Проверьте номера")})
        return {"orders": numbers}
    return {}


@bp.route("/<process_id>/migrate", methods=["GET", "POST"])
@allowed("studio.view", write="processes.migrate")
def migrate_page(process_id: str):
    """Choose versions and orders, see the dry run, then start the move (a background job)."""
    found = versions.versions_of(process_id)
    form = request.form if request.method == "POST" else request.args
    running = versions.running_instances(process_id)
    default_from = next((v.version for v in sorted(found, key=lambda v: v.version) if running.get(v.version)),
                        found[-1].version)
    old, new = _number("from_version") or default_from, _number("to_version") or found[0].version
    errors: dict = {}
    results = None
    try:
        stages = migrations.waiting_stages(process_id, old)
    except BespokeError:
        stages = []
    if request.method == "POST":
        try:
            selection = _selection(form)
            if form.get("run"):
                with unit_of_work():
                    migration, _items, _job = migrations.start_migration(process_id, old, new, selection,
                                                                         current_user)
                return redirect(url_for("studio.migration_page", migration_id=migration.id))
            results = migrations.dry_run(process_id, old, new, selection)
        except BespokeError as exc:
            discard()
            errors = dict(exc.fields) or {"_": exc.message}
            flash(exc.message, "error")
    return render_template("studio/migrate.html", process_id=process_id, versions=found, running=running,
                           old=old, new=new, stages=stages, form=form, errors=errors, results=results)


@bp.get("/migrations/<int:migration_id>")
@allowed("studio.view")
def migration_page(migration_id: int):
    migration = db.session.get(ProcessMigration, migration_id)
    if migration is None:
        abort(404)
    return render_template("studio/migration.html", migration=migration)
