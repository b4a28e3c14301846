"""An order's process on its diagram (`/studio/orders/<number>`) and the admin's actions on it, each with a reason."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm.exc import StaleDataError

from app import policy
from app.errors import BespokeError, ValidationError
from app.i18n import N_
from app.models import Order, User
from app.services import order_history as history
from app.services import orders as order_service
from app.services.inputs import parse_json
from app.studio import bp
from app.usecases import instances
from app.usecases.uow import discard
from app.web import allowed

ACTIONS = ("suspend", "resume", "retry", "skip", "message")
DONE = {"suspend": N_("Процесс приостановлен"), "resume": N_("Процесс возобновлён"), "retry": N_("Шаг запущен заново"),
        "skip": N_("Шаг пропущен, процесс продолжен"), "message": N_("Сообщение доставлено")}


def _user() -> User:
    return current_user._get_current_object()


def _page(order: Order, errors: dict | None = None, typed: dict | None = None, status: int = 200):
    view = instances.instance_view(order)
    definition = view.instance.definition
    diagram = {"elements": view.picture.elements, "flows": view.picture.flows}
    return render_template(
        "studio/instance.html", view=view, order=order, definition=definition, bpmn_xml=definition.bpmn_xml,
        diagram=diagram, can_act=policy.can(_user(), "instances.admin"), errors=errors or {}, typed=typed or {},
        what=history.what, value=history.value), status


@bp.get("/orders/<number>")
@allowed("instances.view")
def instance(number: str):
    """The order's version drawn with done / active / waiting / failed elements, and the instance beside it."""
    return _page(order_service.get_order(number))[0]


def _json_object(raw: str, field: str) -> dict | None:
    """A typed JSON object, or a ValidationError naming the field."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        value = parse_json(raw.encode())
    except BespokeError as exc:
        message = _("Не JSON: %(error)s", error=next(iter(exc.fields.values()), exc.message))
        raise ValidationError(message, fields={field: message}) from None
    if not isinstance(value, dict):
        message = _("Ожидается объект JSON, например {\"approved\": true}")
        raise ValidationError(message, fields={field: message})
    return value


def _job_id(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() else None


def _run(name: str, order: Order, form) -> None:
    user, reason = _user(), form.get("reason", "")
    if name == "suspend":
        instances.suspend(order, user, reason)
    elif name == "resume":
        instances.resume(order, user, reason)
    elif name == "retry":
        instances.retry(order, user, reason, _job_id(form.get("job")))
    elif name == "skip":
        instances.skip(order, user, reason, _job_id(form.get("job")), _json_object(form.get("result", ""), "result"))
    else:
        payload = _json_object(form.get("payload", ""), "payload") or {}
        instances.send_message(order, user, form.get("message", ""), payload, reason)


def _rules(view):
    """One URL per action (`/studio/orders/<number>/suspend` …), all served by `act`."""
    for name in reversed(ACTIONS):
        view = bp.post(f"/orders/<number>/{name}", defaults={"name": name})(view)
    return view


@_rules
@allowed("instances.admin")
def act(number: str, name: str):
    """One admin action; a refused form comes back with its messages beside the fields and what was typed."""
    order = order_service.get_order(number)
    try:
        _run(name, order, request.form)
    except ValidationError as exc:
        discard()
        fields = exc.fields or {"reason": exc.message}
        return _page(order_service.get_order(number), errors={name: fields}, typed={name: request.form.to_dict()},
                     status=422)
    except StaleDataError:
        discard()
        flash(_("Заказ только что изменил другой сотрудник — обновите страницу и повторите."), "error")
    except BespokeError as exc:  # e.g. not suspended any more, or a retried step that fails again
        discard()
        flash(exc.message, "error")
    else:
        flash(_(DONE[name]), "success")
    return redirect(url_for("studio.instance", number=number))
