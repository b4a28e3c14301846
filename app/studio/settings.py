"""The studio's settings page of a process: the role that works each lane of its diagram, and who may start it."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.errors import ValidationError
from app.models import LANE_ROLES
from app.studio import bp
from app.usecases import process_settings
from app.usecases.uow import discard
from app.web import allowed


def _submitted(settings: process_settings.Settings, form) -> tuple[dict, list[str]]:
    """(lane → role or None, start roles) as the form says; a lane named by a role code left on its own code, or
    any lane left on «the starter», needs no mapping."""
    lane_roles: dict = {}
    for index, lane in enumerate(settings.lanes):
        value = form.get(f"lane_role_{index}", "")
        own_code = lane.name in LANE_ROLES and value == lane.name
        lane_roles[lane.name] = None if not value or own_code else value
    return lane_roles, form.getlist("start_roles")


@bp.route("/<process_id>/settings", methods=["GET", "POST"])
@allowed("studio.view", write="processes.settings")
def settings_page(process_id: str):
    settings = process_settings.settings_of(process_id)
    chosen = {lane.name: lane.role or "" for lane in settings.lanes}
    start_roles = list(settings.start_roles)
    errors: dict[str, str] = {}
    if request.method == "POST":
        lane_roles, start_roles = _submitted(settings, request.form)
        chosen = {lane.name: request.form.get(f"lane_role_{i}", "") for i, lane in enumerate(settings.lanes)}
        try:
            process_settings.update(process_id, lane_roles, start_roles, current_user)
        except ValidationError as exc:
            discard()
            errors = dict(exc.fields) or {"_": exc.message}
        else:
            flash(_("Настройки процесса сохранены"), "success")
            return redirect(url_for("studio.settings_page", process_id=process_id))
    return render_template("studio/settings.html", settings=settings, chosen=chosen, start_roles=start_roles,
                           roles=process_settings.roles(), errors=errors, role_label=process_settings.role_label,
                           lane_roles=LANE_ROLES), 422 if errors else 200
