"""Task forms: data-dependent choices filled in, submissions validated per field, then the form's x-rules."""
from __future__ import annotations

import copy
import re
from datetime import date
from decimal import InvalidOperation
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema import ValidationError as SchemaViolation
from jsonschema.validators import extend
from sqlalchemy import select

from app import clock
from app.errors import ValidationError
from app.extensions import db
from app.models import Order, Role, User
from app.services.dates import parse_date, parse_datetime
from app.services.form_rules import rule_errors
from app.services.inputs import NOT_A_NUMBER, form_strings
from app.services.money import MoneyError, exact_decimal, parse_money

FORMAT_CHECKER = FormatChecker()
_PHONE = re.compile(r"^\+?[0-9 ()\-]{7,20}$")
EARLIEST = date(2000, 1, 1)
YEARS_AHEAD = 10  # no form date lies further ahead than this: 9999-12-31 is a typo


class FieldProblem(ValueError):
    """A value a format check refuses, with the message the person who typed it should read."""


@FORMAT_CHECKER.checks("phone")
def _is_phone(value: Any) -> bool:
    return not isinstance(value, str) or bool(_PHONE.match(value))


@FORMAT_CHECKER.checks("money", raises=FieldProblem)
def _is_money(value: Any) -> bool:
    if not isinstance(value, (int, float, str)) or isinstance(value, bool):
        return True  # the type check speaks for these
    try:
        parse_money(value)
    except MoneyError as exc:
        raise FieldProblem(str(exc)) from exc
    return True


def _within_window(day: date) -> bool:
    latest = date(clock.today().year + YEARS_AHEAD, 12, 31)
    if not EARLIEST <= day <= latest:
        raise FieldProblem(f"Дата должна быть между {EARLIEST:%d.%m.%Y} и {latest:%d.%m.%Y}")
    return True


@FORMAT_CHECKER.checks("date", raises=FieldProblem)
def _is_date(value: Any) -> bool:
    if not isinstance(value, str):
        return True
    try:
        day = parse_date(value)
    except ValueError:
        return False
    return _within_window(day)


@FORMAT_CHECKER.checks("date-time", raises=FieldProblem)
def _is_datetime(value: Any) -> bool:
    if not isinstance(value, str):
        return True
    try:
        moment = parse_datetime(value)
    except ValueError:
        return False
    return _within_window(moment.date())


@FORMAT_CHECKER.checks("attachment")
def _is_attachment(value: Any) -> bool:
    return not isinstance(value, str) or value.isdigit()


def _multiple_of(validator, step, instance, schema):
    """`multipleOf` on the decimal value (0.29 is a multiple of 0.01), not on the binary float."""
    if not validator.is_type(instance, "number"):
        return
    try:
        exact = exact_decimal(instance) % exact_decimal(step) == 0
    except (InvalidOperation, ValueError):
        exact = False  # NaN, infinities, magnitudes beyond any sense
    if not exact:
        yield SchemaViolation(f"{instance!r} is not a multiple of {step}")


FormValidator = extend(Draft202012Validator, {"multipleOf": _multiple_of})


MESSAGES = {
    "required": "Обязательное поле",
    "enum": "Выберите одно из допустимых значений",
    "const": "Требуется подтверждение",
    "format": "Неверный формат",
    "type": "Неверный тип значения",
    "minimum": "Значение слишком мало",
    "exclusiveMinimum": "Значение должно быть больше {limit}",
    "maximum": "Значение слишком велико",
    "minLength": "Слишком короткое значение",
    "maxLength": "Слишком длинное значение",
    "minItems": "Добавьте хотя бы одну строку",
    "multipleOf": "Значение должно быть кратно {limit}",
}


def _choices(source: str) -> tuple[list[str], list[str]]:
    kind, _, arg = source.partition(":")
    if kind == "role":
        users = db.session.execute(
            select(User).join(User.roles).where(Role.code == arg, User.active.is_(True)).order_by(User.name)
        ).scalars().all()
        return [u.login for u in users], [u.name for u in users]
    return [], []


def prepare_schema(schema: dict) -> dict:
    """A copy of the schema with every `x-choices` field's enum filled from current data."""
    prepared = copy.deepcopy(schema)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("x-choices"), str):
                values, names = _choices(node["x-choices"])
                node["enum"], node["x-enumNames"] = values, names
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(prepared)
    return prepared


def _field_path(error) -> str:
    path = [str(p) for p in error.absolute_path]
    if error.validator == "required":
        missing = re.search(r"'([^']+)' is a required property", error.message)
        if missing:
            path.append(missing.group(1))
    return ".".join(path) or "_form"


def _message(error) -> str:
    if isinstance(error.cause, FieldProblem):
        return str(error.cause)
    if error.validator == "type" and error.validator_value in ("number", "integer"):
        return NOT_A_NUMBER  # «abc» or «nan» typed into a number field
    template = MESSAGES.get(error.validator)
    limit = error.validator_value if not isinstance(error.validator_value, (dict, list)) else ""
    return template.format(limit=limit) if template else error.message


def validate_form(schema: dict, data: Any, *, order: Order | None = None) -> dict:
    """Keep only the form's own fields and validate them, then its x-rules; ValidationError lists each bad field.

    `order` is the order the task belongs to: rules read its balance through `balance()`.
    """
    if not isinstance(data, dict):
        raise ValidationError("Form data must be an object", fields={"_form": "expected an object"})
    declared = (schema.get("properties") or {}).keys()
    clean = {k: v for k, v in data.items() if k in declared and v is not None and v != ""}
    # The platform's rule for every string (NFC, no unstorable characters, blank → empty, a default maxLength)
    # and for numbers (no NaN or infinity).
    clean, fields = form_strings(schema, clean)
    clean = {k: v for k, v in clean.items() if v != ""}
    validator = FormValidator(prepare_schema(schema), format_checker=FORMAT_CHECKER)
    explained: set[str] = set()
    for error in sorted(validator.iter_errors(clean), key=lambda e: [str(p) for p in e.absolute_path]):
        path = _field_path(error)
        specific = isinstance(error.cause, FieldProblem)  # «не больше двух знаков» says more than «неверный тип»
        if path not in fields or (specific and path not in explained):
            fields[path] = _message(error)
            if specific:
                explained.add(path)
    fields.update({k: v for k, v in rule_errors(schema, clean, fields, order).items() if k not in fields})
    if fields:
        raise ValidationError("Проверьте заполнение формы", fields=fields)
    return clean
