"""The dispatcher's calendar: booked visits per measurer or crew, the unplanned queue beside it, and dragging an
order onto a person and a time to plan it or a visit elsewhere to move it.

The page speaks the company's wall clock (TIMEZONE): the feeds send times without an offset, and a time the page
sends without one is the company's; the integrations' API (`app.api.dispatch`) speaks ISO with offsets.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import jsonify, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.exc import StaleDataError

from app import clock
from app.dispatch import bp
from app.errors import Conflict, ValidationError
from app.models import Visit
from app.models.dispatch import VISIT_KINDS
from app.services import dispatch_calendar as board
from app.services.calendar import business_calendar, company_tz
from app.services.inputs import parse_json
from app.usecases import dispatch
from app.usecases.uow import discard
from app.web import allowed, sla_state

MAX_RANGE = timedelta(days=62)  # a month view with its leading and trailing weeks


def _kind_label(kind: str) -> str:
    russian, english = VISIT_KINDS[kind]
    return english if str(get_locale()) == "en" else russian


def _wall(moment: datetime) -> str:
    return moment.astimezone(company_tz()).replace(tzinfo=None).isoformat(timespec="minutes")


@bp.get("/dispatch")
@allowed("dispatch.view")
def calendar():
    work = business_calendar()
    today = clock.now(work.tz).date()
    days_off = [(today + timedelta(days=n)).isoformat() for n in range(-62, 120)
                if not work.is_working_day(today + timedelta(days=n))]
    kind = request.args.get("kind") or dispatch.default_kind(current_user)
    kind = kind if kind in (*board.KINDS, "both") else "both"
    return render_template(
        "dispatch/calendar.html", kind=kind, queue=board.waiting(current_user, board.kinds_of(kind)),
        can_plan={k: dispatch.plans(current_user, k) for k in board.KINDS}, sla_state=sla_state,
        hours={k: spec.default_hours for k, spec in board.KINDS.items()},
        kind_labels={k: _kind_label(k) for k in board.KINDS},
        settings={"slotMinTime": work.start.strftime("%H:%M"), "slotMaxTime": work.end.strftime("%H:%M"),
                  "daysOff": days_off, "today": today.isoformat(), "locale": str(get_locale()),
                  "urls": {"events": url_for(".events"), "resources": url_for(".resources"),
                           "queue": url_for(".queue"), "plan": url_for(".plan"),
                           "move": url_for(".move", visit_id=0)}})


def _period() -> tuple[datetime, datetime]:
    tz = company_tz()
    start = dispatch.parse_moment(request.args.get("start"), "start", naive=tz)
    end = dispatch.parse_moment(request.args.get("end"), "end", naive=tz)
    if end <= start or end - start > MAX_RANGE:
        message = _("Период — не длиннее %(days)s дней, конец позже начала", days=MAX_RANGE.days)
        raise ValidationError(message, fields={"end": message})
    return start, end


def _event(visit: Visit) -> dict:
    order = visit.order
    return {
        "id": str(visit.id), "resourceIds": [str(visit.user_id) if visit.user_id else "queue"],
        "start": _wall(visit.starts_at), "end": _wall(visit.ends_at),
        "title": f"{order.number} · {_kind_label(visit.kind)}",
        "classNames": [f"visit-{visit.kind}"],
        "extendedProps": {"kind": visit.kind, "number": order.number, "address": order.address or "",
                          "customer": order.customer.name if order.customer else "", "hours": visit.hours,
                          "user": visit.user.login if visit.user else None, "who": visit.user.name if visit.user
                          else _("очередь бригад"), "url": url_for("orders.card", number=order.number)},
    }


@bp.get("/dispatch/events")
@allowed("dispatch.view")
def events():
    start, end = _period()
    return jsonify([_event(v) for v in board.visits_between(start, end, board.kinds_of(request.args.get("kind")))])


@bp.get("/dispatch/resources")
@allowed("dispatch.view")
def resources():
    kinds = board.kinds_of(request.args.get("kind"))
    rows = [{"id": str(u.id), "title": u.name, "extendedProps": {"login": u.login, "kinds": [
        k for k in kinds if board.KINDS[k].role in u.role_codes]}} for u in board.people(kinds)]
    if "delivery" in kinds:
        rows.append({"id": "queue", "title": _("Очередь бригад"), "extendedProps": {"login": None, "kinds": []}})
    return jsonify(rows)


@bp.get("/dispatch/queue")
@allowed("dispatch.view")
def queue():
    now = clock.now()
    return jsonify([{
        "kind": w.kind, "kind_label": _kind_label(w.kind), "number": w.order.number,
        "address": w.order.address or "", "customer": w.order.customer.name if w.order.customer else "",
        "waiting_since": _wall(w.task.created_at), "due_at": _wall(w.task.due_at) if w.task.due_at else None,
        "sla": sla_state(w.task.due_at, w.task.created_at, now), "hours": board.KINDS[w.kind].default_hours,
        "url": url_for("orders.card", number=w.order.number)}
        for w in board.waiting(current_user, board.kinds_of(request.args.get("kind")))])


def _body() -> dict:
    body = parse_json(request.get_data(cache=True)) if request.is_json else None
    if not isinstance(body, dict):
        raise ValidationError(_("Ожидался JSON-объект"), fields={"_body": "invalid JSON"})
    return body


def _written(act):
    """Run a calendar write; two dispatchers at once: the second is told why (409), as the API tells it."""
    try:
        visit = act()
    except StaleDataError as exc:
        discard()
        raise Conflict(_("Заказ только что изменил другой сотрудник — обновите календарь и повторите.")) from exc
    except OperationalError as exc:
        discard()
        if "locked" in str(exc).lower():
            raise Conflict(_("База данных занята — повторите через секунду.")) from exc
        raise
    return jsonify({"ok": True, "event": _event(visit)})


@bp.post("/dispatch/plan")
@allowed("dispatch.view", write="dispatch.plan")
def plan():
    body = _body()
    kind = dispatch.parse_kind(body.get("kind"))
    starts_at = dispatch.parse_moment(body.get("starts_at"), naive=company_tz())
    return _written(lambda: dispatch.plan(kind, body.get("order_number"), body.get("user"), starts_at,
                                          body.get("hours"), current_user))


@bp.post("/dispatch/visits/<int:visit_id>/move")
@allowed("dispatch.view", write="dispatch.plan")
def move(visit_id: int):
    body = _body()
    starts_at = dispatch.parse_moment(body.get("starts_at"), naive=company_tz())
    expected = body.get("expected") if isinstance(body.get("expected"), dict) else None
    return _written(lambda: dispatch.move(visit_id, body.get("user"), starts_at, body.get("hours"), current_user,
                                          expected))
