"""Admin: partners (points of sale, agents), their commission per order kind, and their portal accounts."""
from __future__ import annotations

import re
from decimal import Decimal

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from app import policy
from app.admin import bp
from app.extensions import db
from app.i18n import N_
from app.models import ORDER_KINDS, Order, Partner, PartnerCommission, User
from app.services.audit import record, set_field
from app.services.money import decimal_from_text
from app.services.reference import create_user
from app.services.settlements import kind_overrides
from app.usecases.uow import discard, unit_of_work
from app.web import action, allowed

PARTNER_KINDS = {"point_of_sale": N_("Точка продаж"), "agent": N_("Агент")}
PARTNER_FIELDS = ("name", "code", "kind", "contact", "commission_pct")
PARTNER_CODE = re.compile(r"[A-Za-z0-9_-]{1,40}")
PERCENT = re.compile(r"[0-9]{1,3}(?:[.,][0-9]{1,2})?")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MIN_PASSWORD = 8


def _partner(partner_id: int) -> Partner:
    partner = db.session.get(Partner, partner_id)
    if partner is None:
        abort(404)
    return partner


def _pct_text(value: Decimal | None) -> str:
    return "" if value is None else format_decimal(value)


def _partner_form(partner: Partner | None) -> dict:
    if partner is None:
        return {"kind": "point_of_sale", "commission_pct": "0"}
    form = {"name": partner.name, "code": partner.code, "kind": partner.kind, "contact": partner.contact or "",
            "commission_pct": _pct_text(partner.commission_pct)}
    form.update({f"pct_{override.kind}": _pct_text(override.pct) for override in partner.commissions})
    return form


def _partner_page(partner: Partner | None, form: dict, errors: dict, status: int = 200, account_form=None,
                  account_errors=None):
    accounts = [] if partner is None else db.session.execute(
        select(User).where(User.partner_id == partner.id).order_by(User.login)).scalars().all()
    return render_template("admin/partner_edit.html", partner=partner, form=form, errors=errors, accounts=accounts,
                           account_form=account_form or {}, account_errors=account_errors or {},
                           kinds=PARTNER_KINDS, order_kinds=ORDER_KINDS,
                           can_act=policy.can(current_user, "partners.edit")), status


def _percent(raw: str) -> tuple[Decimal | None, str | None]:
    """'12,5', '12.5' or '12,5 %' → Decimal('12.50'); anything else → a message for the field."""
    text = raw.strip().removesuffix("%").strip()
    if not PERCENT.fullmatch(text):
        return None, _("Введите число от 0 до 100, не больше двух знаков после запятой, например 12,5")
    value = decimal_from_text(text).quantize(Decimal("0.01"))
    if value > 100:
        return None, _("Процент не может быть больше 100")
    return value, None


def _read_partner(partner: Partner | None) -> tuple[dict, dict, dict]:
    """What was typed, a message per refused field, and the clean values."""
    form = {name: request.form.get(name, "").strip() for name in PARTNER_FIELDS}
    form.update({f"pct_{kind}": request.form.get(f"pct_{kind}", "").strip() for kind in ORDER_KINDS})
    errors: dict[str, str] = {}
    clean: dict = {"name": form["name"], "code": form["code"], "kind": form["kind"], "contact": form["contact"] or None,
                   "overrides": {}}
    if not form["name"]:
        errors["name"] = _("Укажите название")
    elif len(form["name"]) > 200:
        errors["name"] = _("Название — не длиннее 200 знаков")
    if not form["code"]:
        errors["code"] = _("Укажите код")
    elif not PARTNER_CODE.fullmatch(form["code"]):
        errors["code"] = _("Код — латинские буквы, цифры, «_» и «-», без пробелов, не длиннее 40 знаков")
    else:
        taken = select(Partner.id).where(func.lower(Partner.code) == form["code"].lower())
        if partner is not None:
            taken = taken.where(Partner.id != partner.id)
        if db.session.execute(taken).first() is not None:
            errors["code"] = _("Код %(code)s уже занят другим партнёром", code=form["code"])
    if form["kind"] not in PARTNER_KINDS:
        errors["kind"] = _("Выберите: точка продаж или агент")
    if len(form["contact"]) > 200:
        errors["contact"] = _("Контакт — не длиннее 200 знаков")
    if not form["commission_pct"]:
        errors["commission_pct"] = _("Укажите общий процент комиссии")
    else:
        clean["commission_pct"], message = _percent(form["commission_pct"])
        if message:
            errors["commission_pct"] = message
    for kind in ORDER_KINDS:
        if form[f"pct_{kind}"]:  # empty: the general percentage applies
            clean["overrides"][kind], message = _percent(form[f"pct_{kind}"])
            if message:
                errors[f"pct_{kind}"] = message
    return form, errors, clean


def _apply_partner(partner: Partner, clean: dict) -> None:
    """Stage what changed and log each change old → new."""
    changes = []
    for name in PARTNER_FIELDS:
        old = getattr(partner, name)
        if old != clean[name]:
            setattr(partner, name, clean[name])
            changes.append((name, old, clean[name]))
    current = {override.kind: override for override in partner.commissions}
    for kind in ORDER_KINDS:
        old, new = current[kind].pct if kind in current else None, clean["overrides"].get(kind)
        if old == new:
            continue
        if new is None:
            partner.commissions.remove(current[kind])
        elif old is None:
            partner.commissions.append(PartnerCommission(kind=kind, pct=new))
        else:
            current[kind].pct = new
        changes.append((f"commission_pct.{kind}", old, new))
    db.session.add(partner)
    db.session.flush()  # a new partner gets its id for the log; a code taken meanwhile fails here
    for name, old, new in changes:
        record(None, "field", current_user, field=name, old=old, new=new, entity="partner", entity_id=partner.id)


def _save_partner(partner: Partner | None):
    form, errors, clean = _read_partner(partner)
    if not errors:
        target = partner or Partner()
        try:
            with unit_of_work():
                _apply_partner(target, clean)
            flash(_("Партнёр сохранён"), "success")
            return redirect(url_for("admin.edit_partner", partner_id=target.id))
        except IntegrityError:
            errors["code"] = _("Код %(code)s уже занят другим партнёром", code=form["code"])
    discard()
    return _partner_page(partner, form, errors, 422)


@bp.get("/partners")
@allowed("partners.view")
def partners():
    rows = db.session.execute(select(Partner).options(selectinload(Partner.commissions))
                              .order_by(Partner.name)).scalars().all()
    orders = dict(db.session.execute(select(Order.partner_id, func.count()).where(Order.partner_id.is_not(None))
                                     .group_by(Order.partner_id)).all())
    accounts = dict(db.session.execute(select(User.partner_id, func.count()).where(User.partner_id.is_not(None))
                                       .group_by(User.partner_id)).all())
    overrides = {p.id: kind_overrides(p) for p in rows}
    return render_template("admin/partners.html", partners=rows, orders=orders, accounts=accounts,
                           overrides=overrides, kinds=PARTNER_KINDS,
                           can_act=policy.can(current_user, "partners.edit"))


@bp.route("/partners/new", methods=["GET", "POST"])
@allowed("partners.edit")
def new_partner():
    if request.method == "POST":
        return _save_partner(None)
    return _partner_page(None, _partner_form(None), {})


@bp.route("/partners/<int:partner_id>", methods=["GET", "POST"])
@allowed("partners.view", write="partners.edit")
def edit_partner(partner_id: int):
    partner = _partner(partner_id)
    if request.method == "POST":
        return _save_partner(partner)
    return _partner_page(partner, _partner_form(partner), {})


@bp.post("/partners/<int:partner_id>/accounts")
@allowed("partners.edit")
def add_partner_account(partner_id: int):
    """Not through @action: a refused account form is shown again with what was typed (never the password)."""
    partner = _partner(partner_id)
    typed = {name: request.form.get(name, "").strip() for name in ("login", "name", "email")}
    password = request.form.get("password", "")
    errors: dict[str, str] = {}
    if not typed["login"]:
        errors["login"] = _("Укажите логин")
    elif len(typed["login"]) > 80 or re.search(r"\s", typed["login"]):
        errors["login"] = _("Логин — без пробелов, не длиннее 80 знаков")
    elif db.session.execute(select(User.id).where(func.lower(User.login) == typed["login"].lower())).first():
        errors["login"] = _("Логин %(login)s уже занят", login=typed["login"])
    if not typed["name"]:
        errors["name"] = _("Укажите имя")
    elif len(typed["name"]) > 160:
        errors["name"] = _("Имя — не длиннее 160 знаков")
    if typed["email"] and (len(typed["email"]) > 200 or not EMAIL.fullmatch(typed["email"])):
        errors["email"] = _("Проверьте e-mail: например, name@example.com")
    if len(password) < MIN_PASSWORD:
        errors["password"] = _("Пароль — не короче %(count)d знаков", count=MIN_PASSWORD)
    if not errors:
        try:
            with unit_of_work():
                user = create_user(typed["login"], typed["name"], password, ["partner"], email=typed["email"] or None)
                user.partner_id = partner.id
                record(None, "field", current_user, field="account", new=user.login, entity="partner",
                       entity_id=partner.id)
            flash(_("Учётная запись %(login)s создана: передайте партнёру логин и пароль", login=user.login),
                  "success")
            return redirect(url_for("admin.edit_partner", partner_id=partner.id))
        except IntegrityError:  # the same login taken a moment ago
            errors["login"] = _("Логин %(login)s уже занят", login=typed["login"])
    discard()
    return _partner_page(partner, _partner_form(partner), {}, 422, typed, errors)


@bp.post("/partners/<int:partner_id>/accounts/<int:user_id>/active")
@allowed("partners.edit")
@action
def set_partner_account_active(partner_id: int, user_id: int):
    partner = _partner(partner_id)
    user = db.session.get(User, user_id)
    if user is None or user.partner_id != partner.id:
        abort(404)
    active = request.form.get("active") == "1"
    if set_field(user, "active", active, current_user, None, entity="user"):
        flash(_("Учётная запись %(login)s включена", login=user.login) if active
              else _("Учётная запись %(login)s отключена: войти с ней больше нельзя", login=user.login), "success")
    return redirect(url_for("admin.edit_partner", partner_id=partner.id))
