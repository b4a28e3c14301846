"""Partner portal: a point of sale's or an agent's own orders, new orders for its customers, settlements.

Every order is loaded through `own_orders(user)`: another partner's order answers 404, like a missing one.
"""
from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta
from io import BytesIO

from flask import current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from app.errors import NotFound, ValidationError
from app.extensions import db
from app.i18n import kind_label, money_formatter, percent, when_formatter
from app.models import ORDER_KINDS, Document, Note, Order, User
from app.partner import bp
from app.policy import is_partner, visible_orders
from app.services.calendar import company_tz
from app.services.customer_view import DOCUMENT_LABELS, latest_documents
from app.services.inputs import int_arg
from app.services.order_history import order_history
from app.services.order_search import matches_text, sorted_by
from app.services.orders import STATUS_LABELS
from app.services.periods import local_today, parse_period, this_month
from app.services.settlements import TOTALS, settle, statement, statement_pdf, statement_xlsx
from app.services.status_links import status_url
from app.usecases.orders import place_order_from_form
from app.usecases.statements import prerender_statement
from app.web import allowed

PER_PAGE = 25
LIST_MONTHS = 3  # the list opens on the current month and the two before it
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.app_context_processor
def _portal_globals():
    return {"is_partner": is_partner}


def _partner_user() -> User:
    """The signed-in partner account (`@allowed("partner.portal")` has checked it)."""
    return current_user._get_current_object()


def own_orders(user: User):
    """The partner's orders only — even for an employee who also holds a partner account."""
    return visible_orders(user).where(Order.partner_id == user.partner_id)


def _load(user: User, number: str) -> Order:
    order = db.session.execute(own_orders(user).where(Order.number == number)).scalar_one_or_none()
    if order is None:
        raise NotFound(_("Заказ %(number)s не найден", number=number))
    return order


# -- periods -------------------------------------------------------------------------------------------

def _period_error(problem: str, args) -> str:
    if problem == "period":
        return _("Начало периода позже его конца")
    return _("Дата «%(value)s» не распознана: укажите её в виде ГГГГ-ММ-ДД", value=args.get(problem, ""))


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, company_tz())


def months_back(today: date, months: int) -> date:
    month = today.month - (months - 1)
    year = today.year + (month - 1) // 12
    return date(year, (month - 1) % 12 + 1, 1)


# -- helpers for the pages -----------------------------------------------------------------------------

def receiver_label(order: Order, received_by: str) -> str:
    if received_by != "partner":
        return _("компания")
    return _("агент") if order.partner and order.partner.kind == "agent" else _("точка продаж")


def month_counts(rows) -> tuple[list[tuple[str, Counter]], list[str], Counter]:
    """Orders per month (newest first) and per kind; `rows` are (created_at, kind) pairs."""
    tz = company_tz()
    by_month: dict[date, Counter] = {}
    for created_at, kind in rows:
        local = created_at.astimezone(tz).date().replace(day=1)
        by_month.setdefault(local, Counter())[kind] += 1
    totals = sum(by_month.values(), Counter())
    kinds = [code for code in ORDER_KINDS if totals[code]]
    months = [(format_date(month, "LLLL yyyy"), by_month[month]) for month in sorted(by_month, reverse=True)]
    return months, kinds, totals


# -- the partner's home: counts and its orders ----------------------------------------------------------

@bp.get("")
@allowed("partner.portal")
def index():
    user = _partner_user()
    args = request.args
    error = None
    default = (months_back(local_today(), LIST_MONTHS), None)
    try:
        date_from, date_to = parse_period(args.get("from"), args.get("to"), default)
    except ValueError as exc:
        error = _period_error(str(exc), args)
        date_from, date_to = default
    period = own_orders(user)
    if date_from:
        period = period.where(Order.created_at >= _start_of(date_from))
    if date_to:
        period = period.where(Order.created_at < _start_of(date_to + timedelta(days=1)))
    months, count_kinds, totals = month_counts(
        db.session.execute(period.with_only_columns(Order.created_at, Order.kind)).all())

    query = period.join(Order.customer)
    for name, column in (("kind", Order.kind), ("stage", Order.stage), ("status", Order.status)):
        if args.get(name):
            query = query.where(column == args[name])
    text = (args.get("q") or "").strip()
    if text:
        query = query.where(matches_text(text))
    total = db.session.execute(select(func.count()).select_from(query.subquery())).scalar()
    page = int_arg(args, "page", 1, 1, 10**6, strict=False)
    orders = db.session.execute(sorted_by(query, {}).offset((page - 1) * PER_PAGE).limit(PER_PAGE)).scalars().all()
    stages = sorted(set(db.session.execute(own_orders(user).with_only_columns(Order.stage).distinct()).scalars())
                    - {""})
    shown = {k: v for k, v in args.items() if k != "page"}
    shown.setdefault("from", date_from.isoformat() if date_from else "")
    return render_template(
        "partner/index.html", partner=user.partner, orders=orders, total=total, page=page,
        pages=max(1, (total + PER_PAGE - 1) // PER_PAGE), args=shown,
        date_from=date_from, date_to=date_to, months=months, count_kinds=count_kinds, totals=totals,
        stages=stages, kinds=ORDER_KINDS, statuses=STATUS_LABELS, error=error,
    ), (422 if error else 200)


# -- a new order for a customer ------------------------------------------------------------------------

@bp.route("/orders/new", methods=["GET", "POST"])
@allowed("partner.portal")
def new_order():
    user = _partner_user()
    values = {"kind": "wardrobe"}
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = request.form.to_dict()
        try:
            number = place_order_from_form(values, user, channel="partner", partner=user.partner.code).number
        except ValidationError as exc:
            errors = exc.fields or {"_form": exc.message}
        else:
            link = status_url(_load(user, number))
            flash(_("Заказ %(number)s принят. Ссылка для заказчика: %(link)s", number=number, link=link)
                  if link else _("Заказ %(number)s принят", number=number), "success")
            return redirect(url_for("partner.order", number=number))
    return render_template("orders/new.html", values=values, errors=errors, kinds=ORDER_KINDS,
                           fixed_partner=user.partner), (422 if errors else 200)


# -- the order card ------------------------------------------------------------------------------------

@bp.get("/orders/<number>")
@allowed("partner.portal")
def order(number: str):
    user = _partner_user()
    order = _load(user, number)
    timeline, _events = order_history(order)  # stage spans only: the field log is for employees
    notes = db.session.execute(select(Note).where(Note.order_id == order.id, Note.internal.is_(False))
                               .order_by(Note.id)).scalars().all()
    return render_template(
        "partner/card.html", order=order, timeline=timeline, notes=notes, documents=latest_documents(order),
        document_labels=DOCUMENT_LABELS, settlement=settle(order), statuses=STATUS_LABELS,
        receiver_label=receiver_label, link=status_url(order))


@bp.get("/orders/<number>/documents/<int:document_id>")
@allowed("partner.portal")
def document(number: str, document_id: int):
    order = _load(_partner_user(), number)
    row = db.session.get(Document, document_id)
    if row is None or row.order_id != order.id:
        raise NotFound(_("Документ не найден"))
    return send_file(BytesIO(row.content), mimetype="application/pdf", as_attachment=True,
                     download_name=row.filename)


# -- settlements ---------------------------------------------------------------------------------------

def _statement_of(user: User):
    """The partner's statement for ?from=&to= (default: this month), or a ValidationError worded for people."""
    try:
        date_from, date_to = parse_period(request.args.get("from"), request.args.get("to"), this_month())
    except ValueError as exc:
        raise ValidationError(_period_error(str(exc), request.args)) from None
    default = this_month()
    return statement(user.partner, date_from or default[0], date_to or default[1], tz=company_tz())


def _download_name(st, extension: str) -> str:
    return f"sverka-{st.partner.code}-{st.date_from:%Y%m%d}-{st.date_to:%Y%m%d}.{extension}"


def _statement_lines(st) -> tuple[list[dict], dict]:
    """The statement's rows and totals as the strings the page shows, formatted once per request (a few
    microseconds a row) instead of through babel and the catalogue per cell in the template."""
    money, when = money_formatter(), when_formatter()
    kinds = {code: kind_label(code) for code in {row.kind for row in st.rows}}
    statuses = {code: _(STATUS_LABELS.get(code, code)) for code in {row.status for row in st.rows}}
    lines = [{"number": row.number, "created": when(row.created_at), "kind": kinds[row.kind],
              "status": statuses[row.status], "pct": percent(row.commission_pct),
              **{name: money(getattr(row, name)) for name in TOTALS}} for row in st.rows]
    return lines, {name: money(st.total(name)) for name in TOTALS}


@bp.get("/settlements")
@allowed("partner.portal")
def settlements():
    user = _partner_user()
    try:
        st, error = _statement_of(user), None
    except ValidationError as exc:
        first, last = this_month()
        st, error = statement(user.partner, first, last, tz=company_tz()), exc.message
    lines, totals = _statement_lines(st)
    if st.rows and not error:
        prerender_statement(user.partner.id, st.date_from, st.date_to)  # the act is likely downloaded next
    period = {"from": st.date_from.isoformat(), "to": st.date_to.isoformat()}
    return render_template("partner/settlements.html", st=st, lines=lines, totals=totals, period=period,
                           error=error), (422 if error else 200)


@bp.get("/settlements.xlsx")
@allowed("partner.portal")
def settlements_xlsx():
    st = _statement_of(_partner_user())
    return send_file(BytesIO(statement_xlsx(st)), mimetype=XLSX, as_attachment=True,
                     download_name=_download_name(st, "xlsx"))


@bp.get("/settlements.pdf")
@allowed("partner.portal")
def settlements_pdf():
    st = _statement_of(_partner_user())
    return send_file(BytesIO(statement_pdf(st, current_app.config["COMPANY"])), mimetype="application/pdf",
                     as_attachment=True, download_name=_download_name(st, "pdf"))
