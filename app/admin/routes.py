"""Admin pages: incidents (retry / skip with a result) and notification templates (edit, preview, reset)."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import delete, func, select

from app import policy
from app.admin import bp
from app.errors import BespokeError, ValidationError
from app.extensions import db
from app.models import NotificationTemplate, Order, OutboxJob
from app.services.inputs import parse_json
from app.services.notification_templates import (
    DEFAULTS,
    EVENT_LABELS,
    LOCALES,
    check_template,
    preview,
    template_for,
)
from app.usecases.incidents import list_incidents, retry_incident, skip_incident
from app.usecases.uow import discard, unit_of_work
from app.web import action, allowed

VARIABLES = ["order.number", "order.customer.name", "order.kind_label", "order.address", "order.visit_at | local_time",
             "order.measurer.name", "order.delivery_at | local_time", "order.price", "status_url",
             "params.get('reason')", "params.get('stage_name')", "params.get('due_at') | local_time",
             "company.name", "company.phone"]


def incident_count() -> int:
    """For the menu badge: one indexed COUNT."""
    return db.session.execute(select(func.count()).select_from(OutboxJob).where(OutboxJob.status == "incident")
                              ).scalar() or 0


@bp.get("/incidents")
@allowed("incidents.view")
def incidents():
    can_act = policy.can(current_user, "incidents.resolve")
    return render_template("admin/incidents.html", jobs=list_incidents(), can_act=can_act, skip_errors={},
                           skip_form={})


@bp.post("/incidents/<int:job_id>/retry")
@allowed("incidents.resolve")
@action
def retry(job_id: int):
    retry_incident(job_id, current_user)
    flash(_("Задание %(id)d поставлено в очередь заново", id=job_id), "success")
    return redirect(url_for("admin.incidents"))


@bp.post("/incidents/<int:job_id>/skip")
@allowed("incidents.resolve")
def skip(job_id: int):
    """Not through @action: a refused form is shown again with what was typed, not flashed away."""
    reason, raw = request.form.get("reason", ""), request.form.get("result", "").strip()
    errors = {}
    result = None
    try:  # as strictly as an API body: no NaN, no nesting past the limit
        result = parse_json(raw.encode()) if raw else None
    except BespokeError as exc:
        errors["result"] = _("Результат — не JSON: %(error)s", error=next(iter(exc.fields.values()), exc.message))
    if result is not None and not isinstance(result, dict):
        errors["result"] = _("Результат должен быть объектом JSON, например {\"status\": \"sent_by_hand\"}")
    if not errors:
        try:
            skip_incident(job_id, current_user, result, reason)
            flash(_("Задание %(id)d пропущено, процесс продолжен", id=job_id), "success")
            return redirect(url_for("admin.incidents"))
        except ValidationError as exc:
            errors.update(exc.fields or {"reason": exc.message})
        except BespokeError as exc:  # retried or skipped meanwhile by someone else: say so, as retry does
            flash(exc.message, "error")
            return redirect(url_for("admin.incidents"))
    discard()
    return render_template("admin/incidents.html", jobs=list_incidents(), can_act=True, skip_errors={job_id: errors},
                           skip_form={job_id: {"reason": reason, "result": raw}}), 422


@bp.get("/notifications")
@allowed("notifications.edit")
def notifications():
    edited = {(t.event, t.locale): t for t in db.session.execute(select(NotificationTemplate)).scalars()}
    return render_template("admin/notifications.html", events=list(DEFAULTS), labels=EVENT_LABELS, locales=LOCALES,
                           edited=edited)


def _event(event: str, locale: str) -> None:
    if event not in DEFAULTS or locale not in LOCALES:
        abort(404)


@bp.get("/notifications/<event>/<locale>")
@allowed("notifications.edit")
def edit_notification(event: str, locale: str):
    _event(event, locale)
    subject, text, html = template_for(event, locale)
    return _edit_page(event, locale, {"subject": subject, "text": text, "html": html or ""}, {})


def _edit_page(event: str, locale: str, form: dict, errors: dict, status: int = 200, shown=None):
    custom = db.session.execute(select(NotificationTemplate.id).where(
        NotificationTemplate.event == event, NotificationTemplate.locale == locale)).first() is not None
    return render_template("admin/notification_edit.html", event=event, locale=locale, label=EVENT_LABELS.get(event),
                           form=form, errors=errors, custom=custom, variables=VARIABLES, shown=shown), status


def _draft() -> dict:
    return {"subject": request.form.get("subject", "").strip(), "text": request.form.get("text", "").strip(),
            "html": request.form.get("html", "").strip()}


def _rendered(event: str, locale: str, draft: dict, order: Order | None) -> dict:
    """Render the draft on an order; every way it can break comes back as a ValidationError for the admin."""
    return preview(event, locale, draft["subject"], draft["text"], draft["html"] or None, order)


def _check(draft: dict) -> dict:
    errors = {}
    if not draft["subject"]:
        errors["subject"] = _("Укажите тему")
    if not draft["text"]:
        errors["text"] = _("Укажите текст: он уходит в SMS и в текстовую часть письма")
    return errors


@bp.post("/notifications/<event>/<locale>/preview")
@allowed("notifications.edit")
def preview_notification(event: str, locale: str):
    _event(event, locale)
    draft = _draft()
    try:
        shown = _rendered(event, locale, draft, None)
    except ValidationError as exc:
        return render_template("admin/_preview.html", error=exc.message), 422
    return render_template("admin/_preview.html", shown=shown)


@bp.post("/notifications/<event>/<locale>")
@allowed("notifications.edit")
def save_notification(event: str, locale: str):
    _event(event, locale)
    draft = _draft()
    errors = _check(draft)
    if not errors:
        order = db.session.execute(select(Order).order_by(Order.id.desc()).limit(1)).scalar_one_or_none()
        try:  # a template that cannot render is refused before anyone gets it
            draft_template = (draft["subject"], draft["text"], draft["html"] or None)
            check_template(*draft_template)
            if order is not None:
                _rendered(event, locale, draft, order)
        except ValidationError as exc:
            errors["template"] = exc.message
    if errors:
        discard()
        return _edit_page(event, locale, draft, errors, 422)
    with unit_of_work():
        row = db.session.execute(select(NotificationTemplate).where(
            NotificationTemplate.event == event, NotificationTemplate.locale == locale)).scalar_one_or_none()
        if row is None:
            row = NotificationTemplate(event=event, locale=locale)
            db.session.add(row)
        row.subject, row.text, row.html, row.updated_by_id = draft["subject"], draft["text"], draft["html"] or None, \
            current_user.id
    flash(_("Шаблон сохранён: следующие уведомления уйдут с новым текстом"), "success")
    return redirect(url_for("admin.edit_notification", event=event, locale=locale))


@bp.post("/notifications/<event>/<locale>/reset")
@allowed("notifications.edit")
@action
def reset_notification(event: str, locale: str):
    _event(event, locale)
    db.session.execute(delete(NotificationTemplate).where(NotificationTemplate.event == event,
                                                          NotificationTemplate.locale == locale))
    flash(_("Возвращён стандартный текст"), "success")
    return redirect(url_for("admin.edit_notification", event=event, locale=locale))
