"""The dispatcher's list of visits: its filters read from a query string, the visits they keep, the orders still
waiting to be planned, and the same rows as an Excel workbook."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Mapping

from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import Select, func, select
from sqlalchemy.orm import contains_eager, joinedload

from app import clock
from app.engine.bindings import PLANS
from app.extensions import db
from app.i18n import N_
from app.models import VISIT_KINDS, HumanTask, Order, OrderStatus, Role, User, Visit
from app.models.dispatch import VISIT_STATES
from app.models.users import user_roles
from app.services.bindings import bound_tasks
from app.services.inputs import clean_text, int_arg
from app.services.order_search import matches_text
from app.services.periods import period_from, this_week, within
from app.services.visits import KINDS

QUEUE = "queue"  # the person filter's value for visits no crew has taken yet
STATUS_LABELS = {"booked": N_("запланирован"), "done": N_("выполнен"), "cancelled": N_("отменён")}
TEXT_MAX = 200


@dataclass(frozen=True)
class VisitFilters:
    """What the list shows: visits starting in [date_from, date_to] (either may be open) that match the rest."""

    date_from: date | None
    date_to: date | None
    kind: str = ""
    person: str = ""  # a login, QUEUE, or "" for everyone
    status: str = ""
    text: str = ""
    page: int = 1

    def args(self) -> dict[str, str]:
        """The filters as a query string keeps them (the form's values, the pager's and the export's links)."""
        return {"from": self.date_from.isoformat() if self.date_from else "",
                "to": self.date_to.isoformat() if self.date_to else "",
                "kind": self.kind, "person": self.person, "status": self.status, "q": self.text}


def kind_label(kind: str) -> str:
    labels = VISIT_KINDS.get(kind, (kind, kind))
    return labels[1] if str(get_locale()) == "en" else labels[0]


def people() -> list[User]:
    """Whoever visits may be booked for (measurers and crews), by name: the person filter's choices."""
    roles = {spec.role for spec in KINDS.values()}
    return list(db.session.execute(
        select(User).where(User.active.is_(True), User.id.in_(
            select(user_roles.c.user_id).join(Role, Role.code == user_roles.c.role_code).where(Role.code.in_(roles))))
        .order_by(User.name)).scalars())


def parse_filters(args: Mapping[str, str]) -> tuple[VisitFilters, dict[str, str]]:
    """The filters from a query string, and a message per field it could not read (that filter is then left
    out, or the period is this week)."""
    errors: dict[str, str] = {}
    default = this_week()
    date_from, date_to = period_from(args, default, errors)
    kind = args.get("kind") or ""
    if kind and kind not in VISIT_KINDS:
        errors["kind"], kind = _("Вид выезда «%(value)s» неизвестен", value=kind), ""
    status = args.get("status") or ""
    if status and status not in VISIT_STATES:
        errors["status"], status = _("Статус «%(value)s» неизвестен", value=status), ""
    person = args.get("person") or ""
    if person and person != QUEUE and not db.session.execute(
            select(User.id).where(User.login == person[:80])).scalar_one_or_none():
        errors["person"], person = _("Сотрудник «%(value)s» не найден", value=person[:80]), ""
    try:
        text = clean_text(args.get("q"), max_length=TEXT_MAX)
    except ValueError as exc:
        errors["q"], text = _("Поиск: %(problem)s", problem=str(exc)), ""
    page = int_arg(args, "page", 1, 1, 10**6, strict=False)
    return VisitFilters(date_from, date_to, kind, person, status, text, page), errors


def visits_query(filters: VisitFilters) -> Select:
    """Visits kept by the filters, with their order, customer and person loaded, by time."""
    query = (select(Visit).join(Visit.order).join(Order.customer).outerjoin(Visit.user)
             .options(contains_eager(Visit.order).contains_eager(Order.customer), contains_eager(Visit.user)))
    query = query.where(*within(Visit.starts_at, filters.date_from, filters.date_to))
    if filters.kind:
        query = query.where(Visit.kind == filters.kind)
    if filters.status:
        query = query.where(Visit.status == filters.status)
    if filters.person == QUEUE:
        query = query.where(Visit.user_id.is_(None))
    elif filters.person:
        query = query.where(User.login == filters.person)
    if filters.text:
        query = query.where(matches_text(filters.text))
    return query.order_by(Visit.starts_at, Visit.id)


def count(query: Select) -> int:
    return db.session.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()


def page_of(query: Select, page: int, per_page: int) -> list[Visit]:
    return list(db.session.execute(query.offset((page - 1) * per_page).limit(per_page)).unique().scalars())


@dataclass(frozen=True)
class Unplanned:
    """An active order waiting at a planning task: which visit it needs, since when, by when."""

    order: Order
    kind: str
    task: HumanTask


def unplanned(filters: VisitFilters) -> list[Unplanned]:
    """Orders open at a planning task (`bespoke:plans`) of the filters' kind and text, most urgent first."""
    waiting: list[Unplanned] = []
    for kind in (filters.kind,) if filters.kind else tuple(KINDS):
        query = (select(HumanTask).join(HumanTask.order).join(Order.customer)
                 .options(joinedload(HumanTask.order))
                 .where(HumanTask.state == "open", Order.status == OrderStatus.ACTIVE, bound_tasks(PLANS, kind)))
        if filters.text:
            query = query.where(matches_text(filters.text))
        waiting += [Unplanned(task.order, kind, task) for task in db.session.execute(query).unique().scalars()
                    if task.order is not None]
    far = clock.now() + timedelta(days=3650)  # no deadline sorts after every deadline
    return sorted(waiting, key=lambda row: (row.task.due_at or far, row.task.created_at, row.task.id))


def visits_xlsx(visits: list[Visit]) -> bytes:
    """The visits as the list shows them, one row each; headers in the user's language."""
    from openpyxl import Workbook

    from app.services.workbooks import DATETIME, Column, local_time, to_bytes, write_table

    book = Workbook()
    sheet = book.active
    sheet.title = _("Выезды")[:31]
    columns = [Column(_("Начало"), 17, DATETIME), Column(_("Окончание"), 17, DATETIME),
               Column(_("Длительность, ч"), 10, "0.0#"), Column(_("Вид"), 20), Column(_("Заказ"), 14),
               Column(_("Заказчик"), 28), Column(_("Адрес"), 40), Column(_("Телефон"), 16),
               Column(_("Исполнитель"), 28), Column(_("Статус"), 14), Column(_("Взят из очереди"), 17, DATETIME),
               Column(_("Этап заказа"), 24)]
    rows = [[local_time(visit.starts_at), local_time(visit.ends_at), round(visit.hours, 2), kind_label(visit.kind),
             visit.order.number, visit.order.customer.name, visit.order.address, visit.order.customer.phone or "",
             visit.user.name if visit.user else _("в очереди бригад"), _(STATUS_LABELS.get(visit.status, visit.status)),
             local_time(visit.taken_at), visit.order.stage] for visit in visits]
    write_table(sheet, columns, rows)
    return to_bytes(book)
