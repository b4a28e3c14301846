"""Task forms: data-dependent choices filled in, submissions validated per field, cross-field rules.

A form file may declare `x-rules`: `[{"if": "prepayment > price", "field": "prepayment", "message": "…"}]`.
Each `if` is an expression for the diagram's sandbox (app.engine.scripting); when it holds, `message`
is the error of `field`. Fields are in scope typed (money as Decimal, dates as date, date-times as
aware datetime; a field left empty is None), with the helpers in RULE_HELPERS. A rule that cannot be
evaluated — it reads an empty field, say — does not apply.
"""
from __future__ import annotations

import copy
import logging
import math
import re
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema import ValidationError as SchemaViolation
from jsonschema.validators import extend
from sqlalchemy import select

from app.engine.scripting import IN_SCOPE, RefusedScript, compile_expression, evaluate, free_names
from app.errors import ValidationError
from app.extensions import db
from app.models import Order, Role, User
from app.services.calendar import company_tz, working_time
from app.services.money import MoneyError, parse_money

log = logging.getLogger(__name__)
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
    latest = date(date.today().year + YEARS_AHEAD, 12, 31)
    if not EARLIEST <= day <= latest:
        raise FieldProblem(f"Дата должна быть между {EARLIEST:%d.%m.%Y} и {latest:%d.%m.%Y}")
    return True


def parse_datetime(value: str) -> datetime:
    """ISO date-time text as an aware datetime; one without an offset is UTC, as the order row reads it."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@FORMAT_CHECKER.checks("date", raises=FieldProblem)
def _is_date(value: Any) -> bool:
    if not isinstance(value, str):
        return True
    try:
        day = date.fromisoformat(value)
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


def _exact(number: Any) -> Decimal:
    return Decimal(repr(number)) if isinstance(number, float) else Decimal(number)


def _multiple_of(validator, step, instance, schema):
    """`multipleOf` on the decimal value (0.29 is a multiple of 0.01), not on the binary float."""
    if not validator.is_type(instance, "number"):
        return
    try:
        exact = _exact(instance) % _exact(step) == 0
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
NOT_A_NUMBER = "Введите число"


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
    template = MESSAGES.get(error.validator)
    limit = error.validator_value if not isinstance(error.validator_value, (dict, list)) else ""
    return template.format(limit=limit) if template else error.message


def _non_finite(node: Any, path: str) -> list[str]:
    """Paths of NaN and infinities: JSON Schema calls them numbers, nobody means them."""
    if isinstance(node, float) and not math.isfinite(node):
        return [path]
    if isinstance(node, dict):
        return [p for key, value in node.items() for p in _non_finite(value, f"{path}.{key}" if path else key)]
    if isinstance(node, list):
        return [p for i, value in enumerate(node) for p in _non_finite(value, f"{path}.{i}" if path else str(i))]
    return []


def validate_form(schema: dict, data: Any, *, order: Order | None = None) -> dict:
    """Keep only the form's own fields and validate them, then its x-rules; ValidationError lists each bad field.

    `order` is the order the task belongs to: rules read its balance through `balance()`.
    """
    if not isinstance(data, dict):
        raise ValidationError("Form data must be an object", fields={"_form": "expected an object"})
    declared = (schema.get("properties") or {}).keys()
    clean = {k: v for k, v in data.items() if k in declared and v is not None and v != ""}
    validator = FormValidator(prepare_schema(schema), format_checker=FORMAT_CHECKER)
    fields: dict[str, str] = {path: NOT_A_NUMBER for path in _non_finite(clean, "")}
    explained: set[str] = set()
    for error in sorted(validator.iter_errors(clean), key=lambda e: [str(p) for p in e.absolute_path]):
        path = _field_path(error)
        specific = isinstance(error.cause, FieldProblem)  # «не больше двух знаков» says more than «неверный тип»
        if path not in fields or (specific and path not in explained):
            fields[path] = _message(error)
            if specific:
                explained.add(path)
    fields.update({k: v for k, v in _rule_errors(schema, clean, fields, order).items() if k not in fields})
    if fields:
        raise ValidationError("Проверьте заполнение формы", fields=fields)
    return clean


# -- cross-field rules --------------------------------------------------------------------------------

def balance_of(order: Order | None) -> Decimal | None:
    """What the customer still owes: the price less every payment; None while there is no price."""
    if order is None or order.price is None:
        return None
    return order.price - sum((p.amount for p in order.payments), Decimal("0.00"))


def rule_helpers(order: Order | None) -> dict[str, Callable[..., Any]]:
    """The functions a form rule may call, bound to the task's order."""
    return {
        "now": lambda: datetime.now(timezone.utc),
        "today": lambda: datetime.now(company_tz()).date(),
        "working_time": working_time,
        "balance": lambda: balance_of(order),
        "order_price": lambda: order.price if order is not None else None,
    }


RULE_HELPERS = frozenset(rule_helpers(None))


def _typed(schema: dict, value: Any) -> Any:
    """A submitted value as rules compare it: money as Decimal, dates as date, date-times as aware datetime."""
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        return {key: _typed(props.get(key) or {}, item) for key, item in value.items()}
    if isinstance(value, list):
        return [_typed(schema.get("items") or {}, item) for item in value]
    fmt = schema.get("format")
    if fmt == "money" and isinstance(value, (int, float, str)):
        return parse_money(value)
    if fmt == "date" and isinstance(value, str):
        return date.fromisoformat(value)
    if fmt == "date-time" and isinstance(value, str):
        return parse_datetime(value)
    return value


def _rule_scope(schema: dict, clean: dict, errors: dict[str, str]) -> dict[str, Any]:
    """Every declared field by name: typed, its default when left out, None when empty or refused."""
    scope: dict[str, Any] = {}
    for name, node in (schema.get("properties") or {}).items():
        refused = any(path == name or path.startswith(name + ".") for path in errors)
        value = None if refused else clean.get(name, node.get("default"))
        try:
            scope[name] = None if value is None else _typed(node, value)
        except (ValueError, MoneyError):
            scope[name] = None
    return scope


def _rule_errors(schema: dict, clean: dict, errors: dict[str, str], order: Order | None) -> dict[str, str]:
    rules = schema.get("x-rules") or []
    if not rules:
        return {}
    scope = {**_rule_scope(schema, clean, errors), **rule_helpers(order)}
    found: dict[str, str] = {}
    for rule in rules:
        if rule["field"] in errors or rule["field"] in found:
            continue
        try:
            broken = evaluate(rule["if"], scope)
        except Exception as exc:  # noqa: BLE001 - a rule reading an empty field does not apply
            log.debug("form rule %r of %r does not apply: %s", rule["if"], schema.get("title"), exc)
            continue
        if broken:
            found[rule["field"]] = rule["message"]
    return found


def _declares(schema: dict, path: str) -> bool:
    node: Any = schema
    for part in path.split("."):
        props = node.get("properties") if isinstance(node, dict) else None
        if not isinstance(props, dict) or part not in props:
            return False
        node = props[part]
    return True


def rule_problems(schema: dict) -> list[str]:
    """What is wrong with a form's x-rules, each problem naming its rule; empty when they are all usable."""
    rules = schema.get("x-rules")
    if rules is None:
        return []
    if not isinstance(rules, list):
        return ["x-rules must be a list of {if, field, message}"]
    fields = set((schema.get("properties") or {}).keys())
    problems = [f"field '{name}' hides the rule helper {name}()" for name in sorted(fields & RULE_HELPERS)]
    for number, rule in enumerate(rules, start=1):
        if not isinstance(rule, dict) or not all(isinstance(rule.get(key), str) and rule[key].strip()
                                                 for key in ("if", "field", "message")):
            problems.append(f"rule {number} needs the texts 'if', 'field' and 'message'")
            continue
        where = f"rule {number} ({rule['if']!r})"
        try:
            compile_expression(rule["if"])
            unknown = free_names(rule["if"]) - fields - RULE_HELPERS - IN_SCOPE
        except (RefusedScript, SyntaxError) as exc:
            problems.append(f"{where} does not compile: {exc}")
            continue
        if unknown:
            problems.append(f"{where} reads {', '.join(sorted(unknown))}, which the form does not declare")
        if not _declares(schema, rule["field"]):
            problems.append(f"{where} names field '{rule['field']}', which the form does not declare")
    return problems
