"""«Платежи»: the accountants' list of payments received (period, method, partner) with its total and workbook."""
from __future__ import annotations

from flask import render_template, request
from sqlalchemy import select

from app.extensions import db
from app.models import Partner
from app.orders import bp
from app.services import payment_list
from app.services.workbooks import download
from app.web import allowed

PER_PAGE = 50


def _page(filters: payment_list.PaymentFilters, errors: dict[str, str]):
    count, amount = payment_list.totals(filters)
    pages = max(1, (count + PER_PAGE - 1) // PER_PAGE)
    page = min(filters.page, pages)
    return render_template(
        "orders/payments.html", rows=payment_list.page_of(payment_list.payments_query(filters), page, PER_PAGE),
        count=count, amount=amount, page=page, pages=pages, args=filters.args(), errors=errors,
        methods=payment_list.methods(), method_label=payment_list.method_label, receivers=payment_list.RECEIVERS,
        direct=payment_list.DIRECT,
        partners=db.session.execute(select(Partner).order_by(Partner.name)).scalars().all(),
    ), (422 if errors else 200)


@bp.get("/payments")
@allowed("payments.list")
def payments():
    return _page(*payment_list.parse_filters(request.args))


@bp.get("/payments.xlsx")
@allowed("payments.list")
def payments_xlsx():
    filters, errors = payment_list.parse_filters(request.args)
    if errors:  # the page names what to correct: a workbook of other rows than asked for would mislead
        return _page(filters, errors)
    return download(payment_list.payments_workbook(payment_list.payments_query(filters)), "platezhi")
