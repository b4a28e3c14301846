"""What every input path shares: strict JSON, clean text, bounded numbers — each problem named by its field.

Browser forms, API bodies, task forms and messages from outside all end in the same columns and the same
process state, so they are cleaned by the same rules: a string is a string (not a list, not a number), it is
stored in Unicode NFC, it holds no lone surrogate or control character (PostgreSQL refuses both), an
"empty" made of zero-width or blank-looking characters is empty, and it fits the column it goes to.
"""
from __future__ import annotations

import json
import math
import re
import unicodedata
from typing import Any

from app.errors import MalformedInput, ValidationError

MAX_JSON_DEPTH = 32  # our deepest body (a form's nested data) is 4 levels; 10,000 levels crashed the parser
MAX_ID = 2**63 - 1  # the largest id a row can have (bigint); a larger one names nothing
# Descriptions, notes, reasons, comments: Text columns still get a sane bound (above the 20,000 characters
# of an e-mail body that the mail receiver keeps, with its subject and attachment lines).
FREE_TEXT_MAX = 30_000
FORM_TEXT_MAX = 10_000  # a task form's string field that declares no maxLength

# Characters that look like nothing: a name made only of these (and spaces) is an empty name.
_BLANK_LOOKALIKES = frozenset("\u115f\u1160\u3164\uffa0\u2800")
_SURROGATE = re.compile("[\ud800-\udfff]")
_UNSTORABLE = re.compile("[\ud800-\udfff\x00]")  # PostgreSQL text holds neither
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")


class _Constant:
    """NaN, Infinity or -Infinity met in a JSON body; refused by the walk, which knows the field's name."""

    def __init__(self, literal: str) -> None:
        self.literal = literal


def parse_json(data: bytes) -> Any:
    """A JSON document, refusing nesting past MAX_JSON_DEPTH (400) and NaN / Infinity / lone surrogates (422)."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRING.sub(b'""', data)):
        depth += 1 if bracket in b"[{" else -1
        if depth > deepest:
            deepest = depth
            if deepest > MAX_JSON_DEPTH:
                message = f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
                raise MalformedInput(message, fields={"_body": message})
    try:
        value = json.loads(data, parse_constant=_Constant)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError too
        raise ValidationError("Expected a JSON object body", fields={"_body": f"invalid JSON: {exc}"}) from None
    problems = _walk_json(value)
    if problems:
        raise ValidationError("Проверьте поля: " + ", ".join(problems), fields=problems)
    return value


def _walk_json(value: Any) -> dict[str, str]:
    problems: dict[str, str] = {}
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, dict):
            for key, item in node.items():
                name = f"{path}.{key}" if path else key
                if _UNSTORABLE.search(key):
                    problems[_printable(path) or "_body"] = "Недопустимый символ в имени поля"
                    continue
                stack.append((name, item))
        elif isinstance(node, list):
            stack.extend((f"{path}.{i}" if path else str(i), item) for i, item in enumerate(node))
        elif isinstance(node, _Constant):
            problems[path or "_body"] = f"{node.literal} — не число: укажите конечное число"
        elif isinstance(node, str) and _UNSTORABLE.search(node):
            problems[path or "_body"] = ("Недопустимый символ (непарный суррогат UTF-16)" if _SURROGATE.search(node)
                                         else "Недопустимый символ NUL")
    return problems


def _printable(path: str) -> str:
    return _UNSTORABLE.sub("\ufffd", path)


def is_blank(text: str) -> bool:
    """True when nothing in the text would show: spaces, zero-width and format characters, blank look-alikes."""
    return not any(unicodedata.category(ch)[0] in "LNPSM" and unicodedata.category(ch) != "Mn"
                   and ch not in _BLANK_LOOKALIKES for ch in text)


def _strip_invisible(text: str) -> str:
    start, end = 0, len(text)
    while start < end and _invisible(text[start]):
        start += 1
    while end > start and _invisible(text[end - 1]):
        end -= 1
    return text[start:end]


def _invisible(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch) in ("Cf", "Zs", "Zl", "Zp") or ch in _BLANK_LOOKALIKES


def clean_text(value: Any, *, max_length: int, multiline: bool = False) -> str:
    """A string cleaned for storage ("" for None or a blank one), or ValueError with a message for the user.

    Single-line text has its runs of white space folded to one space; multi-line text keeps line breaks and tabs.
    """
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError("Ожидается строка")
    if _SURROGATE.search(value):
        raise ValueError("Недопустимый символ (непарный суррогат UTF-16)")
    allowed = "\t\n\r" if multiline else "\t\n\r\x0b\x0c"
    if any(unicodedata.category(ch) == "Cc" and ch not in allowed for ch in value):
        raise ValueError("Недопустимый управляющий символ")
    text = unicodedata.normalize("NFC", value)
    if not multiline:
        text = " ".join(text.split())
    text = _strip_invisible(text)
    if is_blank(text):
        return ""
    if len(text) > max_length:
        raise ValueError(f"Слишком длинно: не больше {max_length} знаков")
    return text


def take_text(fields: dict[str, str], name: str, value: Any, *, max_length: int, required: str | None = None,
              multiline: bool = False) -> str:
    """clean_text, with a problem recorded under the field's name instead of raised (for forms with many fields)."""
    try:
        text = clean_text(value, max_length=max_length, multiline=multiline)
    except ValueError as exc:
        fields[name] = str(exc)
        return ""
    if not text and required:
        fields[name] = required
    return text


def body_text(body: dict, name: str, *, max_length: int, multiline: bool = False, required: str | None = None) -> str:
    """One string member of a JSON body, cleaned; ValidationError naming it otherwise."""
    fields: dict[str, str] = {}
    text = take_text(fields, name, body.get(name), max_length=max_length, required=required, multiline=multiline)
    if fields:
        raise ValidationError(f"'{name}': {fields[name]}", fields=fields)
    return text


def body_object(body: dict, name: str) -> dict:
    """An object member of a JSON body ({} when absent or null); ValidationError naming it otherwise."""
    value = body.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationError(f"'{name}' must be an object", fields={name: "Ожидается объект"})
    return value


def int_arg(args, name: str, default: int, low: int, high: int, *, strict: bool = True) -> int:
    """An integer query parameter clamped to [low, high]; a non-number is a 422 (strict) or the default."""
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        if not strict:
            return default
        raise ValidationError(f"'{name}' must be an integer", fields={name: "integer expected"}) from exc
    return max(low, min(high, value))


def like_pattern(text: str) -> str:
    """`%text%` for LIKE with the text's own %, _ and \\ matched literally (use with escape="\\\\")."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def form_strings(schema: dict, data: Any, path: str = "") -> tuple[Any, dict[str, str]]:
    """A task form's data with every string cleaned (NFC, no surrogates or control characters, blank → "") and
    bounded by its field's maxLength or FORM_TEXT_MAX, and no NaN or infinity; returns (data, {field: problem})."""
    schema = schema if isinstance(schema, dict) else {}
    problems: dict[str, str] = {}
    if isinstance(data, dict):
        properties = schema.get("properties") or {}
        cleaned = {}
        for key, value in data.items():
            cleaned[key], inner = form_strings(properties.get(key, {}), value, f"{path}.{key}" if path else key)
            problems.update(inner)
        return cleaned, problems
    if isinstance(data, list):
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        cleaned_items = []
        for i, value in enumerate(data):
            item, inner = form_strings(items, value, f"{path}.{i}" if path else str(i))
            cleaned_items.append(item)
            problems.update(inner)
        return cleaned_items, problems
    if isinstance(data, float) and not math.isfinite(data):  # "nan" or "inf" typed in a number field
        problems[path or "_form"] = "Укажите конечное число"
        return data, problems
    if isinstance(data, str):
        declared = schema.get("maxLength")
        limit = declared if isinstance(declared, int) and not isinstance(declared, bool) else FORM_TEXT_MAX
        try:
            return clean_text(data, max_length=limit, multiline=True), problems
        except ValueError as exc:
            problems[path or "_form"] = str(exc)
    return data, problems
