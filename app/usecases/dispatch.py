"""The dispatcher's hand on the calendar: plan a waiting order by putting it on a person and a time, move or
reassign a booked visit. Each is one unit of work; a refusal names the field (`kind`, `order_number`, `user`,
`starts_at`, `hours`) and says why in the words the planning forms use."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from app import clock, policy
from app.engine import engine
from app.engine.bindings import PLANS, VISIT
from app.errors import Conflict, Forbidden, NotFound, ValidationError
from app.extensions import db
from app.models import HumanTask, Order, OrderStatus, ProcessDefinition, Role, User, Visit
from app.services import audit, notifications, visits
from app.services.bindings import definition_bindings, order_tasks
from app.services.calendar import company_tz, working_time
from app.services.orders import get_order
from app.usecases import process
from app.usecases.projection import lane_roles, task_role
from app.usecases.tasks import complete_task
from app.usecases.uow import unit_of_work

# The notification the customer gets when a visit of the kind is booked (as the process's notify tasks send it).
BOOKED_EVENT = {"measurement": "visit_booked", "delivery": "delivery_booked"}


def planning_roles(kind: str) -> set[str]:
    """The roles whose lanes hold the kind's planning tasks, in every deployed version of a process."""
    roles: set[str] = set()
    for definition in db.session.execute(select(ProcessDefinition)).scalars():
        elements = definition_bindings(definition).elements(PLANS, kind)
        if not elements:
            continue
        lanes = _lanes(definition)
        mapping = lane_roles(definition.process_id)
        roles.update(task_role(lanes[e], mapping) for e in elements if e in lanes)
    return roles - {""}


def _lanes(definition: ProcessDefinition) -> dict[str, str]:
    return engine().lanes(definition.id, definition.checksum, lambda: definition.spec_json)


def plans(user: User, kind: str) -> bool:
    """The user plans visits of this kind: an admin, or someone of a role whose lane plans them."""
    return policy.can(user, "dispatch.plan") and (
        "admin" in user.role_codes or bool(planning_roles(kind) & user.role_codes))


def default_kind(user: User) -> str:
    """What the calendar shows first: the one kind the user plans (dispatch: measurements, delivery dispatch:
    deliveries), otherwise both."""
    mine = [kind for kind in visits.KINDS if plans(user, kind)]
    return mine[0] if len(mine) == 1 else "both"


def parse_kind(value: Any) -> str:
    if value not in visits.KINDS:
        message = _("Вид выезда — measurement (замер) или delivery (доставка и монтаж)")
        raise ValidationError(message, fields={"kind": message})
    return str(value)


def parse_moment(value: Any, field: str = "starts_at", *, naive: tzinfo | None = None) -> datetime:
    """An ISO date-time with its offset (`naive`: the zone of one without), in UTC; 422 naming the field."""
    if not isinstance(value, str) or not value.strip():
        message = _("Укажите дату и время")
        raise ValidationError(message, fields={field: message})
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or (moment.tzinfo is None and naive is None):
        message = _("Дата и время — в формате ISO 8601 со смещением, например 2026-12-02T11:00:00+03:00")
        raise ValidationError(message, fields={field: message})
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=naive)
    return moment.astimezone(timezone.utc)


def parse_hours(value: Any, kind: str) -> float:
    """A visit's length in hours: the kind's default when not given; 422 unless a number in (0, 24]."""
    if value is None or value == "":
        return visits.KINDS[kind].default_hours
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        value = "?"
    try:
        hours = float(value)
    except ValueError:
        hours = -1.0
    if not 0 < hours <= 24:
        message = _("Длительность — число часов больше 0 и не больше 24")
        raise ValidationError(message, fields={"hours": message})
    return hours


def _person(login: Any, kind: str) -> User:
    """The active person of the kind's role (a measurer, a crew) named by login; 422 on `user` otherwise."""
    if not isinstance(login, str) or not login.strip():
        message = _("Выберите, кому назначить выезд")
        raise ValidationError(message, fields={"user": message})
    user = db.session.execute(select(User).where(User.login == login.strip())).scalar_one_or_none()
    if user is None or not user.active:
        message = _("Нет такого сотрудника: %(login)s", login=login.strip()[:80])
        raise ValidationError(message, fields={"user": message})
    role = visits.KINDS[kind].role
    if role not in user.role_codes:
        title = db.session.get(Role, role)
        message = _("%(name)s не работает в роли «%(role)s»: такой выезд на него не назначить", name=user.name,
                    role=title.name if title is not None else role)
        raise ValidationError(message, fields={"user": message})
    return user


def _open_task(order: Order, binding: str, kind: str) -> HumanTask | None:
    return db.session.execute(select(HumanTask).where(order_tasks(order, binding, kind), HumanTask.state == "open")
                              .order_by(HumanTask.id)).scalars().first()


def _local(moment: datetime) -> str:
    return moment.astimezone(company_tz()).isoformat(timespec="seconds")


@unit_of_work()
def plan(kind: str, order_number: Any, login: Any, starts_at: datetime, hours: float | None, actor: User) -> Visit:
    """Complete the order's open planning task of the kind with this person, time and length, as its form would."""
    kind = parse_kind(kind)
    if not isinstance(order_number, str) or not order_number.strip():
        message = _("Укажите номер заказа")
        raise ValidationError(message, fields={"order_number": message})
    try:
        order = get_order(order_number.strip())
    except NotFound as exc:
        message = _("Заказ %(number)s не найден", number=order_number.strip()[:40])
        raise NotFound(message, fields={"order_number": message}) from exc
    task = _open_task(order, PLANS, kind)
    if task is None or order.status != OrderStatus.ACTIVE:
        message = _("Заказ %(number)s сейчас не ждёт планирования: %(stage)s", number=order.number,
                    stage=order.stage or order.status)
        raise Conflict(message, fields={"order_number": message})
    person = _person(login, kind)
    spec = visits.KINDS[kind]
    length = parse_hours(hours, kind)
    data: dict[str, Any] = {spec.person: person.login, spec.at: _local(starts_at), spec.hours: length}
    if spec.queue is not None:
        data[spec.queue[0]] = "assign"
    try:
        complete_task(task.id, data, actor)
    except ValidationError as exc:  # the form's own refusal, told in the calendar's words
        names = {spec.person: "user", spec.at: "starts_at", spec.hours: "hours"}
        fields = {names.get(name, name): text for name, text in exc.fields.items()}
        raise ValidationError(next(iter(fields.values()), exc.message), fields=fields) from exc
    visit = visits.booked(order, kind)
    assert visit is not None  # the form's data booked it (visits.record_bookings)
    return visit


def _describe(visit: Visit) -> str:
    who = visit.user.name if visit.user is not None else _("очередь бригад")
    return f"{visit.starts_at.astimezone(company_tz()):%d.%m %H:%M}, {visit.hours:g} ч, {who}"


def _as_expected(visit: Visit, expected: dict) -> bool:
    """The visit is still where the dispatcher saw it (who, when, how long) before dragging it."""
    who = visit.user.login if visit.user is not None else None
    if "user" in expected and (expected.get("user") or None) != who:
        return False
    if "starts_at" in expected and parse_moment(expected["starts_at"], "expected", naive=company_tz()) \
            != visit.starts_at:
        return False
    return "hours" not in expected or parse_hours(expected["hours"], visit.kind) == visit.hours


def get_visit(visit_id: int) -> Visit:
    """The visit, its row locked for this unit of work and read as stored now (PostgreSQL: a second dispatcher
    dragging it meanwhile waits here and then sees where the first one put it; SQLite writes one at a time)."""
    visit = db.session.get(Visit, visit_id, with_for_update=True, populate_existing=True)
    if visit is None:
        raise NotFound(_("Выезда %(id)s нет", id=visit_id))
    return visit


@unit_of_work()
def move(visit_id: int, login: Any, starts_at: datetime, hours: float | None, actor: User,
         expected: dict | None = None) -> Visit:
    """Move a booked visit to another time, person or length: the order, its open visit task, the process's data
    and the calendar follow, the history records it and the customer is told the new time."""
    visit = get_visit(visit_id)
    order, kind = visit.order, visit.kind
    if visit.status != "booked" or order.status != OrderStatus.ACTIVE:
        raise Conflict(_("Выезд по заказу %(number)s уже не запланирован: его не перенести", number=order.number),
                       fields={"visit": visit.status})
    if not plans(actor, kind):
        raise Forbidden(_("Выезды вида «%(kind)s» планирует другой диспетчер", kind=visit.kind_label))
    process.ensure_moves(order.instance)
    if expected and not _as_expected(visit, expected):
        raise Conflict(_("Этот выезд только что перенёс другой диспетчер: теперь он %(now)s. Обновите календарь.",
                         now=_describe(visit)), fields={"visit": _describe(visit)})
    person = _person(login, kind)
    length = parse_hours(hours, kind)
    ends_at = starts_at + timedelta(hours=length)
    if (visit.user_id, visit.starts_at, visit.ends_at) == (person.id, starts_at, ends_at):
        return visit  # dropped where it was
    _ensure_free(order, person, starts_at, ends_at, length)
    spec = visits.KINDS[kind]
    visits.book(order, kind, person, starts_at, length, actor)
    audit.set_field(order, spec.person, person, actor, order.id)
    audit.set_field(order, spec.at, starts_at, actor, order.id)
    task = _open_task(order, VISIT, kind)
    if task is not None and task.assignee_id != person.id:
        audit.record(order.id, "task", actor, field="assignee", old=task.assignee.login if task.assignee else None,
                     new=person.login, entity="task", entity_id=task.id, instance_id=task.instance_id)
        task.assignee = person
    if order.instance is not None:  # the steps still to come read the new person and time
        data = {spec.person: person.login, spec.at: _local(starts_at), spec.hours: length}
        process.step(order.instance, lambda workflow: engine().update_waiting_data(workflow, data), actor)
    notifications.notify(order, BOOKED_EVENT[kind], "customer")
    return visit


def _ensure_free(order: Order, person: User, starts_at: datetime, ends_at: datetime, hours: float) -> None:
    """The planning forms' rules: not in the past, within working hours, the person not booked elsewhere then."""
    if starts_at < clock.now():
        message = _("Это время уже прошло: выберите время в будущем")
        raise ValidationError(message, fields={"starts_at": message})
    if not working_time(starts_at, hours):
        message = _("Выезд должен пройти в рабочее время: в рабочий день, от начала до конца рабочего дня")
        raise ValidationError(message, fields={"starts_at": message})
    clash = visits.clashes(person.id, starts_at, ends_at, order_id=order.id)
    if clash:
        message = _("У %(name)s в это время уже есть выезд: заказ %(number)s, %(when)s", name=person.name,
                    number=clash[0].order.number, when=_describe(clash[0]))
        raise ValidationError(message, fields={"user": message})
