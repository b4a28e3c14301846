"""Admin: users — the list with search and filters, create, edit, deactivate / reactivate, reset a password."""
from __future__ import annotations

import re

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.admin import bp
from app.errors import BespokeError, ValidationError
from app.extensions import db
from app.i18n import N_
from app.models import ROLES, AuditEvent, Department, Partner, User
from app.usecases.uow import discard
from app.usecases.users import (
    SYSTEM_LOGINS,
    AccountForm,
    create_account,
    reset_password,
    set_active,
    update_account,
)
from app.web import allowed

STATES = ("active", "inactive", "all")
FIELD_LABELS = {"account": N_("Учётная запись создана"), "login": N_("Логин"), "name": N_("Имя"), "email": N_("E-mail"),
                "phone": N_("Телефон"), "roles": N_("Роли"), "heads": N_("Руководит"), "partner_id": N_("Партнёр"),
                "active": N_("Вход"), "password": N_("Пароль сброшен")}
HISTORY_LENGTH = 50
ASSIGNABLE = [code for code in ROLES if code != "customer"]  # the customer role is the status link's account's


def _typed() -> AccountForm:
    return AccountForm(login=request.form.get("login", "").strip(), name=request.form.get("name", "").strip(),
                       email=request.form.get("email", "").strip(), phone=request.form.get("phone", "").strip(),
                       roles=request.form.getlist("roles"), heads=request.form.getlist("heads"),
                       partner_id=request.form.get("partner_id", "").strip())


def _departments() -> list[Department]:
    return list(db.session.execute(select(Department).order_by(Department.name)).scalars())


def _shown(user: User) -> AccountForm:
    heads = [d.code for d in _departments() if d.head_id == user.id]
    return AccountForm(login=user.login, name=user.name, email=user.email or "", phone=user.phone or "",
                       roles=sorted(user.role_codes), heads=heads,
                       partner_id="" if user.partner_id is None else str(user.partner_id))


def _role_label(code: str) -> str:
    ru, en = ROLES[code]
    return ru if str(get_locale()) == "ru" else en


def _history(user: User | None) -> list[AuditEvent]:
    """The account's changes, newest first: who changed which field from what to what."""
    if user is None:
        return []
    return list(db.session.execute(select(AuditEvent).where(AuditEvent.entity == "user",
                                                            AuditEvent.entity_id == str(user.id))
                                   .order_by(AuditEvent.id.desc()).limit(HISTORY_LENGTH)).scalars())


def _page(user: User | None, form: AccountForm, errors: dict, status: int = 200, password: str | None = None):
    """The account form; `password`, when given, is the new one shown this once (never stored, never cached)."""
    partners = db.session.execute(select(Partner).order_by(Partner.name)).scalars().all()
    system, itself = user is not None and user.login in SYSTEM_LOGINS, user is not None and user.id == current_user.id
    response = make_response(render_template(
        "admin/user_edit.html", user=user, form=form, errors=errors, password=password,
        roles=[(code, _role_label(code)) for code in ASSIGNABLE], departments=_departments(), partners=partners,
        system=system, itself=itself, history=_history(user), field_labels=FIELD_LABELS), status)
    if password:
        response.headers["Cache-Control"] = "no-store"
    return response


def _user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


def _matches(user: User, text: str) -> bool:
    """Login, name, e-mail or phone; in Python, not SQL: SQLite's LOWER knows ASCII only, and Cyrillic names are
    what people search for (staff lists are short)."""
    needle = text.casefold()
    if any(needle in (value or "").casefold() for value in (user.login, user.name, user.email)):
        return True
    digits = re.sub(r"\D", "", text)
    return len(digits) >= 3 and digits in re.sub(r"\D", "", user.phone or "")


@bp.get("/users")
@allowed("users.admin")
def users():
    text, role, state = (request.args.get("q", "").strip(), request.args.get("role", ""),
                         request.args.get("state", "active"))
    state = state if state in STATES else "active"
    query = select(User).order_by(User.login)
    if state != "all":
        query = query.where(User.active.is_(state == "active"))
    if role in ROLES:
        query = query.where(User.roles.any(code=role))
    rows = [user for user in db.session.execute(query).scalars() if not text or _matches(user, text)]
    heads: dict[int, list[Department]] = {}
    for department in _departments():
        if department.head_id is not None:
            heads.setdefault(department.head_id, []).append(department)
    return render_template("admin/users.html", users=rows, heads=heads, q=text, role=role, state=state,
                           roles=[(code, _role_label(code)) for code in ROLES], label=_role_label,
                           system=SYSTEM_LOGINS)


@bp.route("/users/new", methods=["GET", "POST"])
@allowed("users.admin")
def new_user():
    if request.method == "GET":
        return _page(None, AccountForm(), {})
    form = _typed()
    try:
        user, password = create_account(form, request.form.get("password", ""), current_user)
    except ValidationError as exc:
        discard()
        return _page(None, form, exc.fields or {"login": exc.message}, 422)
    flash(_("Пользователь %(login)s создан. Передайте ему логин и пароль: пароль показан один раз.",
            login=user.login), "success")
    return _page(user, _shown(user), {}, 201, password)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@allowed("users.admin")
def edit_user(user_id: int):
    user = _user(user_id)
    if request.method == "GET":
        return _page(user, _shown(user), {})
    form = _typed()
    try:
        update_account(user_id, form, current_user)
    except ValidationError as exc:
        discard()
        return _page(user, form, exc.fields or {"login": exc.message}, 422)
    except BespokeError as exc:  # the status link's account: said on the page, nothing changed
        discard()
        flash(exc.message, "error")
        return redirect(url_for("admin.edit_user", user_id=user_id))
    flash(_("Пользователь %(login)s сохранён", login=form.login), "success")
    return redirect(url_for("admin.edit_user", user_id=user_id))


@bp.post("/users/<int:user_id>/active")
@allowed("users.admin")
def set_user_active(user_id: int):
    _user(user_id)
    active = request.form.get("active") == "1"
    try:
        user = set_active(user_id, active, current_user)
    except BespokeError as exc:
        discard()
        flash(exc.message, "error")
        return redirect(url_for("admin.edit_user", user_id=user_id))
    flash(_("Учётная запись %(login)s включена", login=user.login) if active
          else _("Учётная запись %(login)s отключена: войти с ней и обратиться к API больше нельзя",
                 login=user.login), "success")
    return redirect(url_for("admin.edit_user", user_id=user_id))


@bp.post("/users/<int:user_id>/password")
@allowed("users.admin")
def reset_user_password(user_id: int):
    _user(user_id)
    try:
        user, password = reset_password(user_id, current_user)
    except BespokeError as exc:
        discard()
        flash(exc.message, "error")
        return redirect(url_for("admin.edit_user", user_id=user_id))
    flash(_("Пароль %(login)s сброшен: старый больше не действует. Новый показан один раз.", login=user.login),
          "success")
    return _page(user, _shown(user), {}, 200, password)
