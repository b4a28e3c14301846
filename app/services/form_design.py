"""What the form editor checks in a form while it is built, each problem tied to the field, condition or rule it
concerns: the JSON Schema metaschema and the x-rules check (the same ones a deploy runs), plus what would make a
valid schema unusable on the task page (a required field the form does not declare, labels that do not match the
choices).

A problem is `{"field": key | None, "condition": index | None, "rule": index | None, "message": str}`: the
editor puts it next to that field, that conditional requirement (`allOf[index]`) or that x-rule.
"""
from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

from app.services.form_rules import RULE_HELPERS, rule_problems

# As `check_schema` (the deploy's check) validates: the metaschema with its formats (a `pattern` must be a regex).
_META = Draft202012Validator(Draft202012Validator.META_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _problem(message: str, *, field: str | None = None, condition: int | None = None,
             rule: int | None = None) -> dict:
    return {"field": field, "condition": condition, "rule": rule, "message": message}


def _meta_problems(schema: dict) -> list[dict]:
    """The metaschema's complaints, placed by where they are: `properties.<key>` or `allOf[i]`."""
    found = []
    for error in sorted(_META.iter_errors(schema), key=lambda e: [str(p) for p in e.absolute_path]):
        path = list(error.absolute_path)
        where = ".".join(str(p) for p in path) or "схема"
        message = f"{where}: {error.message}"
        if len(path) >= 2 and path[0] == "properties":
            inner = ".".join(str(p) for p in path[2:])
            found.append(_problem(f"{inner}: {error.message}" if inner else error.message, field=str(path[1])))
        elif len(path) >= 2 and path[0] == "allOf" and isinstance(path[1], int):
            found.append(_problem(message, condition=path[1]))
        else:
            found.append(_problem(message))
    return found


def _rule_problems(schema: dict, props: dict) -> list[dict]:
    """The deploy's x-rules check, run one rule at a time so each message lands on its rule."""
    rules = schema.get("x-rules")
    if rules is None:
        return []
    if not isinstance(rules, list):
        return [_problem(message) for message in rule_problems(schema)]
    found = [_problem(f"поле «{name}» заслоняет функцию правил {name}()", field=name)
             for name in sorted(set(props) & RULE_HELPERS)]
    alone = {key: value for key, value in schema.items() if key != "x-rules"}
    for index, rule in enumerate(rules):
        prefix = f"rule 1 ({rule['if']!r}) " if isinstance(rule, dict) and isinstance(rule.get("if"), str) else ""
        for message in rule_problems({**alone, "properties": props, "x-rules": [rule]}):
            if message.startswith("field '"):
                continue  # the helper-hiding problem, reported once above on its field
            message = message[len(prefix):] if prefix and message.startswith(prefix) else message
            found.append(_problem(message.removeprefix("rule 1 "), rule=index))
    return found


def _conditions(schema: dict, props: dict) -> list[dict]:
    """Conditional requirements (`allOf: [{if, then}]`) must name fields the form declares."""
    found = []
    for index, part in enumerate(schema.get("allOf") or []):
        if not isinstance(part, dict):
            continue
        condition: dict = part["if"] if isinstance(part.get("if"), dict) else {}
        tested: dict = condition["properties"] if isinstance(condition.get("properties"), dict) else {}
        named = list(tested.keys())
        then: dict = part["then"] if isinstance(part.get("then"), dict) else {}
        named += [name for name in then.get("required") or [] if isinstance(name, str)]
        for name in dict.fromkeys(named):
            if name not in props:
                found.append(_problem(f"условие называет поле «{name}», которого в форме нет", condition=index))
    return found


def _fields(schema: dict, props: dict) -> list[dict]:
    found = []
    for name in schema.get("required") or []:
        if isinstance(name, str) and name not in props:
            found.append(_problem(f"обязательное поле «{name}» в форме не объявлено — форму нельзя будет отправить"))
    for name, node in props.items():
        if not isinstance(node, dict):
            continue
        choices, labels = node.get("enum"), node.get("x-enumNames")
        if isinstance(choices, list):
            if not choices:
                found.append(_problem("у списка нет ни одного варианта", field=name))
            if len({repr(c) for c in choices}) != len(choices):
                found.append(_problem("значения вариантов повторяются", field=name))
            if isinstance(labels, list) and len(labels) != len(choices):
                found.append(_problem(f"подписей {len(labels)}, а вариантов {len(choices)}", field=name))
    return found


def form_problems(schema: Any, ui_schema: Any = None) -> list[dict]:
    """Everything wrong with a form being edited; empty when deploying it would pass and the form is usable."""
    if not isinstance(schema, dict):
        return [_problem("форма должна быть JSON-объектом")]
    found = _meta_problems(schema)
    declared = schema.get("properties")
    props: dict = declared if isinstance(declared, dict) else {}
    if schema.get("type") != "object":
        found.append(_problem("форма должна иметь \"type\": \"object\""))
    found += _rule_problems(schema, props) + _conditions(schema, props) + _fields(schema, props)
    if ui_schema is not None and not isinstance(ui_schema, dict):
        found.append(_problem("UI-схема должна быть JSON-объектом"))
    elif isinstance(ui_schema, dict) and not isinstance(ui_schema.get("ui:order", []), list):
        found.append(_problem("ui:order должен быть списком полей"))
    return found
