"""Report builder pages: the list of saved reports, the builder form with its result, Excel, save and delete."""
from __future__ import annotations

from io import BytesIO

from flask import flash, redirect, render_template, request, send_file, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from app import policy
from app.errors import ValidationError
from app.models import ROLES
from app.models.reports import FORMATS, SCHEDULES
from app.reports import bp
from app.services import report_files, reports
from app.usecases import reports as saved
from app.web import action, allowed

FILTER_SLOTS = 3
SCHEDULE_LABELS = {"none": _l("не рассылать"), "daily": _l("ежедневно"), "weekly": _l("по понедельникам"),
                   "monthly": _l("1-го числа")}
AGGREGATE_LABELS = {"count": _l("Количество"), "sum": _l("Итого (сумма)"), "avg": _l("Среднее"), "min": _l("Минимум"),
                    "max": _l("Максимум")}
OPERATOR_LABELS = {"equals": _l("равно"), "in": _l("одно из (через запятую)"), "between": _l("в период"),
                   "contains": _l("содержит")}


def raw_definition(form: MultiDict) -> dict:
    """The builder form's fields as a definition for reports.parse (which checks every name against the list)."""
    filters = []
    for slot in range(1, FILTER_SLOTS + 1):
        field = form.get(f"f{slot}_field", "")
        if field:
            filters.append({"field": field, "op": form.get(f"f{slot}_op", ""), "value": form.get(f"f{slot}_value", ""),
                            "value_to": form.get(f"f{slot}_to", "")})
    return {"source": form.get("source", "orders"), "columns": form.getlist("columns"),
            "group_by": [{"field": form.get(f"group{n}"), "bucket": form.get(f"group{n}_bucket", "")}
                         for n in (1, 2) if form.get(f"group{n}")],
            "aggregate": form.get("aggregate", "count"), "measure": form.get("measure", ""), "filters": filters}


def form_of(definition: dict) -> MultiDict:
    """A saved definition as the builder form's fields (to open it for editing)."""
    pairs = [("source", definition.get("source", "orders")), ("aggregate", definition.get("aggregate", "count")),
             ("measure", definition.get("measure", ""))]
    pairs += [("columns", name) for name in definition.get("columns", [])]
    for index, group in enumerate(definition.get("group_by", [])[:2], 1):
        name, bucket = (group.get("field", ""), group.get("bucket", "")) if isinstance(group, dict) else (group, "")
        pairs.append((f"group{index}", name))
        if bucket:
            pairs.append((f"group{index}_bucket", bucket))
    for slot, item in enumerate(definition.get("filters", [])[:FILTER_SLOTS], 1):
        pairs += [(f"f{slot}_field", item.get("field", "")), (f"f{slot}_op", item.get("op", "")),
                  (f"f{slot}_value", item.get("value", "")), (f"f{slot}_to", item.get("value_to", ""))]
    return MultiDict(pairs)


def _builder(form: MultiDict, *, report=None, run: bool = True, errors: dict | None = None, status: int = 200,
             message: str | None = None):
    """The builder form (and, with `run`, its result; for a saved report also its mailings)."""
    errors = dict(errors or {})
    result = None
    source_code = form.get("source", "orders")
    if source_code not in reports.SOURCES:
        errors["source"] = _("Выберите источник из списка")
        message, status, source_code = _("Неизвестный источник отчёта"), 422, "orders"
    if run and "source" not in errors:
        try:
            result = reports.run(reports.parse(raw_definition(form)))
        except ValidationError as exc:
            message, status = exc.message, 422
            errors.update(exc.fields)
    return render_template("reports/build.html", form=form, source_code=source_code,
                           source=reports.SOURCES[source_code], sources=reports.SOURCES, result=result,
                           message=message, errors=errors, report=report, roles=_roles(), schedules=SCHEDULES,
                           schedule_labels=SCHEDULE_LABELS,
                           aggregate_labels=AGGREGATE_LABELS, operator_labels=OPERATOR_LABELS,
                           bucket_labels=reports.BUCKET_LABELS,
                           formats=FORMATS, operators=reports.OPERATORS, aggregates=reports.AGGREGATES,
                           slots=range(1, FILTER_SLOTS + 1), page_rows=reports.PAGE_ROWS,
                           may_edit=policy.can(current_user, "reports.edit"),
                           deliveries=saved.deliveries(report) if report else []), status


def _roles() -> list[tuple[str, str]]:
    """The staff roles a report may be shared with, named in the page's language."""
    english = str(get_locale()) != "ru"
    return [(code, labels[english]) for code, labels in ROLES.items() if code in policy.STAFF]


@bp.get("/")
@allowed("reports.view")
def index():
    user = current_user._get_current_object()
    return render_template("reports/index.html", reports=saved.visible(user), schedule_labels=SCHEDULE_LABELS)


@bp.get("/build")
@allowed("reports.edit")
def build():
    form = request.args
    return _builder(form, run="run" in form)


@bp.get("/build.xlsx")
@allowed("reports.edit")
def build_xlsx():
    try:
        result = reports.run(reports.parse(raw_definition(request.args)))
    except ValidationError:
        return _builder(request.args)
    return _download(_("Отчёт"), result, "report.xlsx")


@bp.get("/<int:report_id>")
@allowed("reports.view")
def show(report_id: int):
    report = saved.find(current_user, report_id)
    return _builder(form_of(report.definition), report=report)


@bp.get("/<int:report_id>.xlsx")
@allowed("reports.view")
def show_xlsx(report_id: int):
    report = saved.find(current_user, report_id)
    result = reports.run(reports.parse(report.definition))
    return _download(report.name, result, f"report-{report.id}.xlsx")


def _download(title: str, result: reports.Result, filename: str):
    return send_file(BytesIO(report_files.workbook(title, result)), mimetype=report_files.MIME["xlsx"],
                     as_attachment=True, download_name=filename)


@bp.post("/save")
@allowed("reports.edit")
def save():
    """A new report from the builder's form, or the report named by `report_id` changed; errors come back inline."""
    form = request.form
    report_id = form.get("report_id", type=int)
    report = saved.find(current_user, report_id) if report_id else None
    try:
        definition = reports.parse(raw_definition(form))
        saved_report = saved.save(current_user._get_current_object(), definition, name=form.get("name", ""),
                                  shared_roles=form.getlist("shared_roles"), schedule=form.get("schedule", "none"),
                                  fmt=form.get("format", "xlsx"), recipients=form.get("recipients", ""),
                                  report_id=report_id)
    except ValidationError as exc:
        return _builder(form, report=report, run=False, errors=exc.fields, status=422, message=exc.message)
    flash(_("Отчёт «%(name)s» сохранён", name=saved_report.name), "success")
    return redirect(url_for("reports.show", report_id=saved_report.id))


@bp.post("/<int:report_id>/delete")
@allowed("reports.edit")
@action
def delete(report_id: int):
    saved.delete(current_user._get_current_object(), report_id)
    flash(_("Отчёт удалён"), "success")
    return redirect(url_for("reports.index"))
