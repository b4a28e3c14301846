"""What every browser page shares: writers take the lock first, an action is one unit of work, domain errors become
flashes or pages, the status pages are rate-limited."""
from __future__ import annotations

from datetime import datetime
from functools import wraps
from typing import Any, Callable

from flask import Flask, Response, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.routing.converters import NumberConverter

from app import clock, policy
from app.errors import BespokeError
from app.extensions import begin_write, limiter
from app.usecases.uow import unit_of_work

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def init_app(app: Flask) -> None:
    @app.before_request
    def _writers_first():
        # Before Flask-Login loads the user: a writing request opens its transaction as a writer.
        if request.method in WRITE_METHODS:
            begin_write()

    @app.context_processor
    def _policy():
        # Templates offer what the policy allows: can('incidents.view'), can('tasks.claim', task).
        return {"can": lambda action, target=None: policy.can(current_user, action, target),
                "link_maker": link_maker}

    @app.after_request
    def _no_sniffing(response):
        # A browser must take every answer for the type we say, never guess a page out of a file.
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response


def link_maker(endpoint: str, key: str, **values) -> Callable[[Any], str]:
    """url_for(endpoint, **{key: value}, **values) for each row of a page: the address built once around a marker,
    then each row's value written in as the rule's converter writes it (url_for per row was a quarter of a board's
    render). An endpoint whose address that cannot say goes through url_for each time."""
    rules = [rule for rule in current_app.url_map.iter_rules(endpoint) if key in rule.arguments]
    converter = rules[0]._converters.get(key) if len(rules) == 1 else None
    marker: Any = 918273645 if isinstance(converter, NumberConverter) else "bespoke-link-marker"
    address = url_for(endpoint, **{key: marker, **values}) if converter is not None else ""
    if converter is None or address.count(str(marker)) != 1:
        return lambda value: url_for(endpoint, **{key: value, **values})
    prefix, _marker, suffix = address.partition(str(marker))
    return lambda value: prefix + converter.to_url(value) + suffix


def allowed(action_name: str, *, write: str | None = None):
    """Declare the view's action in `app.policy` (`write`: another one for POST): anonymous visitors are sent to
    sign in, anyone else the table refuses gets 403 with its reason. The view checks its order or task itself."""
    actions = (action_name, write or action_name)

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            name = actions[request.method in WRITE_METHODS]
            if policy.RULES[name].who != policy.PUBLIC and not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()
            policy.ensure(current_user, name)
            return view(*args, **kwargs)

        wrapper.policy_actions = actions
        return wrapper

    return decorate


def action(view):
    """A form POST that changes state: one unit of work; a refusal is flashed and the user sent back."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        try:
            with unit_of_work():
                return view(*args, **kwargs)
        except StaleDataError:
            flash("Заказ только что изменил другой сотрудник — обновите страницу и повторите.", "error")
        except BespokeError as exc:
            if exc.status == 422:
                raise
            flash(exc.message, "error")
        return redirect(request.form.get("next") or request.referrer or "/")

    return wrapper


def sla_state(due_at: datetime | None, created_at: datetime | None, now: datetime | None = None) -> str | None:
    """'overdue', 'at-risk' (under a quarter of the time left) or None."""
    if due_at is None:
        return None
    now = now or clock.now()
    if due_at <= now:
        return "overdue"
    if created_at is not None and (due_at - now) < (due_at - created_at) / 4:
        return "at-risk"
    return None


def render_error(status: int, message: str):
    return render_template("error.html", status=status, message=message), status


# -- the customer's status pages (the page and its API) ----------------------------------------------------

def _rate_limit() -> str:
    return current_app.config["STATUS_RATE_LIMIT"]


def _miss_limit() -> str:
    return current_app.config["STATUS_MISS_LIMIT"]


def _missed(response: Response) -> bool:
    return response.status_code == 404


def limited(view):
    """Per address, over every status route (pages, files, the API): requests, and a much smaller allowance of
    failed lookups — once that is spent, the address gets 429 even for a good link until the window passes."""
    return limiter.shared_limit(_rate_limit, scope="status")(
        limiter.shared_limit(_miss_limit, scope="status-miss", deduct_when=_missed)(view))
