"""Task forms: data-dependent choices filled in, submissions validated per field."""
from __future__ import annotations

import copy
import re
from datetime import date, datetime
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from sqlalchemy import select

from app.errors import ValidationError
from app.extensions import db
from app.models import Role, User
from app.services.inputs import form_strings

FORMAT_CHECKER = FormatChecker()
_PHONE = re.compile(r"^\+?[0-9 ()\-]{7,20}$")


@FORMAT_CHECKER.checks("phone")
def _is_phone(value: Any) -> bool:
    return not isinstance(value, str) or bool(_PHONE.match(value))


@FORMAT_CHECKER.checks("money")
def _is_money(value: Any) -> bool:
    return not isinstance(value, (int, float)) or round(value * 100) == value * 100


@FORMAT_CHECKER.checks("date")
def _is_date(value: Any) -> bool:
    if not isinstance(value, str):
        return True
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


@FORMAT_CHECKER.checks("date-time")
def _is_datetime(value: Any) -> bool:
    if not isinstance(value, str):
        return True
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


@FORMAT_CHECKER.checks("attachment")
def _is_attachment(value: Any) -> bool:
    return not isinstance(value, str) or value.isdigit()


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
    "multipleOf": "Не больше двух знаков после запятой",
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


def validate_form(schema: dict, data: Any) -> dict:
    """Keep only the form's own fields and validate them; ValidationError lists each bad field."""
    if not isinstance(data, dict):
        raise ValidationError("Form data must be an object", fields={"_form": "expected an object"})
    declared = (schema.get("properties") or {}).keys()
    clean = {k: v for k, v in data.items() if k in declared and v is not None and v != ""}
    # The platform's rule for every string (NFC, no unstorable characters, blank → empty, a default maxLength).
    clean, fields = form_strings(schema, clean)
    clean = {k: v for k, v in clean.items() if v != ""}
    validator = Draft202012Validator(prepare_schema(schema), format_checker=FORMAT_CHECKER)
    for error in sorted(validator.iter_errors(clean), key=lambda e: list(e.absolute_path)):
        path = _field_path(error)
        if path not in fields:
            template = MESSAGES.get(error.validator)
            limit = error.validator_value if not isinstance(error.validator_value, (dict, list)) else ""
            fields[path] = template.format(limit=limit) if template else error.message
    if fields:
        raise ValidationError("Проверьте заполнение формы", fields=fields)
    return clean
