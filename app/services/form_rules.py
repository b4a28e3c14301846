"""Cross-field rules a form file declares, evaluated in the diagram's sandbox (app.engine.scripting).

`"x-rules": [{"if": "prepayment > price", "field": "prepayment", "message": "…"}]`: when `if` holds,
`message` is the error of `field`. Every declared field is in scope typed (money as Decimal, dates as
date, date-times as aware datetime; a field left empty or refused is None), with the helpers of
`rule_helpers`. A rule that cannot be evaluated — it compares an empty field, say — does not apply.
Deploy refuses a form whose rules do not compile or read names the form does not declare.
"""
from __future__ import annotations

import logging
from typing import Any, Callable

from app import clock
from app.engine.scripting import IN_SCOPE, RefusedScript, compile_expression, evaluate, free_names
from app.models import Order
from app.services.calendar import working_time
from app.services.dates import parse_date, parse_datetime
from app.services.money import MoneyError, parse_money
from app.services.visits import busy

log = logging.getLogger(__name__)


def rule_helpers(order: Order | None) -> dict[str, Callable[..., Any]]:
    """The functions a form rule may call, bound to the task's order."""
    return {
        "now": lambda: clock.now(),
        "today": lambda: clock.today(),
        "working_time": working_time,
        "balance": lambda: order.balance if order is not None else None,
        "order_price": lambda: order.price if order is not None else None,
        "person_busy": lambda person, at, hours=None: busy(order, person, at, hours),
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
        return parse_date(value)
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


def rule_errors(schema: dict, clean: dict, errors: dict[str, str], order: Order | None) -> dict[str, str]:
    """Field → message for every rule that holds; fields already in `errors` are left to their own error."""
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
