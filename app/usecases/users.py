"""Accounts administered in the browser: create, edit, deactivate / reactivate, reset a password.

Each is one unit of work, and every change is audited on the user (field, old → new; passwords never). Nobody can
take away their own admin role or deactivate themselves, whatever page or script asks.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.errors import Forbidden, NotFound, ValidationError
from app.extensions import db
from app.models import ROLES, Department, Partner, Role, User
from app.services.audit import record
from app.services.inputs import take_text
from app.services.phones import PhoneError, normalize_phone
from app.services.reference import create_user
from app.usecases.uow import unit_of_work

LOGIN = re.compile(r"\S{1,80}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MIN_PASSWORD = 8
# No 0/O, 1/l/I: a generated password is read off the screen and typed in by someone else.
PASSWORD_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
GENERATED_LENGTH = 12
SYSTEM_LOGINS = frozenset({"customer"})  # the account behind every status link: it never signs in


@dataclass
class AccountForm:
    """What an admin typed for an account (stripped text, ticked roles, headed department codes, partner id)."""

    login: str = ""
    name: str = ""
    email: str = ""
    phone: str = ""
    roles: list[str] = field(default_factory=list)
    heads: list[str] = field(default_factory=list)
    partner_id: str = ""


@dataclass
class Clean:
    login: str
    name: str
    email: str | None
    phone: str | None
    roles: list[str]
    heads: list[str]
    partner_id: int | None


def generated_password() -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(GENERATED_LENGTH))


def _account(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(_("Пользователь не найден"))
    if user.login in SYSTEM_LOGINS:
        raise Forbidden(_("Служебная учётная запись «%(login)s» не меняется: от её имени заказчики работают по "
                          "ссылке", login=user.login))
    return user


def _checked(form: AccountForm, user: User | None, actor: User) -> Clean:
    """The clean values, or ValidationError with a message per refused field."""
    errors: dict[str, str] = {}
    login = take_text(errors, "login", form.login, max_length=80, required=_("Укажите логин"))
    if login and not LOGIN.fullmatch(login):
        errors["login"] = _("Логин — без пробелов, не длиннее 80 знаков")
    elif login:
        taken = select(User.id).where(func.lower(User.login) == login.lower())
        if user is not None:
            taken = taken.where(User.id != user.id)
        if db.session.execute(taken).first() is not None:
            errors["login"] = _("Логин %(login)s уже занят", login=login)
    name = take_text(errors, "name", form.name, max_length=160, required=_("Укажите имя"))
    email = take_text(errors, "email", form.email, max_length=200)
    if email and not EMAIL.fullmatch(email):
        errors["email"] = _("Проверьте e-mail: например, name@example.com")
    phone = None
    try:
        phone = normalize_phone(form.phone)
    except PhoneError:
        errors["phone"] = _("Неверный номер телефона — укажите, например, +7 916 123-45-67")
    roles = [code for code in ROLES if code in form.roles and code != "customer"]
    if set(form.roles) - set(roles):
        errors["roles"] = _("Неизвестная роль: %(codes)s", codes=", ".join(sorted(set(form.roles) - set(roles))))
    elif not roles:
        errors["roles"] = _("Отметьте хотя бы одну роль")
    elif user is not None and user.id == actor.id and user.has_role("admin") and "admin" not in roles:
        errors["roles"] = _("Свою роль администратора снять нельзя: это сделает другой администратор")
    departments = set(db.session.execute(select(Department.code)).scalars())
    if set(form.heads) - departments:
        errors["heads"] = _("Такого отдела нет: %(codes)s", codes=", ".join(sorted(set(form.heads) - departments)))
    partner_id = None
    if form.partner_id:
        # ids past int4 are no partner, and must not reach PostgreSQL as one
        partner_id = int(form.partner_id) if form.partner_id.isdigit() and len(form.partner_id) < 10 else None
        if partner_id is None or db.session.get(Partner, partner_id) is None:
            errors["partner_id"] = _("Такого партнёра нет")
    if "partner" in roles and not form.partner_id and "partner_id" not in errors:
        errors["partner_id"] = _("Для роли «Партнёр» выберите партнёра, чьи заказы увидит учётная запись")
    elif form.partner_id and "partner" not in roles and "partner_id" not in errors:
        errors["partner_id"] = _("Партнёра можно указать только учётной записи с ролью «Партнёр»")
    if errors:
        raise ValidationError(_("Пользователь не сохранён — проверьте отмеченные поля"), fields=errors)
    return Clean(login=login, name=name, email=email or None, phone=phone, roles=roles,
                 heads=sorted(set(form.heads)), partner_id=partner_id)


def _listed(values) -> str | None:
    return ", ".join(sorted(values)) or None


def _apply(user: User, clean: Clean, actor: User) -> None:
    """Stage what changed and audit each change old → new (a new account: every field from nothing)."""
    for name in ("login", "name", "email", "phone", "partner_id"):
        old, new = getattr(user, name), getattr(clean, name)
        if old != new:
            setattr(user, name, new)
            record(None, "field", actor, field=name, old=old, new=new, entity="user", entity_id=user.id)
    old_roles = user.role_codes
    if old_roles != set(clean.roles):
        user.roles = [db.session.get(Role, code) for code in clean.roles]
        record(None, "field", actor, field="roles", old=_listed(old_roles), new=_listed(clean.roles), entity="user",
               entity_id=user.id)
    departments = db.session.execute(select(Department).order_by(Department.code)).scalars().all()
    old_heads = {d.code for d in departments if d.head_id == user.id}
    for department in departments:
        heads_it = department.code in clean.heads
        if heads_it == (department.head_id == user.id):
            continue
        previous = department.head
        department.head = user if heads_it else None
        # On the department too: taking it over removes its previous head, who is named here.
        record(None, "field", actor, field="head", old=previous, new=department.head, entity="department",
               entity_id=department.id)
    if old_heads != set(clean.heads):
        record(None, "field", actor, field="heads", old=_listed(old_heads), new=_listed(clean.heads), entity="user",
               entity_id=user.id)


def _taken(login: str) -> ValidationError:
    return ValidationError(_("Пользователь не сохранён — проверьте отмеченные поля"),
                           fields={"login": _("Логин %(login)s уже занят", login=login)})


def create_account(form: AccountForm, password: str, actor: User) -> tuple[User, str]:
    """A new active account; an empty `password` is generated. Returns the user and the password to show once."""
    with unit_of_work():
        clean = _checked(form, None, actor)
        if password and len(password) < MIN_PASSWORD:
            raise ValidationError(_("Пользователь не сохранён — проверьте отмеченные поля"),
                                  fields={"password": _("Пароль — не короче %(count)d знаков", count=MIN_PASSWORD)})
        password = password or generated_password()
        try:
            user = create_user(clean.login, clean.name, password, [])
        except IntegrityError as exc:  # the same login taken a moment ago
            raise _taken(clean.login) from exc
        record(None, "field", actor, field="account", new=user.login, entity="user", entity_id=user.id,
               details={"name": user.name})
        _apply(user, clean, actor)  # e-mail, phone, roles, departments and partner from nothing
    return user, password


def update_account(user_id: int, form: AccountForm, actor: User) -> User:
    with unit_of_work():
        user = _account(user_id)
        _apply(user, _checked(form, user, actor), actor)
        try:
            db.session.flush()
        except IntegrityError as exc:
            raise _taken(form.login) from exc
    return user


def set_active(user_id: int, active: bool, actor: User) -> User:
    """Deactivate (sign-in refused, sessions and API tokens stop working) or reactivate an account."""
    with unit_of_work():
        user = _account(user_id)
        if not active and user.id == actor.id:
            raise Forbidden(_("Себя отключить нельзя: это сделает другой администратор"))
        if user.active != active:
            record(None, "field", actor, field="active", old=user.active, new=active, entity="user",
                   entity_id=user.id)
            user.active = active
    return user


def reset_password(user_id: int, actor: User) -> tuple[User, str]:
    """A new generated password (returned to be shown once); the old one, its sessions and tokens stop working."""
    with unit_of_work():
        user = _account(user_id)
        if user.id == actor.id:
            raise Forbidden(_("Свой пароль меняют на странице «Сменить пароль»: там нужен текущий"))
        password = generated_password()
        user.set_password(password)
        record(None, "field", actor, field="password", new="reset", entity="user", entity_id=user.id)
    return user, password
