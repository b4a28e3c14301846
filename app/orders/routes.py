"""Order pages: the list with saved filters and bulk actions, the card with its tabs, new orders."""
from __future__ import annotations

from io import BytesIO
from urllib.parse import urlencode

from flask import flash, redirect, render_template, request, send_file, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import Select, func, select
from sqlalchemy.orm import aliased, defer, joinedload, lazyload

from app import policy
from app.errors import Conflict, NotFound, ValidationError
from app.extensions import db
from app.i18n import N_
from app.models import (
    CHANNELS,
    ORDER_KINDS,
    PAYMENT_TYPES,
    Attachment,
    Customer,
    Document,
    HumanTask,
    Note,
    Order,
    Partner,
    ProcessInstance,
    SavedFilter,
    User,
)
from app.orders import bp
from app.orders import sent_messages as notices
from app.orders.export import COLUMNS, orders_workbook
from app.services import order_history as history
from app.services import orders as order_service
from app.services.attachments import save_upload
from app.services.inputs import int_arg
from app.services.notes import add_note
from app.services.notifications import notify
from app.services.order_search import customer_arg, date_arg, search_orders, sorted_by, task_filter, text_search_page
from app.services.orders import STATUS_LABELS
from app.services.workbooks import download
from app.usecases import messages
from app.usecases.bulk import BULK_ACTIONS, run_bulk
from app.usecases.orders import place_order_from_form
from app.web import action, allowed, sla_state

PER_PAGE = 50
DEFAULT_COLUMNS = ["number", "created", "kind", "customer", "stage", "assignee", "sla", "predicted", "price"]
TABS = {"data": N_("Данные"), "tasks": N_("Задачи"), "notes": N_("Вложения и примечания"), "payments": N_("Платежи"),
        "components": N_("Комплектующие"), "documents": N_("Документы"), "notifications": N_("Уведомления"),
        "history": N_("История")}
STAFF_TABS = {"notifications"}  # messages to the customer and staff addresses: not for partners


def _user() -> User:
    return current_user._get_current_object()


def load_order(number: str) -> Order:
    return order_service.visible_order(_user(), number)


def _staff_order(number: str) -> Order:
    """An order the user may see, for a change only employees make (notes, attachments)."""
    order = load_order(number)
    policy.ensure(_user(), "orders.note", order)
    return order


def _columns() -> list[str]:
    chosen = request.args.getlist("col")
    if chosen:
        session["order_columns"] = [c for c in chosen if c in COLUMNS] or DEFAULT_COLUMNS
    return session.get("order_columns") or DEFAULT_COLUMNS


def _stopped_processes(order_ids: list[int]) -> dict[int, str]:
    """order id → its process's status, for the orders of a page whose process failed or was suspended (one query:
    the list marks them beside the stage)."""
    return {order_id: status for order_id, status in db.session.execute(
        select(ProcessInstance.order_id, ProcessInstance.status).where(
            ProcessInstance.order_id.in_(order_ids or [0]), ProcessInstance.status.in_(("error", "suspended"))))
        if order_id is not None}


def _open_tasks(order_ids: list[int]) -> dict[int, HumanTask]:
    rows = db.session.execute(select(HumanTask).options(defer(HumanTask.data),  # the list shows no form data
                                                        joinedload(HumanTask.assignee).lazyload(User.roles))  # a name
                              .where(HumanTask.order_id.in_(order_ids), HumanTask.state == "open")
                              .order_by(HumanTask.id)).scalars().all()
    first: dict[int, HumanTask] = {}
    for task in rows:
        if task.order_id is not None:  # always: the query asked for these orders' tasks
            first.setdefault(task.order_id, task)
    return first


DATE_FILTERS = {"created_from": N_("Создан с"), "created_to": N_("Создан по"),
                "completed_from": N_("Выполнен с"), "completed_to": N_("Выполнен по")}
TASK_PROBLEMS = {
    "task": N_("Задача: «%(value)s» — не идентификатор задачи процесса"),
    "task_next": N_("Следующая задача: «%(value)s» — не идентификатор задачи процесса"),
    "task_stage": N_("Этап задачи: не длиннее 120 символов"),
    "stopped_at": N_("Остановился на этапе: не длиннее 120 символов"),
    "task_done": N_("Задача выполнена: «%(value)s» — ожидается 1 или 0"),
    "task_late": N_("Задача выполнена с опозданием: «%(value)s» — ожидается 1 или 0"),
    "task_loop": N_("Возврат к задаче: «%(value)s» — ожидается 1 или 0"),
}


def listed_orders(user: User, args) -> tuple[Select, dict[str, str]]:
    """The list's query for these arguments (the page and its workbook both ask here) and what could not be read:
    a malformed date is named and left out, the other filters still apply."""
    errors: dict[str, str] = {}
    for name, label in DATE_FILTERS.items():
        raw = (args.get(name) or "").strip()
        if raw:
            try:
                date_arg(args, name)
            except ValidationError:
                errors[name] = _("%(field)s: дата «%(value)s» не распознана", field=_(label), value=raw[:40])
    try:
        customer_arg(args)
    except ValidationError:
        errors["customer"] = _("Заказчик: «%(value)s» — не номер карточки заказчика", value=args["customer"][:40])
    readable = {key: value for key, value in args.items() if key not in errors}
    try:
        task_filter(readable)
    except ValidationError as exc:  # each argument is read on its own: leaving out the unreadable ones is enough
        for name in exc.fields:
            errors[name] = _(TASK_PROBLEMS[name], value=str(args.get(name, ""))[:40])
            readable.pop(name, None)
    return sorted_by(search_orders(user, readable), args), errors


@bp.get("/orders")
@allowed("orders.view")
def index():
    user = _user()
    if policy.is_partner(user):  # a partner's orders live in its portal
        return redirect(url_for("partner.index"))
    return _list_page(user, *listed_orders(user, request.args))


@bp.get("/orders.xlsx")
@allowed("lists.export")  # the staff's list: a partner's own orders are in its portal
def export():
    user = _user()
    query, errors = listed_orders(user, request.args)
    if errors:  # the page names what to correct: a workbook of other rows than asked for would mislead
        return _list_page(user, query, errors)
    return download(orders_workbook(query, _columns()), "zakazy")


def _task_name(bpmn_id: str) -> str:
    name = db.session.execute(select(HumanTask.name).where(HumanTask.bpmn_id == bpmn_id).limit(1)).scalar()
    return name or bpmn_id


def _task_chips(errors: dict[str, str]) -> list[tuple[str, str]]:
    """The task filters in force, each as (what it says, the list's address without it): drill-downs from the
    analytics have no field in the filter form, so the list names them and offers to drop them."""
    try:
        chosen = task_filter({key: value for key, value in request.args.items() if key not in errors})
    except ValidationError:
        return []
    chips: list[tuple[str, str]] = []

    def without(*names: str) -> str:
        kept = [(k, v) for k, v in request.args.items(multi=True) if k not in names and k != "page"]
        return url_for("orders.index") + ("?" + urlencode(kept) if kept else "")

    if chosen.on_tasks:
        where = ", ".join(
            [_("задача «%(name)s»", name=_task_name(chosen.task))] * bool(chosen.task)
            + [_("этап «%(name)s»", name=chosen.stage)] * bool(chosen.stage)) or _("любая задача")
        if chosen.next:
            label = _("Была %(where)s, за ней — «%(next)s»", where=where, next=_task_name(chosen.next))
        elif chosen.loop:
            label = _("Возвращались: %(where)s", where=where)
        elif chosen.late:
            label = _("С опозданием: %(where)s", where=where)
        elif chosen.done:
            label = _("Выполнена: %(where)s", where=where)
        else:
            label = _("Была %(where)s", where=where)
        chips.append((label, without("task", "task_stage", "task_done", "task_late", "task_loop", "task_next")))
    if chosen.stopped_at:
        chips.append((_("Остановился на этапе «%(stage)s»", stage=chosen.stopped_at), without("stopped_at")))
    customer = request.args.get("customer", "")
    if customer and "customer" not in errors:  # one customer's orders (search_orders has checked the id)
        card = db.session.get(Customer, int(customer))
        chips.append((_("Заказчик: %(name)s", name=card.name if card else customer), without("customer")))
    return chips


def page_links(page: int, pages: int, around: int = 3) -> list[int | None]:
    """The pager's page numbers: the first, the last and `around` each side of this one; None where a run is left
    out (at 100,000 orders a link to each of 2,000 pages cost more than the rest of the page)."""
    shown = sorted({1, pages, *range(max(1, page - around), min(pages, page + around) + 1)})
    links: list[int | None] = []
    for number in shown:
        if links and number - (links[-1] or 0) > 1:
            links.append(None)
        links.append(number)
    return links


def _page_of(query: Select, page: int, counted: bool = False) -> tuple[list[Order], int | None]:
    """The page's orders: their ids first, sorted and cut on the orders alone, then those 50 rows with their customer
    and partner (sorting 15,000 kitchens by price with both joined cost SQLite a second). `counted`: the total
    comes beside the ids (None on a page past the end)."""
    cut = query.offset((page - 1) * PER_PAGE).limit(PER_PAGE)
    if counted:
        rows = db.session.execute(cut.with_only_columns(Order.id, func.count().over())).all()
        ids, total = [row[0] for row in rows], (rows[0][1] if rows else None)
    else:
        ids, total = list(db.session.execute(cut.with_only_columns(Order.id)).scalars()), None
    return _orders_of(ids), total


def _orders_of(ids: list[int]) -> list[Order]:
    """The orders of these ids, in their order."""
    found = {order.id: order for order in db.session.execute(select(Order).where(Order.id.in_(ids or [0]))).scalars()}
    return [found[order_id] for order_id in ids if order_id in found]


def _order_stages_statement() -> Select:
    """The stages orders are at as a skip scan of the stage index, one seek per stage, rather than its 100,000
    entries."""
    other = aliased(Order)
    found = select(func.min(Order.stage).label("stage")).cte("stages", recursive=True)
    following = select(func.min(other.stage)).where(other.stage > found.c.stage).scalar_subquery()
    found = found.union_all(select(following).where(found.c.stage.is_not(None)))
    return select(found.c.stage).where(found.c.stage.is_not(None))


# built once: building the recursive CTE and keying it for the statement cache cost more than running it
_ORDER_STAGES = _order_stages_statement()


def order_stages() -> list[str]:
    """The stages orders are at, sorted (the stage filter's choices)."""
    return sorted(set(db.session.execute(_ORDER_STAGES).scalars()) - {""})


def _list_page(user: User, query: Select, errors: dict[str, str]):
    page = int_arg(request.args, "page", 1, 1, 10**6, strict=False)
    # a text search reads all its matches to sort them either way: its page's ids carry the total, one statement
    # instead of finding the matches twice (10,000 for a surname: SQLite 13 ms, PostgreSQL 25–45 ms each time);
    # a text alone in the order of creation has its own way on SQLite (`text_search_page`); other lists count from
    # an index and read only their page's rows in the sort's order
    searched = None if errors else text_search_page(user, request.args, page, PER_PAGE)
    counted: int | None
    if searched is not None:
        orders, counted = _orders_of(searched[0]), searched[1]
    else:
        orders, counted = _page_of(query, page, counted=bool((request.args.get("q") or "").strip()))
    total = counted if counted is not None else db.session.execute(
        select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    pages = max(1, (total + PER_PAGE - 1) // PER_PAGE)
    args = request.args.to_dict()
    filters_only = [(k, v) for k, v in request.args.items(multi=True) if k != "page"]  # every chosen column
    saved = db.session.execute(select(SavedFilter).where(SavedFilter.user_id == user.id,
                                                         SavedFilter.area == "orders")
                               .order_by(SavedFilter.name)).scalars().all()
    stages = order_stages()
    return render_template(
        "orders/list.html", orders=orders, tasks=_open_tasks([o.id for o in orders]),
        stopped=_stopped_processes([o.id for o in orders]), total=total, page=page,
        pages=pages, page_links=page_links(page, pages), per_page=PER_PAGE, args=args, columns=_columns(),
        all_columns=COLUMNS, saved=saved, stages=stages, kinds=ORDER_KINDS, channels=CHANNELS,
        statuses=STATUS_LABELS, partners=db.session.execute(select(Partner).order_by(Partner.name)).scalars().all(),
        query_string=urlencode(filters_only), sla_state=sla_state, bulk_actions=BULK_ACTIONS,
        is_staff=policy.is_staff(user), can_create=policy.can(user, "orders.create"),
        can_import=policy.can(user, "orders.import"), task_chips=_task_chips(errors),
        assignable=db.session.execute(select(User).where(User.active.is_(True), User.login != "customer")
                                      .options(lazyload(User.roles))  # names to choose from, no roles
                                      .order_by(User.name)).scalars().all(), errors=errors), (422 if errors else 200)


@bp.post("/orders/filters")
@allowed("orders.filters")
@action
def save_filter():
    name = request.form.get("name", "").strip()
    if not name:
        raise Conflict(_("Дайте фильтру название"))
    db.session.add(SavedFilter(user_id=_user().id, area="orders", name=name[:120], query=request.form.get("query", "")))
    flash(_("Фильтр «%(name)s» сохранён", name=name), "success")
    return redirect(url_for("orders.index") + "?" + request.form.get("query", ""))


@bp.post("/orders/filters/<int:filter_id>/delete")
@allowed("orders.filters")
@action
def delete_filter(filter_id: int):
    saved = db.session.get(SavedFilter, filter_id)
    if saved is None or saved.user_id != _user().id:
        raise NotFound(_("Фильтр не найден"))
    db.session.delete(saved)
    return redirect(url_for("orders.index"))


@bp.post("/orders/bulk")
@allowed("orders.bulk")
def bulk():
    numbers = request.form.getlist("orders")
    chosen = request.form.get("bulk_action", "")
    if chosen not in BULK_ACTIONS:
        flash(_("Выберите действие"), "error")
        return redirect(request.referrer or url_for("orders.index"))
    if not numbers:
        flash(_("Отметьте заказы в списке"), "error")
        return redirect(request.referrer or url_for("orders.index"))
    results = run_bulk(chosen, numbers, _user(), reason=request.form.get("reason", ""),
                       assignee=request.form.get("assignee", ""))
    return render_template("orders/bulk_result.html", results=results, action_label=BULK_ACTIONS[chosen],
                           back=request.referrer or url_for("orders.index"))


# -- the order card ------------------------------------------------------------------------------------

def card_tabs(is_staff: bool) -> dict[str, str]:
    """The card's tabs for this viewer: a partner sees its orders but not what we send to whom."""
    return TABS if is_staff else {key: label for key, label in TABS.items() if key not in STAFF_TABS}


@bp.get("/orders/<number>")
@allowed("orders.view")
def card(number: str):
    if policy.is_partner(_user()):  # the portal answers 404 for another partner's order, as for a missing one
        return redirect(url_for("partner.order", number=number))
    order = load_order(number)
    is_staff = policy.is_staff(_user())
    tabs = card_tabs(is_staff)
    tab = request.args.get("tab", "data")
    if tab not in tabs:
        tab = "data"
    tasks = db.session.execute(select(HumanTask).where(HumanTask.order_id == order.id)
                               .order_by(HumanTask.id)).scalars().all()
    open_tasks = [t for t in tasks if t.state == "open"]
    context = dict(order=order, tab=tab, tabs=tabs, tasks=tasks, open_tasks=open_tasks, sla_state=sla_state,
                   payment_types=PAYMENT_TYPES, statuses=STATUS_LABELS, is_staff=is_staff, channels=CHANNELS,
                   can_cancel=policy.can(_user(), "orders.cancel", order) and order.status == "active")
    if tab == "notes":
        notes = select(Note).where(Note.order_id == order.id)
        if not is_staff:
            notes = notes.where(Note.internal.is_(False))
        context["notes"] = db.session.execute(notes.order_by(Note.id.desc())).scalars().all()
        context["attachments"] = db.session.execute(select(Attachment).where(Attachment.order_id == order.id)
                                                    .order_by(Attachment.id.desc())).scalars().all()
    if tab == "payments":
        context.update(paid=order.paid, balance=order.balance)
    context.update(notices.tab_context(tab, order, is_staff))
    if tab == "history":
        timeline, events = history.order_history(order)
        context.update(events=events, timeline=timeline, what=history.what, value=history.value)
    return render_template("orders/card.html", **context)


@bp.get("/orders/<number>/documents/<int:document_id>")
@allowed("orders.view")
def document(number: str, document_id: int):
    """A document's PDF for the card (the API takes bearer tokens only, so the browser has its own address)."""
    order = load_order(number)
    row = db.session.get(Document, document_id)
    if row is None or row.order_id != order.id:
        raise NotFound(_("Документ не найден"))
    return send_file(BytesIO(row.content), mimetype="application/pdf", as_attachment=True,
                     download_name=row.filename)


@bp.post("/orders/<number>/notes")
@allowed("orders.note")
@action
def add_order_note(number: str):
    order = _staff_order(number)
    public = bool(request.form.get("public"))
    note = add_note(order, request.form.get("text", ""), _user(), internal=not public)
    if public:  # an answer to the customer: on their status page, and sent to them
        notify(order, "staff_message", "customer", text=note.text)
    flash(_("Сообщение отправлено заказчику") if public else _("Примечание добавлено"), "success")
    return redirect(url_for("orders.card", number=number, tab="notes"))


@bp.post("/orders/<number>/attachments")
@allowed("orders.note")
@action
def add_attachment(number: str):
    order = _staff_order(number)
    url = request.form.get("url", "").strip()
    if url:
        if not url.startswith(("http://", "https://")):
            raise Conflict(_("Ссылка должна начинаться с http:// или https://"))
        db.session.add(Attachment(order_id=order.id, author_id=_user().id, url=url[:1000],
                                  filename=(request.form.get("title") or url)[:300], content_type="text/uri-list"))
        flash(_("Ссылка добавлена"), "success")
    elif request.files.get("file"):
        try:
            save_upload(order, request.files["file"], _user(), field="file")
        except ValidationError as exc:
            raise Conflict(next(iter(exc.fields.values()), exc.message)) from exc
        flash(_("Файл прикреплён"), "success")
    else:
        raise Conflict(_("Выберите файл или укажите ссылку"))
    return redirect(url_for("orders.card", number=number, tab="notes"))


@bp.post("/orders/<number>/cancel")
@allowed("orders.cancel")
@action
def cancel(number: str):
    order = load_order(number)
    try:
        messages.cancel_order(order, request.form.get("reason", ""), _user())
    except ValidationError as exc:
        raise Conflict(exc.message) from exc
    flash(_("Заказ %(number)s отменён", number=order.number), "success")
    return redirect(url_for("orders.card", number=number))


# -- new order -----------------------------------------------------------------------------------------

@bp.route("/orders/new", methods=["GET", "POST"])
@allowed("orders.create")
def new():
    user = _user()
    values = {"kind": "wardrobe", "channel": "phone"}
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = request.form.to_dict()
        try:
            order = place_order_from_form(values, user)
        except ValidationError as exc:
            errors = exc.fields or {"_form": exc.message}
        else:
            flash(_("Заказ %(number)s принят", number=order.number), "success")
            return redirect(url_for("orders.card", number=order.number))
    partners = db.session.execute(select(Partner).order_by(Partner.name)).scalars().all()
    return render_template("orders/new.html", values=values, errors=errors, kinds=ORDER_KINDS, channels=CHANNELS,
                           partners=partners), (422 if errors else 200)


@bp.get("/orders/customers")
@allowed("orders.create")
def customer_lookup():
    """Existing customers whose phone ends like the typed one (htmx fragment for the new-order form)."""
    # The form's own field is named customer.phone; htmx sends it under that name.
    typed = request.args.get("phone") or request.args.get("customer.phone", "")
    digits = "".join(ch for ch in typed if ch.isdigit())
    customers = []
    if len(digits) >= 7:
        customers = db.session.execute(select(Customer).where(Customer.phone.like(f"%{digits[-10:]}"))
                                       .order_by(Customer.id).limit(5)).scalars().all()
    return render_template("orders/_customers.html", customers=customers, searched=len(digits) >= 7)


@bp.app_template_filter("mentions")
def highlight_mentions(text: str):
    """Escape a note and mark its @mentions."""
    from markupsafe import Markup, escape

    from app.services.notes import MENTION

    return Markup(MENTION.sub(lambda m: f'<mark class="mention">@{m.group(1)}</mark>', str(escape(text))))
