"""Task pages: the form rendered from the task's schemas, the order's context beside it; submit and attachments."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

from flask import flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app import clock, policy
from app.engine.bindings import VISIT
from app.errors import Conflict, Forbidden, NotFound
from app.extensions import db
from app.forms_ui import FormExtras, parse_form, render_form
from app.models import Attachment, Claim, HumanTask, Note, Order, OrderStatus, Role, User
from app.services.attachments import attachment_ids, file_path, send_attachment
from app.services.bindings import order_tasks
from app.services.calendar import company_tz
from app.services.dates import to_datetime
from app.services.documents import plural_ru
from app.services.forms import prepare_schema
from app.tasks import bp
from app.usecases import process
from app.usecases import tasks as task_cases
from app.web import allowed, sla_state

# Whose calendar a person picker shows: the order columns that book a person for a time.
BOOKINGS = {"measurer": (Order.measurer_id, Order.visit_at), "installer": (Order.crew_id, Order.delivery_at)}
MEASURED = ("dimensions", "composition", "mounting_notes")


def _load(task_id: int, user: User) -> HumanTask:
    task = task_cases.get_task(task_id)
    policy.ensure(user, "tasks.view", task.order, task)
    return task


def _schemas(task: HumanTask) -> tuple[dict, dict]:
    forms = process.definition_forms(task.instance.definition)
    return forms.get(task.form_schema or "", {}), forms.get(task.form_ui_schema or "", {})


def _may_act(task: HumanTask, user: User) -> bool:
    return task.state == "open" and policy.can(user, "tasks.complete", task)


def _visits_label(times: list[str]) -> str:
    count = len(times)
    if str(get_locale()) == "ru":
        word = plural_ru(count, "выезд", "выезда", "выездов")
    else:
        word = "visit" if count == 1 else "visits"
    return f"{count} {word}: {', '.join(times)}" if times else _("нет выездов")


def _day_of(data: dict) -> datetime:
    """The day the picker's bookings are shown for: the form's chosen date-time, else today (company's zone)."""
    for value in data.values():
        moment = to_datetime(value) if isinstance(value, str) and "T" in value else None
        if moment is not None:
            return moment.astimezone(company_tz())
    return clock.now(company_tz())


def person_notes(schema: dict, data: dict) -> dict[str, str]:
    """For each role picker: login → "2 выезда: 10:00, 14:30" on the chosen day."""
    roles = {node["x-choices"].split(":", 1)[1] for node in (schema.get("properties") or {}).values()
             if isinstance(node.get("x-choices"), str) and node["x-choices"].startswith("role:")}
    day = _day_of(data)
    start = datetime.combine(day.date(), time.min, company_tz()).astimezone(timezone.utc)
    notes: dict[str, str] = {}
    for role in roles & BOOKINGS.keys():
        person_col, at_col = BOOKINGS[role]
        rows = db.session.execute(
            select(User.login, at_col).join(Order, person_col == User.id)
            .where(at_col >= start, at_col < start + timedelta(days=1), Order.status != OrderStatus.CANCELLED)
            .order_by(at_col)).all()
        booked: dict[str, list[str]] = {}
        for login, at in rows:
            if at is not None:
                booked.setdefault(login, []).append(at.astimezone(company_tz()).strftime("%H:%M"))
        for login in _people(role):
            notes[login] = _visits_label(booked.get(login, []))
    return notes


def _people(role: str) -> list[str]:
    return list(db.session.execute(select(User.login).join(User.roles)
                                   .where(Role.code == role, User.active.is_(True))).scalars())


def _order_context(order) -> dict:
    """What the aside shows about an order: its measurements, latest notes, claims and their photos."""
    measurements = [t for t in order.human_tasks.filter(order_tasks(order, VISIT, "measurement"),
                                                        HumanTask.state == "completed")
                    .order_by(HumanTask.completed_at.desc()) if any((t.data or {}).get(k) for k in MEASURED)]
    notes = db.session.execute(select(Note).where(Note.order_id == order.id)
                               .order_by(Note.created_at.desc(), Note.id.desc()).limit(5)).scalars().all()
    claims = db.session.execute(select(Claim).where(Claim.order_id == order.id).order_by(Claim.id.desc())
                                ).scalars().all()
    photo_ids = [i for c in claims for i in c.photos or []]
    photos = {a.id: a for a in db.session.execute(select(Attachment).where(Attachment.id.in_(photo_ids or [0]),
                                                                           Attachment.order_id == order.id)).scalars()}
    return dict(measurements=measurements, notes=notes, claims=claims, claim_photos=photos)


def _page(task: HumanTask, user: User, data: dict, errors: dict, *, use_defaults: bool, status: int = 200):
    schema, ui = _schemas(task)
    prepared = prepare_schema(schema)
    order = task.order
    may_act = _may_act(task, user)
    names = {} if order is None else {str(a.id): a.filename for a in db.session.execute(
        select(Attachment).where(Attachment.order_id == order.id,
                                 Attachment.id.in_(attachment_ids(schema, data) or [0]))).scalars()}
    extras = FormExtras(person_notes=person_notes(prepared, data), attachment_names=names,
                        attachment_url=lambda key: url_for("tasks.attachment", attachment_id=int(key)),
                        readonly=not may_act)
    form_html = render_form(prepared, ui, data, errors, extras=extras, use_defaults=use_defaults)
    top_errors = [errors[k] for k in ("_task", "_form") if k in errors]
    # An order's tasks are its stages; a process no order started lists its own tasks.
    stages = db.session.execute(select(HumanTask).where(HumanTask.instance_id == task.instance_id)
                                .order_by(HumanTask.created_at, HumanTask.id)).scalars().all() \
        if order is None else order.human_tasks.order_by(HumanTask.created_at, HumanTask.id).all()
    context = _order_context(order) if order is not None else dict(
        measurements=[], notes=[], claims=[], claim_photos={})
    return render_template(
        "tasks/show.html", task=task, order=order, instance=task.instance, schema=prepared, form_html=form_html,
        errors=errors, top_errors=top_errors, may_act=may_act, sla=sla_state(task.due_at, task.created_at),
        can_claim=task.state == "open" and task.assignee_id is None and policy.can(user, "tasks.claim", task),
        stages=stages,
        **context), status


@bp.get("/tasks/<int:task_id>")
@allowed("tasks.view")
def show(task_id: int):
    user = current_user._get_current_object()
    task = _load(task_id, user)
    return _page(task, user, dict(task.data or {}), {}, use_defaults=task.state == "open")


@bp.post("/tasks/<int:task_id>")
@allowed("tasks.complete")
def submit(task_id: int):
    user = current_user._get_current_object()
    task = _load(task_id, user)
    task_cases.ensure_can_act(task, user)  # before any file is written
    schema, _ui = _schemas(task)
    data, uploads = parse_form(schema, request.form, request.files)
    try:
        errors = task_cases.complete_task_with_files(task.id, data, uploads, user)
    except Conflict as exc:
        if exc.details.get("instance_status") != "suspended":
            raise
        flash(exc.message, "error")  # the process stands still: say why, and keep what was typed for later
        return _page(task_cases.get_task(task_id), user, data, {}, use_defaults=False, status=409)
    if errors:
        return _page(task_cases.get_task(task_id), user, data, errors, use_defaults=False, status=422)
    flash(_("Задача выполнена"), "success")
    return redirect(url_for("inbox.next_task"))


@bp.get("/attachments/<int:attachment_id>")
@allowed("orders.view")
def attachment(attachment_id: int):
    user = current_user._get_current_object()
    row = db.session.get(Attachment, attachment_id)
    if row is None:
        raise NotFound(_("Файл не найден"))
    visible = db.session.execute(policy.visible_orders(user).where(Order.id == row.order_id)).first()
    if visible is None:
        raise Forbidden(_("Нет доступа к файлам этого заказа"))
    if row.url and not row.storage_path:
        return redirect(row.url)
    path = file_path(row)
    if not path.is_file():
        raise NotFound(_("Файл не найден в хранилище"))
    return send_attachment(row)
