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
from itertools import islice
from typing import Any

from app.errors import MalformedInput, ValidationError

MAX_JSON_DEPTH = 32  # our deepest body (a form's nested data) is 4 levels; 10,000 levels crashed the parser
MAX_ID = 2**31 - 1  # ids are Integer columns (int4 on PostgreSQL): a larger one names nothing
# Descriptions, notes, reasons, comments: Text columns still get a sane bound (above the 20,000 characters
# of an e-mail body that the mail receiver keeps, with its subject and attachment lines).
FREE_TEXT_MAX = 30_000
NOT_A_NUMBER = "Введите число"  # NaN or infinity where a form wants a number
FORM_TEXT_MAX = 10_000  # a task form's string field that declares no maxLength

# Characters that look like nothing: a name made only of these (and spaces) is an empty name.
_BLANK_LOOKALIKES = frozenset("\u115f\u1160\u3164\uffa0\u2800")
_SURROGATE = re.compile("[\ud800-\udfff]")
_UNSTORABLE = re.compile("[\ud800-\udfff\x00]")  # PostgreSQL text holds neither
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")
_INNERMOST = re.compile(rb"[\[{][\]}]")
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:[dD][89a-fA-F][0-9a-fA-F]{2}|0000)")
_TOO_DEEP = f"JSON nested deeper than {MAX_JSON_DEPTH} levels"


class _Constant:
    """NaN, Infinity or -Infinity met in a JSON body; refused by the walk, which knows the field's name."""

    def __init__(self, literal: str) -> None:
        self.literal = literal


def parse_json(data: bytes) -> Any:
    """A JSON document, refusing nesting past MAX_JSON_DEPTH (400) and NaN / Infinity / lone surrogates / NUL (422).

    Every check runs at C speed on the raw bytes first; the value is walked only when they found a suspect.
    """
    _check_depth(data)
    constants: list[str] = []

    def constant(literal: str) -> _Constant:
        constants.append(literal)
        return _Constant(literal)

    try:
        value = json.loads(data, parse_constant=constant)
    except RecursionError:
        raise MalformedInput(_TOO_DEEP, fields={"_body": _TOO_DEEP}) from None
    except ValueError as exc:  # UnicodeDecodeError is a ValueError too
        raise ValidationError("Expected a JSON object body", fields={"_body": f"invalid JSON: {exc}"}) from None
    # A lone surrogate or a NUL can only come in as a \u escape: no such escape, nothing to look for.
    if constants or _SUSPECT_ESCAPE.search(data):
        problems = _walk_json(value) or {"_body": f"{constants[0]} — не число" if constants else "Недопустимый символ"}
        if problems:
            raise ValidationError("Проверьте поля: " + ", ".join(problems), fields=problems)
    return value


def _check_depth(data: bytes) -> None:
    """Peel the innermost bracket pairs MAX_JSON_DEPTH times: a pair still standing is nested deeper."""
    skeleton = _NOT_BRACKET.sub(b"", _STRING.sub(b"", data))
    for _ in range(MAX_JSON_DEPTH):
        skeleton, peeled = _INNERMOST.subn(b"", skeleton)
        if not peeled:
            return
    if _INNERMOST.search(skeleton):
        raise MalformedInput(_TOO_DEEP, fields={"_body": _TOO_DEEP})


def _walk_json(value: Any, budget: int = 100_000) -> dict[str, str]:
    """Each refused value by its field's path; {} when the body is too big to walk for names (budget nodes)."""
    problems: dict[str, str] = {}
    stack: list[tuple[Any, tuple | None]] = [(value, None)]  # (node, (parent trail, key)): paths built on demand
    while stack:
        budget -= 1
        if budget < 0:
            return {}
        node, trail = stack.pop()
        if isinstance(node, dict):
            for key, item in islice(node.items(), budget):
                if _UNSTORABLE.search(key):
                    problems[_path(trail)] = "Недопустимый символ в имени поля"
                elif isinstance(item, (dict, list, str, _Constant)):
                    stack.append((item, (trail, key)))
        elif isinstance(node, list):
            stack.extend((item, (trail, i)) for i, item in islice(enumerate(node), budget)
                         if isinstance(item, (dict, list, str, _Constant)))
        elif isinstance(node, _Constant):
            problems[_path(trail)] = f"{node.literal} — не число: укажите конечное число"
        elif isinstance(node, str) and _UNSTORABLE.search(node):
            problems[_path(trail)] = ("Недопустимый символ (непарный суррогат UTF-16)" if _SURROGATE.search(node)
                                      else "Недопустимый символ NUL")
    return problems


def _path(trail: tuple | None) -> str:
    parts: list[str] = []
    while trail is not None:
        trail, key = trail
        parts.append(_UNSTORABLE.sub("\ufffd", str(key)))
    return ".".join(reversed(parts)) or "_body"


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
        items = schema["items"] if isinstance(schema.get("items"), dict) else {}
        cleaned_items = []
        for i, value in enumerate(data):
            item, inner = form_strings(items, value, f"{path}.{i}" if path else str(i))
            cleaned_items.append(item)
            problems.update(inner)
        return cleaned_items, problems
    if isinstance(data, float) and not math.isfinite(data):  # "nan" or "inf" typed in a number field
        problems[path or "_form"] = NOT_A_NUMBER
        return data, problems
    if isinstance(data, str) and schema.get("format") == "attachment":  # an id: ASCII digits a row id can be
        if not (data.isascii() and data.isdigit() and int(data) <= MAX_ID):
            problems[path or "_form"] = "Нет такого файла"
        return data, problems
    if isinstance(data, str):
        declared = schema.get("maxLength")
        limit = declared if isinstance(declared, int) and not isinstance(declared, bool) else FORM_TEXT_MAX
        try:
            return clean_text(data, max_length=limit, multiline=True), problems
        except ValueError as exc:
            problems[path or "_form"] = str(exc)
    return data, problems
