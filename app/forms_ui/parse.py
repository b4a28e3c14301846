"""A posted task form back into JSON: the renderer's walk in reverse, typed per the schema.

Field names are dotted paths with row indexes (`items.0.qty`); money and numbers are read as people type
them («1 234,56»), date-times in the company's time zone. A value that cannot be converted is kept as typed
so validation names the field and the form shows it again for correction.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import tzinfo
from decimal import Decimal
from functools import cached_property
from typing import Any, Callable, Iterable

from app.forms_ui.widgets import is_attachments
from app.services.calendar import company_tz
from app.services.dates import from_local_input
from app.services.money import decimal_from_text, json_amount, parse_money

_INDEX_KEY = re.compile(r"^(\d+)\.")


@dataclass
class Upload:
    path: str
    file: Any  # werkzeug FileStorage
    accept: str | None


def _convert(schema: dict, raw: str, tz: Callable[[], tzinfo]) -> Any:
    """One posted string → the schema's type; what cannot be converted is kept as typed for the error."""
    raw = raw.strip()
    if raw == "":
        return None
    kind = schema.get("type")
    if kind == "integer":
        try:
            return int(raw)
        except ValueError:
            return raw
    if kind == "number":
        try:
            amount = parse_money(raw) if schema.get("format") == "money" else decimal_from_text(raw)
        except ValueError:
            return raw  # kept as typed: the form says what is wrong with it
        return json_amount(amount) if schema.get("format") == "money" else _json_number(amount)
    if kind == "boolean":
        return raw.lower() in ("true", "1", "on", "yes")
    if schema.get("format") == "date-time":
        return from_local_input(raw, tz())
    return raw


def _json_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() and "." not in str(value) else float(value)


def _row_indexes(keys: Iterable[str], prefix: str) -> list[int]:
    found = set()
    for key in keys:
        if key.startswith(prefix + "."):
            match = _INDEX_KEY.match(key[len(prefix) + 1:])
            if match:
                found.add(int(match.group(1)))
    return sorted(found)


def _filled(row: dict, items: dict) -> bool:
    """A row the user typed into — not just the defaults the empty row comes with."""
    defaults = {k: v.get("default") for k, v in (items.get("properties") or {}).items()}
    return any(value != defaults.get(key) for key, value in row.items())


class _Parser:
    def __init__(self, form: Any, files: Any) -> None:
        self.form, self.files = form, files
        self.uploads: list[Upload] = []

    @cached_property
    def zone(self) -> tzinfo:
        return company_tz()  # asked only when a date-time was posted: the rest needs no app

    def walk(self, schema: dict, path: str) -> Any:
        kind = schema.get("type")
        if kind == "object":
            result = {}
            for name, sub in (schema.get("properties") or {}).items():
                value = self.walk(sub, f"{path}.{name}" if path else name)
                if value is not None:
                    result[name] = value
            return result or None
        if is_attachments(schema):
            ids = [v.strip() for v in self.form.getlist(path) if v.strip()]
            for file in self.files.getlist(path):
                if file and file.filename:
                    self.uploads.append(Upload(path, file, (schema.get("items") or {}).get("x-accept")))
            return ids or None
        if kind == "array" and (schema.get("items") or {}).get("type") == "object":
            rows = []
            for index in _row_indexes(self.form.keys(), path):
                row = self.walk(schema["items"], f"{path}.{index}")
                if row and _filled(row, schema["items"]):
                    rows.append(row)
            return rows or None
        values = self.form.getlist(path)
        if not values:
            return None
        # A checkbox posts "false" then "true": the last one wins.
        return _convert(schema, values[-1], lambda: self.zone)


def parse_form(schema: dict, form: Any, files: Any) -> tuple[dict, list[Upload]]:
    """Posted fields → nested JSON typed per the schema (empty strings dropped), plus the files to upload."""
    parser = _Parser(form, files)
    return parser.walk(schema, "") or {}, parser.uploads


def set_path(data: dict, path: str, value: Any) -> None:
    """Append an attachment id at a dotted path (creating the list)."""
    *parents, last = path.split(".")
    node: Any = data
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    node.setdefault(last, []).append(value)
