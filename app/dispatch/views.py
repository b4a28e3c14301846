"""The dispatcher's list of visits (filters, Excel) and the Gantt of active orders across their stages."""
from __future__ import annotations

from io import BytesIO

from flask import render_template, request, send_file

from app.dispatch import bp
from app.extensions import db
from app.models import ORDER_KINDS, VISIT_KINDS
from app.services import dispatch_views, gantt
from app.services.calendar import company_tz
from app.services.dispatch_views import QUEUE, STATUS_LABELS, kind_label
from app.web import allowed

PER_PAGE = 50  # visits on a page of the list
GANTT_PER_PAGE = 20  # orders on a page of the Gantt: each brings two bars per stage
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORT_MAX = 20_000  # visits in one workbook: a year of a busy company's trips


def _pages(total: int, per_page: int) -> int:
    return max(1, (total + per_page - 1) // per_page)


def _list_page(filters, errors: dict[str, str]):
    query = dispatch_views.visits_query(filters)
    total = dispatch_views.count(query)
    pages = _pages(total, PER_PAGE)
    page = min(filters.page, pages)
    return render_template(
        "dispatch/list.html", visits=dispatch_views.page_of(query, page, PER_PAGE), total=total, page=page,
        pages=pages, args=filters.args(), errors=errors, unplanned=dispatch_views.unplanned(filters),
        people=dispatch_views.people(), kinds=VISIT_KINDS, kind_label=kind_label, statuses=STATUS_LABELS,
        queue=QUEUE, filters=filters), (422 if errors else 200)


@bp.get("/dispatch/list", endpoint="list")
@allowed("dispatch.view")
def visit_list():
    return _list_page(*dispatch_views.parse_filters(request.args))


@bp.get("/dispatch/list.xlsx")
@allowed("dispatch.view")
def list_xlsx():
    filters, errors = dispatch_views.parse_filters(request.args)
    if errors:  # the page says what to correct; a workbook of other rows than asked for would mislead
        return _list_page(filters, errors)
    visits = dispatch_views.page_of(dispatch_views.visits_query(filters), 1, EXPORT_MAX)
    period = "-".join(day.strftime("%Y%m%d") if day else "all" for day in (filters.date_from, filters.date_to))
    return send_file(BytesIO(dispatch_views.visits_xlsx(visits)), mimetype=XLSX, as_attachment=True,
                     download_name=f"vyezdy-{period}.xlsx")


@bp.get("/dispatch/gantt", endpoint="gantt")
@allowed("dispatch.view")
def gantt_chart():
    filters, errors = gantt.parse_filters(request.args)
    query = gantt.orders_query(filters)
    total = dispatch_views.count(query)
    pages = _pages(total, GANTT_PER_PAGE)
    page = min(filters.page, pages)
    orders = db.session.execute(query.offset((page - 1) * GANTT_PER_PAGE).limit(GANTT_PER_PAGE)).scalars().all()
    lines = gantt.order_lines(list(orders))
    return render_template(
        "dispatch/gantt.html", lines=lines, chart=gantt.chart_tasks(lines, company_tz()), total=total, page=page,
        pages=pages, args=filters.args(), errors=errors, filters=filters, kinds=ORDER_KINDS, stages=gantt.stages(),
    ), (422 if errors else 200)
