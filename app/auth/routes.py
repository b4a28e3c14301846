"""Sign-in with throttling, session rotation and "remember me"; sign-out; the user's own settings page."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from app.auth import bp
from app.errors import TooManyRequests, Unauthorized
from app.i18n import LOCALES
from app.policy import is_partner
from app.services.phones import normalize_phone
from app.usecases.signin import sign_in
from app.usecases.uow import discard, unit_of_work
from app.web import allowed

MIN_PASSWORD = 8
NOTIFY_CHANNELS = ("email", "sms")  # in-app notifications always arrive; these are the extra ways


def _safe_next(target: str | None, home: str = "inbox.index") -> str:
    if target and not urlsplit(target).netloc and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for(home)


def _home(user) -> str:
    """Where signing in leads without a `next`: a partner's portal, the director's analytics, else the inbox."""
    if is_partner(user):
        return "partner.index"
    return "analytics.index" if user.has_role("director") else "inbox.index"


@bp.route("/login", methods=["GET", "POST"])
@allowed("public")
def login():
    if current_user.is_authenticated:
        return redirect(url_for("inbox.index"))
    login_value = ""
    if request.method == "POST":
        login_value = request.form.get("login", "").strip()
        try:
            user = sign_in(login_value, request.form.get("password", ""), request.remote_addr or "")
        except (TooManyRequests, Unauthorized) as exc:
            headers = {"Retry-After": str(exc.details["retry_after"])} if "retry_after" in exc.details else {}
            return render_template("auth/login.html", error=exc.message, login=login_value), exc.status, headers
        next_url = _safe_next(request.args.get("next"), _home(user))
        locale = session.get("locale")
        session.clear()  # a fresh session on sign-in: nothing from before survives (fixation)
        if locale:
            session["locale"] = locale
        login_user(user, remember=bool(request.form.get("remember")))
        return redirect(next_url)
    return render_template("auth/login.html", error=None, login=login_value)


@bp.post("/logout")
@allowed("account.own")
def logout():
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@allowed("account.own")
def change_password():
    errors: dict[str, str] = {}
    if request.method == "POST":
        current, new, repeat = (request.form.get(k, "") for k in ("current", "new", "repeat"))
        if not current_user.check_password(current):
            errors["current"] = _("Текущий пароль указан неверно")
        if len(new) < MIN_PASSWORD:
            errors["new"] = _("Не короче %(n)d символов", n=MIN_PASSWORD)
        elif new != repeat:
            errors["repeat"] = _("Пароли не совпадают")
        if not errors:
            with unit_of_work():
                current_user.set_password(new)
            login_user(current_user._get_current_object())  # re-issue the session for the new password
            flash(_("Пароль изменён"), "success")
            return redirect(url_for("inbox.index"))
        return _settings_page(errors=errors), 422
    return _settings_page(errors=errors)


def _settings_page(*, errors: dict[str, str] | None = None, notify: dict | None = None,
                   notify_errors: dict[str, str] | None = None) -> str:
    """The settings page: password and notifications share it, so either form's errors keep the other intact."""
    user = current_user._get_current_object()
    if notify is None:
        notify = {"channels": list(NOTIFY_CHANNELS[:1] if user.notify_channels is None else user.notify_channels),
                  "phone": user.phone or ""}
    return render_template("auth/password.html", errors=errors or {}, notify=notify, notify_errors=notify_errors or {})


def _checked_notify(channels: list[str], phone_raw: str) -> tuple[dict[str, str], str | None]:
    """Server-side rules: a possible phone number, and SMS only with a phone to send them to."""
    errors: dict[str, str] = {}
    phone = None
    try:
        phone = normalize_phone(phone_raw)
    except ValueError:
        errors["phone"] = _("Неверный номер телефона — укажите, например, +7 916 123-45-67")
    if "sms" in channels and phone is None and "phone" not in errors:
        errors["phone"] = _("Для SMS-уведомлений укажите номер телефона")
    return errors, phone


@bp.post("/settings/notifications")
@allowed("account.own")
def notification_settings():
    """Save the ways the user wants to be told; nothing ticked means only notifications in the system."""
    channels = [c for c in NOTIFY_CHANNELS if c in request.form.getlist("channels")]
    phone_raw = request.form.get("phone", "").strip()
    errors, phone = _checked_notify(channels, phone_raw)
    if errors:
        discard()
        return _settings_page(notify={"channels": channels, "phone": phone_raw}, notify_errors=errors), 422
    with unit_of_work():
        user = current_user._get_current_object()
        user.notify_channels, user.phone = channels, phone
    flash(_("Настройки уведомлений сохранены"), "success")
    return redirect(url_for("auth.change_password") + "#notifications")


@bp.post("/language")
@allowed("public")
def language():
    locale = request.form.get("locale")
    if locale in LOCALES:
        session["locale"] = locale
        if current_user.is_authenticated:
            with unit_of_work():
                current_user.locale = locale
    return redirect(_safe_next(request.form.get("next")))
