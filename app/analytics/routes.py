"""The analytics page (figures, charts, tables, each figure a link to its orders) and the lifecycle heatmap."""
from __future__ import annotations

from urllib.parse import urlencode

from flask import render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app import policy
from app.analytics import bp
from app.analytics.export import analytics_workbook
from app.extensions import db
from app.models import CHANNELS, ORDER_KINDS, Partner, ProcessDefinition
from app.services import analytics
from app.services.workbooks import download
from app.web import allowed

DIMENSIONS = ("kind", "channel", "partner", "customer")


def _problem(field_name: str) -> str:
    return {
        "from": _("Начало периода: дата в формате ГГГГ-ММ-ДД"),
        "to": _("Конец периода: дата в формате ГГГГ-ММ-ДД"),
        "period": _("Период: начало позже конца"),
        "kind": _("Вид заказа: такого вида нет"),
        "channel": _("Канал: такого канала нет"),
        "partner": _("Партнёр: такого партнёра нет"),
    }[field_name]


def _lanes(user) -> set[str] | None:
    """None: every stage; otherwise the lanes of the departments the user heads."""
    if user.role_codes & policy.ANALYTICS_READERS:
        return None
    return {lane for lane in policy.headed_lanes(user) if lane}


def _form():
    """The filters as typed, the choices, and the parsed filters (None with a message when one is wrong)."""
    partners = list(db.session.execute(select(Partner.code, Partner.name).order_by(Partner.name)))
    typed = {name: request.args.get(name, "") for name in ("from", "to", "kind", "partner", "channel")}
    try:
        filters = analytics.parse_filters(request.args, {code for code, _name in partners})
        error, bad = None, None
        typed.update(filters.query_args())
    except analytics.FilterError as exc:
        filters, error, bad = None, _problem(exc.field), exc.field
    locale = 0 if str(get_locale()) == "ru" else 1
    choices = {"kind": [(code, names[locale]) for code, names in ORDER_KINDS.items()],
               "channel": [(code, names[locale]) for code, names in CHANNELS.items()],
               "partner": [(code, name) for code, name in partners]}
    return dict(typed=typed, choices=choices, error=error, bad=bad), filters


# What url_for leaves unescaped in a query string (werkzeug's own `_urlencode`), so the links read the same.
QUERY_SAFE = "!$'()*,/:;?@"


def orders_links(filters: analytics.Filters):
    """A function of `extra` giving the orders list's address for the cohort plus `extra`: url_for's address, with
    the list's path built once — a year's page has some 250 links, 16 ms of url_for."""
    path = url_for("orders.index")

    def link(**extra: str) -> str:
        args = filters.order_args(**extra)
        return f"{path}?{urlencode(args, safe=QUERY_SAFE)}" if args else path

    return link


@bp.get("/")
@allowed("analytics.view")
def index():
    context, filters = _form()
    if filters is None:
        return render_template("analytics/index.html", **context, figures=None), 422
    lanes = _lanes(current_user)
    figures = _figures(filters, lanes)
    kind_names = {code: title for code, title in context["choices"]["kind"]}
    return render_template("analytics/index.html", **context, figures=figures, filters=filters, lanes=lanes,
                           chart=_chart(figures, kind_names), kind_names=kind_names,
                           link=orders_links(filters), month_end=analytics.month_end)


MONEY_LANES = {"sales", "accountant"}  # the heads whose department's figures revenue and payments are


def _sees_money(lanes: set[str] | None) -> bool:
    return lanes is None or bool(lanes & MONEY_LANES)


def _figures(filters: analytics.Filters, lanes: set[str] | None) -> dict:
    locale = str(get_locale())
    on_time, on_time_months, timing = analytics.task_figures(filters, lanes)
    return {
        "by": analytics.orders_by_dimensions(filters, DIMENSIONS, locale),
        "on_time": on_time,
        "on_time_months": on_time_months,
        "timing": timing,
        "money": analytics.money_by_month(filters) if _sees_money(lanes) else None,
        "flow": analytics.flow(filters, lanes),
    }


@bp.get("/tables.xlsx")
@allowed("analytics.view")
def export():
    """The page's tables for the same filters, a sheet each; a bad filter gets the page with its message."""
    context, filters = _form()
    if filters is None:
        return render_template("analytics/index.html", **context, figures=None), 422
    names = {name: dict(choices) for name, choices in context["choices"].items()}
    return download(analytics_workbook(filters, _figures(filters, _lanes(current_user)), names), "analitika")


def _chart(figures: dict, kinds: dict[str, str]) -> dict:
    """What static/js/analytics.js draws: one series set per chart, with the labels in the page's language."""
    by = figures["by"]
    return {
        "series": [_("Создано"), _("Выполнено"), _("Отменено")],
        "by": {dimension: [[row.label or _("без партнёра"), row.created, row.completed, row.cancelled]
                           for row in rows] for dimension, rows in by.items()},
        "on_time": [[row.stage, row.percent or 0] for row in figures["on_time"]],
        "on_time_months": [[row.stage, row.percent or 0] for _month, row in figures["on_time_months"]],
        "timing": [[f"{row.stage} · {kinds.get(row.kind, row.kind)}", row.median_hours, row.p90_hours]
                   for row in figures["timing"]],
        "timing_series": [_("Медиана, раб. ч"), _("90-й процентиль, раб. ч")],
        "money": [[row.month.strftime("%Y-%m"), float(row.revenue), float(row.payments)]
                  for row in figures["money"] or ()],
        "money_series": [_("Выручка (выполненные заказы)"), _("Платежи")],
    }


@bp.get("/heatmap")
@allowed("analytics.view")
def heatmap():
    context, filters = _form()
    version = db.session.execute(select(ProcessDefinition).where(ProcessDefinition.process_id == analytics.LIFECYCLE,
                                                              ProcessDefinition.active.is_(True))).scalar_one_or_none()
    if filters is None:
        return render_template("analytics/heatmap.html", **context, version=version, heat=None), 422
    lanes = _lanes(current_user)  # a head sees their departments' tasks coloured, as on the figures' page
    flow = analytics.flow(filters, lanes, cancelled=False)
    heat = {"tasks": {bpmn_id: {"count": count, "median": median}
                      for bpmn_id, (count, median) in analytics.median_by_task(filters, lanes).items()},
            "transitions": [[a, b, count] for (a, b), count in flow.transitions.items()]}
    return render_template("analytics/heatmap.html", **context, version=version, heat=heat, filters=filters,
                           names=flow.names, slowest_first=sorted(heat["tasks"].items(),
                                                                  key=lambda item: -item[1]["median"]))
