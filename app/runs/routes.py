"""«Процессы» pages: what the user may start (with the start event's form), the instances they may see, one
instance's page with its data, tasks and history; an admin cancels it there."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import Select, func, select

from app import policy
from app.engine.inspect import picture
from app.errors import ValidationError
from app.extensions import db
from app.forms_ui import parse_form, render_form
from app.i18n import N_
from app.models import AuditEvent, HumanTask, ProcessDefinition, ProcessInstance, User
from app.runs import bp
from app.runs.export import instances_workbook
from app.services.forms import prepare_schema
from app.services.inputs import int_arg
from app.services.workbooks import download
from app.usecases import instances, process, runs
from app.web import action, allowed

PER_PAGE = 30


def _user() -> User:
    return current_user._get_current_object()


def startable(user: User) -> list[ProcessDefinition]:
    """The version new instances get of every deployed process the user may start (the order lifecycle is
    started by its orders)."""
    rows = db.session.execute(select(ProcessDefinition).where(ProcessDefinition.process_id != process.ORDER_PROCESS)
                              .order_by(ProcessDefinition.process_id, ProcessDefinition.active.desc(),
                                        ProcessDefinition.version.desc())).scalars()
    newest: dict[str, ProcessDefinition] = {}
    for definition in rows:
        newest.setdefault(definition.process_id, definition)
    return sorted((d for d in newest.values() if policy.can(user, "processes.start", d.process_id)),
                  key=lambda d: (d.name or d.process_id).lower())


def _open_counts(ids: list[int]) -> dict[int, int]:
    return dict(db.session.execute(select(HumanTask.instance_id, func.count()).where(
        HumanTask.instance_id.in_(ids or [0]), HumanTask.state == "open").group_by(HumanTask.instance_id)).all())


def listed_instances(user: User, args) -> Select:
    """The instances the user may see, narrowed by process and status, newest first: the page and its workbook."""
    query = policy.visible_instances(user).join(ProcessInstance.definition)
    process_id, status = args.get("process_id", ""), args.get("status", "")
    if process_id:
        query = query.where(ProcessDefinition.process_id == process_id)
    if status in runs.STATUSES:
        query = query.where(ProcessInstance.status == status)
    return query.order_by(ProcessInstance.created_at.desc(), ProcessInstance.id.desc())


@bp.get("/processes.xlsx")
@allowed("instances.list")
def export():
    return download(instances_workbook(listed_instances(_user(), request.args)), "processy")


@bp.get("/processes")
@allowed("instances.list")
def index():
    user = _user()
    query = listed_instances(user, request.args)
    total = db.session.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    page = int_arg(request.args, "page", 1, 1, 10**6, strict=False)
    instances = db.session.execute(query.offset((page - 1) * PER_PAGE).limit(PER_PAGE)).scalars().all()
    processes = db.session.execute(select(ProcessDefinition.process_id, func.max(ProcessDefinition.name))
                                   .where(ProcessDefinition.process_id != process.ORDER_PROCESS)
                                   .group_by(ProcessDefinition.process_id).order_by(ProcessDefinition.process_id)
                                   ).all()
    return render_template("runs/index.html", startable=startable(user), instances=instances,
                           open_counts=_open_counts([i.id for i in instances]), total=total, page=page,
                           pages=max(1, (total + PER_PAGE - 1) // PER_PAGE), args=request.args,
                           processes=processes, statuses=runs.STATUSES)


def _start_page(definition: ProcessDefinition, schema: dict, data: dict, errors: dict, status: int = 200):
    form_html = render_form(prepare_schema(schema), {}, data, errors, use_defaults=not data) if schema else None
    return render_template("runs/start.html", definition=definition, schema=schema, form_html=form_html,
                           errors=errors, top_errors=[errors[k] for k in ("_task", "_form", "data") if k in errors]
                           ), status


@bp.get("/processes/<process_id>/start")
@allowed("processes.start")
def start_page(process_id: str):
    policy.ensure(_user(), "processes.start", process_id)
    definition = runs.startable_definition(process_id)
    _name, schema = runs.start_form(definition)
    return _start_page(definition, schema, {}, {})


@bp.post("/processes/<process_id>/start")
@allowed("processes.start")
def start(process_id: str):
    user = _user()
    policy.ensure(user, "processes.start", process_id)
    definition = runs.startable_definition(process_id)
    _name, schema = runs.start_form(definition)
    data, _uploads = parse_form(schema, request.form, request.files)
    try:
        instance = runs.start(process_id, data, user)  # its own unit of work
    except ValidationError as exc:
        fields = exc.fields or {"_form": exc.message}
        return _start_page(runs.startable_definition(process_id), schema, data, fields, status=422)
    flash(_("Процесс «%(name)s» запущен: №%(id)s", name=definition.name or process_id, id=instance.id), "success")
    own = next((t for t in runs.open_tasks(instance) if t.assignee_id == user.id), None)
    if own is not None:
        return redirect(url_for("tasks.show", task_id=own.id))
    return redirect(url_for("runs.instance", instance_id=instance.id))


@bp.get("/processes/instances/<int:instance_id>")
@allowed("instances.read")
def instance(instance_id: int):
    user = _user()
    found = runs.get_instance(instance_id, user)
    history = db.session.execute(select(AuditEvent).where(AuditEvent.instance_id == found.id)
                                 .order_by(AuditEvent.at, AuditEvent.id)).scalars().all()
    tasks = db.session.execute(select(HumanTask).where(HumanTask.instance_id == found.id)
                               .order_by(HumanTask.created_at, HumanTask.id)).scalars().all()
    shown = picture(process.workflow_of(found))  # the diagram's elements done / active / waiting, flows taken
    admin = found.order_id is None and policy.can(user, "instances.admin")
    return render_template("runs/instance.html", instance=found, data=runs.instance_data(found), tasks=tasks,
                           history=history, bpmn_xml=found.definition.bpmn_xml,
                           diagram={"elements": shown.elements, "flows": shown.flows},
                           may_cancel=admin and found.status in ("running", "suspended", "error"),
                           admin_actions=[(name, _(label)) for name, label, status in ADMIN_ACTIONS
                                          if admin and found.status == status])


# The admin's hand on a running process (orders have theirs on the studio's page): action, label, status it needs.
ADMIN_ACTIONS = (("suspend", N_("Приостановить"), "running"), ("resume", N_("Возобновить"), "suspended"),
                 ("retry", N_("Повторить шаг"), "error"))


@bp.post("/processes/instances/<int:instance_id>/suspend", defaults={"name": "suspend"})
@bp.post("/processes/instances/<int:instance_id>/resume", defaults={"name": "resume"})
@bp.post("/processes/instances/<int:instance_id>/retry", defaults={"name": "retry"})
@allowed("instances.admin")
@action
def admin_action(instance_id: int, name: str):
    user = _user()
    found = runs.get_instance(instance_id, user)
    reason = (request.form.get("reason") or "").strip()
    {"suspend": instances.suspend, "resume": instances.resume, "retry": instances.retry}[name](found, user, reason)
    flash(_("Готово: %(what)s", what=_(dict((n, label) for n, label, _s in ADMIN_ACTIONS)[name])), "success")
    return redirect(url_for("runs.instance", instance_id=instance_id))


@bp.post("/processes/instances/<int:instance_id>/cancel")
@allowed("instances.admin")
@action
def cancel(instance_id: int):
    runs.cancel(instance_id, _user(), (request.form.get("reason") or "").strip())
    flash(_("Процесс №%(id)s отменён", id=instance_id), "success")
    return redirect(url_for("runs.instance", instance_id=instance_id))
