"""One renderer for every task form: a recursive walk over the JSON Schema and its UI schema.

`render_form` turns (schema, ui schema, data, errors) into HTML; `parse_form` walks the same schema
to turn the posted fields (dotted paths with row indexes) back into nested, typed JSON.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Iterable
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from markupsafe import Markup, escape

from app.i18n import N_
from app.services.money import decimal_from_text, json_amount, parse_money, to_money

LOCAL_TZ = ZoneInfo("Europe/Moscow")
CANCEL_LIKE = frozenset({"cancel", "cancelled", "declined", "rejected", "reject", "customer_absent"})
ROW_INDEX = "__INDEX__"
_INDEX_KEY = re.compile(r"^(\d+)\.")


@dataclass
class FormExtras:
    """What the schema cannot know: people's booked visits, names of stored attachments."""

    person_notes: dict[str, str] = field(default_factory=dict)
    attachment_names: dict[str, str] = field(default_factory=dict)
    attachment_url: Any = None  # callable(id) -> url
    readonly: bool = False


# -- helpers ----------------------------------------------------------------------------------------

# UI words used inside f-strings (marked so pybabel extracts them; translated at render time).
REMOVE_ROW = N_("Удалить строку")
ADD_ROW = N_("Добавить строку")
REMOVE_FILE = N_("убрать")
DONE = N_("Готово")

def _ordered(props: dict, ui: dict) -> list[str]:
    """Properties in `ui:order` (with `*` for the rest), then the schema's own order."""
    order = ui.get("ui:order") or []
    rest = [k for k in props if k not in order]
    names: list[str] = []
    for name in order:
        if name == "*":
            names.extend(rest)
        elif name in props:
            names.append(name)
    if "*" not in order:
        names.extend(rest)
    return names


def _dom_id(path: str) -> str:
    return "f-" + re.sub(r"[^A-Za-z0-9_-]", "-", path)


def _attrs(**attrs: Any) -> Markup:
    parts = []
    for key, value in attrs.items():
        if value is None or value is False:
            continue
        name = key.rstrip("_").replace("_", "-")
        parts.append(f" {name}" if value is True else f' {name}="{escape(value)}"')
    return Markup("".join(parts))


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _money_text(value: Any) -> str:
    """An amount as a Russian types it («1234,50»); text that is not one yet is shown as typed."""
    amount = to_money(value) if isinstance(value, float) else None
    return str(amount).replace(".", ",") if amount is not None else _text(value)


def to_local_input(value: Any) -> str:
    """ISO date-time (UTC or with offset) → the browser's datetime-local value in Moscow time."""
    if not isinstance(value, str) or not value:
        return _text(value)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value  # what the user typed, kept for correction
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%dT%H:%M")
    return moment.astimezone(LOCAL_TZ).strftime("%Y-%m-%dT%H:%M")


def from_local_input(raw: str) -> str:
    """The browser's datetime-local value (Moscow time) → ISO in UTC; anything unparsable is returned as typed."""
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return raw
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LOCAL_TZ)
    return moment.astimezone(timezone.utc).isoformat(timespec="minutes")


def _is_attachments(schema: dict) -> bool:
    return schema.get("type") == "array" and (schema.get("items") or {}).get("format") == "attachment"


def _options(schema: dict) -> list[tuple[Any, str]]:
    if "enum" in schema:
        names = schema.get("x-enumNames") or []
        return [(v, names[i] if i < len(names) else _text(v)) for i, v in enumerate(schema["enum"])]
    if schema.get("type") == "integer" and "minimum" in schema and "maximum" in schema \
            and schema["maximum"] - schema["minimum"] <= 10:
        return [(v, str(v)) for v in range(int(schema["minimum"]), int(schema["maximum"]) + 1)]
    if schema.get("type") == "boolean":
        return [(True, _("Да")), (False, _("Нет"))]
    return []


# -- rendering --------------------------------------------------------------------------------------

class _Renderer:
    def __init__(self, errors: dict[str, str], extras: FormExtras, use_defaults: bool) -> None:
        self.errors = errors
        self.extras = extras
        self.use_defaults = use_defaults
        self.outcomes: list[Markup] = []

    def value(self, schema: dict, data: Any) -> Any:
        if data is None and self.use_defaults:
            return schema.get("default")
        return data

    def node(self, schema: dict, ui: dict, path: str, data: Any, required: bool, label: bool = True) -> Markup:
        ui = ui or {}
        widget = ui.get("ui:widget")
        data = self.value(schema, data)
        if widget == "hidden":
            return Markup(f'<input type="hidden"{_attrs(name=path, value=_text(data))}>')
        if widget == "outcome":
            self.outcomes.append(self.outcome(schema, path, data))
            return Markup("")
        kind = schema.get("type")
        if kind == "object":
            return self.fieldset(schema, ui, path, data if isinstance(data, dict) else {}, required)
        if _is_attachments(schema):
            return self.attachments(schema, ui, path, data if isinstance(data, list) else [], required)
        if kind == "array" and (schema.get("items") or {}).get("type") == "object":
            return self.table(schema, ui, path, data if isinstance(data, list) else [], required)
        if kind == "boolean" and widget != "radio" and "enum" not in schema:
            return self.checkbox(schema, ui, path, data, required)
        control = self.control(schema, ui, path, data, required, label)
        if not label:
            return control
        return self.wrap(schema, ui, path, control, required)

    def label_text(self, schema: dict, path: str, required: bool) -> Markup:
        title = escape(schema.get("title") or path.rsplit(".", 1)[-1])
        mark = Markup(' <span class="req" aria-hidden="true">*</span>') if required else Markup("")
        return title + mark

    def notes(self, schema: dict, ui: dict, path: str) -> Markup:
        out = Markup("")
        help_text = ui.get("ui:help") or schema.get("description")
        if help_text:
            out += Markup(f'<span class="help" id="{_dom_id(path)}-help">{escape(help_text)}</span>')
        if path in self.errors:
            out += Markup(f'<span class="error" id="{_dom_id(path)}-error">{escape(self.errors[path])}</span>')
        return out

    def described_by(self, schema: dict, ui: dict, path: str) -> str | None:
        ids = []
        if ui.get("ui:help") or schema.get("description"):
            ids.append(_dom_id(path) + "-help")
        if path in self.errors:
            ids.append(_dom_id(path) + "-error")
        return " ".join(ids) or None

    def wrap(self, schema: dict, ui: dict, path: str, control: Markup, required: bool) -> Markup:
        invalid = " invalid" if path in self.errors else ""
        if ui.get("ui:widget") == "radio":
            return Markup(f'<fieldset class="field radios{invalid}"><legend>{self.label_text(schema, path, required)}'
                          f'</legend>{control}{self.notes(schema, ui, path)}</fieldset>')
        return Markup(f'<div class="field{invalid}"><label for="{_dom_id(path)}">'
                      f'{self.label_text(schema, path, required)}</label>{control}'
                      f'{self.notes(schema, ui, path)}</div>')

    def control(self, schema: dict, ui: dict, path: str, data: Any, required: bool, labelled: bool) -> Markup:
        widget = ui.get("ui:widget")
        common = dict(name=path, id=_dom_id(path) if labelled else None,
                      aria_label=None if labelled else (schema.get("title") or path),
                      aria_invalid="true" if path in self.errors else None,
                      aria_describedby=self.described_by(schema, ui, path) if labelled else None,
                      disabled=self.extras.readonly or None)
        if widget == "user" or (isinstance(schema.get("x-choices"), str) and schema["x-choices"].startswith("role:")):
            return self.select(schema, path, data, required, common, notes=self.extras.person_notes, user=True)
        if widget == "radio":
            return self.radios(schema, path, data, common)
        if "enum" in schema or widget == "select":
            return self.select(schema, path, data, required, common)
        kind = schema.get("type")
        if schema.get("format") == "money":  # text, so «1 234,56» is posted as typed and comes back as typed
            attrs = _attrs(type="text", inputmode="decimal", autocomplete="off", value=_money_text(data),
                           placeholder=ui.get("ui:placeholder") or "0,00", **common)
            return Markup(f'<span class="suffixed"><input{attrs}><span class="suffix">₽</span></span>')
        if kind in ("number", "integer"):
            step = schema.get("multipleOf") or (1 if kind == "integer" else "any")
            attrs = _attrs(step=_text(step), min=_text(schema.get("minimum")) or None,
                           max=_text(schema.get("maximum")) or None, value=_text(data),
                           placeholder=ui.get("ui:placeholder"), **common)
            mode = "numeric" if kind == "integer" else "decimal"
            return Markup(f'<input type="number" inputmode="{mode}"{attrs}>')
        if widget == "textarea":
            return Markup(f'<textarea rows="3"{_attrs(placeholder=ui.get("ui:placeholder"), **common)}>'
                          f'{escape(_text(data))}</textarea>')
        fmt = schema.get("format")
        input_type = {"email": "email", "phone": "tel", "date": "date", "date-time": "datetime-local"}.get(fmt, "text")
        shown = to_local_input(data) if fmt == "date-time" else _text(data)
        attrs = _attrs(value=shown, placeholder=ui.get("ui:placeholder"), maxlength=schema.get("maxLength"), **common)
        return Markup(f'<input type="{input_type}"{attrs}>')

    def select(self, schema: dict, path: str, data: Any, required: bool, common: dict, *,
               notes: dict | None = None, user: bool = False) -> Markup:
        choose = escape(_("— выберите —"))
        options = [Markup(f'<option value="">{choose}</option>')]
        for value, name in _options(schema):
            note = (notes or {}).get(_text(value))
            text = f"{name} — {note}" if note else name
            selected = data is not None and _text(data) == _text(value)
            options.append(Markup(f'<option{_attrs(value=_text(value), selected=selected)}>{escape(text)}</option>'))
        css = "user-picker" if user else None
        return Markup(f'<select{_attrs(class_=css, **common)}>{Markup("").join(options)}</select>')

    def radios(self, schema: dict, path: str, data: Any, common: dict) -> Markup:
        items = []
        for i, (value, name) in enumerate(_options(schema)):
            attrs = _attrs(name=path, value=_text(value), id=f"{_dom_id(path)}-{i}",
                           checked=data is not None and _text(data) == _text(value), disabled=common["disabled"],
                           aria_invalid=common["aria_invalid"])
            items.append(Markup(f'<label class="radio"><input type="radio"{attrs}> {escape(name)}</label>'))
        return Markup(f'<div class="choices">{Markup("").join(items)}</div>')

    def checkbox(self, schema: dict, ui: dict, path: str, data: Any, required: bool) -> Markup:
        invalid = " invalid" if path in self.errors else ""
        attrs = _attrs(name=path, value="true", id=_dom_id(path), checked=data is True,
                       disabled=self.extras.readonly or None, aria_invalid="true" if invalid else None,
                       aria_describedby=self.described_by(schema, ui, path))
        # The hidden "false" first: an unticked box still says the field was on the form.
        return Markup(
            f'<div class="field check-field{invalid}"><input type="hidden" name="{escape(path)}" value="false">'
            f'<label class="check"><input type="checkbox"{attrs}>'
            f' <span>{self.label_text(schema, path, required)}</span></label>{self.notes(schema, ui, path)}</div>')

    def fields(self, schema: dict, ui: dict, prefix: str, data: dict) -> Markup:
        props = schema.get("properties") or {}
        required = set(schema.get("required") or [])
        parts = []
        for name in _ordered(props, ui):
            path = f"{prefix}.{name}" if prefix else name
            parts.append(self.node(props[name], ui.get(name) or {}, path, data.get(name), name in required))
        return Markup("").join(parts)

    def fieldset(self, schema: dict, ui: dict, path: str, data: dict, required: bool) -> Markup:
        invalid = " invalid" if path in self.errors else ""
        return Markup(f'<fieldset class="group{invalid}" id="{_dom_id(path)}"><legend>'
                      f'{self.label_text(schema, path, required)}</legend>{self.notes(schema, ui, path)}'
                      f'{self.fields(schema, ui, path, data)}</fieldset>')

    def row(self, items: dict, item_ui: dict, path: str, index: str, data: dict) -> Markup:
        props = items.get("properties") or {}
        required = set(items.get("required") or [])
        cells = []
        for name in _ordered(props, item_ui):
            cell_path = f"{path}.{index}.{name}"
            sub = props[name]
            invalid = " invalid" if cell_path in self.errors else ""
            control = self.node(sub, item_ui.get(name) or {}, cell_path, data.get(name), name in required,
                                label=False)
            error = Markup(f'<span class="error">{escape(self.errors[cell_path])}</span>') \
                if cell_path in self.errors else Markup("")
            cells.append(Markup(f'<td class="field{invalid}" data-label="{escape(sub.get("title") or name)}">'
                                f'{control}{error}</td>'))
        remove = Markup("") if self.extras.readonly else Markup(
            f'<td class="row-actions"><button type="button" class="small" data-drop-row '
            f'aria-label="{escape(_(REMOVE_ROW))}" title="{escape(_(REMOVE_ROW))}">✕</button></td>')
        return Markup(f'<tr>{Markup("").join(cells)}{remove}</tr>')

    def table(self, schema: dict, ui: dict, path: str, rows: list, required: bool) -> Markup:
        items = schema.get("items") or {}
        item_ui = ui.get("items") or {}
        props = items.get("properties") or {}
        names = _ordered(props, item_ui)
        item_required = set(items.get("required") or [])
        head = Markup("").join(Markup(f'<th scope="col">{self.label_text(props[n], n, n in item_required)}</th>')
                               for n in names)
        body = [self.row(items, item_ui, path, str(i), r if isinstance(r, dict) else {}) for i, r in enumerate(rows)]
        if not self.extras.readonly:
            # One empty row so the form works without JavaScript; blank rows are dropped on submit.
            body.append(self.row(items, item_ui, path, str(len(rows)), self.defaults(items)))
        template = Markup("") if self.extras.readonly else Markup(
            f'<template>{self.row(items, item_ui, path, ROW_INDEX, self.defaults(items))}</template>')
        add = Markup("") if self.extras.readonly else Markup(
            f'<button type="button" class="small" data-add-row="{_dom_id(path)}">'
            f'+ {escape(_(ADD_ROW))}</button>')
        invalid = " invalid" if path in self.errors else ""
        return Markup(
            f'<fieldset class="field rows{invalid}"><legend>{self.label_text(schema, path, required)}</legend>'
            f'{self.notes(schema, ui, path)}<div class="table-wrap"><table class="data rows" id="{_dom_id(path)}">'
            f'<thead><tr>{head}{"" if self.extras.readonly else Markup("<th></th>")}</tr></thead>'
            f'<tbody>{Markup("").join(body)}</tbody>{template}</table></div>{add}</fieldset>')

    def defaults(self, items: dict) -> dict:
        return {k: v["default"] for k, v in (items.get("properties") or {}).items() if "default" in v}

    def attachments(self, schema: dict, ui: dict, path: str, ids: list, required: bool) -> Markup:
        kept = []
        for attachment_id in ids:
            key = _text(attachment_id)
            name = self.extras.attachment_names.get(key, f"#{key}")
            url = self.extras.attachment_url(key) if self.extras.attachment_url else None
            link = Markup(f'<a href="{escape(url)}" target="_blank" rel="noopener">{escape(name)}</a>') if url \
                else escape(name)
            remove = Markup("") if self.extras.readonly else Markup(
                f' <button type="button" class="small link" data-remove-file>{escape(_(REMOVE_FILE))}</button>')
            kept.append(Markup(f'<li><input type="hidden" name="{escape(path)}" value="{escape(key)}">'
                               f'📎 {link}{remove}</li>'))
        listing = Markup(f'<ul class="files">{Markup("").join(kept)}</ul>') if kept else Markup("")
        accept = (schema.get("items") or {}).get("x-accept") or schema.get("x-accept")
        attrs = _attrs(name=path, id=_dom_id(path), accept=accept, disabled=self.extras.readonly or None,
                       aria_invalid="true" if path in self.errors else None,
                       aria_describedby=self.described_by(schema, ui, path))
        upload = Markup(f'<input type="file" multiple{attrs}>')
        invalid = " invalid" if path in self.errors else ""
        return Markup(f'<div class="field files-field{invalid}"><label for="{_dom_id(path)}">'
                      f'{self.label_text(schema, path, required)}</label>{listing}{upload}'
                      f'{self.notes(schema, ui, path)}</div>')

    def outcome(self, schema: dict, path: str, data: Any) -> Markup:
        buttons = []
        for i, (value, name) in enumerate(_options(schema)):
            css = "danger" if _text(value) in CANCEL_LIKE else ("primary" if i == 0 else "")
            chosen = data is not None and _text(data) == _text(value)
            attrs = _attrs(name=path, value=_text(value), class_=css or None,
                           aria_pressed="true" if chosen and self.extras.readonly else None,
                           disabled=self.extras.readonly or None)
            buttons.append(Markup(f'<button type="submit"{attrs}>{escape(name)}</button>'))
        error = Markup(f'<p class="error" role="alert">{escape(self.errors[path])}</p>') if path in self.errors \
            else Markup("")
        label = escape(schema.get("title") or path)
        return Markup(f'{error}<div class="actions outcome" role="group" aria-label="{label}"'
                      f' data-outcome="{escape(path)}">{Markup("").join(buttons)}</div>')


def render_form(schema: dict, ui_schema: dict | None, data: dict | None, errors: dict[str, str] | None = None,
                *, extras: FormExtras | None = None, use_defaults: bool = True) -> Markup:
    """The form's fields followed by its submit buttons (the outcome field's values, or one «Готово»)."""
    extras = extras or FormExtras()
    renderer = _Renderer(errors or {}, extras, use_defaults)
    body = renderer.fields(schema, ui_schema or {}, "", data or {})
    if renderer.outcomes:
        buttons = Markup("").join(renderer.outcomes)
    elif extras.readonly:
        buttons = Markup("")
    else:
        buttons = Markup(f'<div class="actions outcome"><button type="submit" class="primary">'
                         f'{escape(_(DONE))}</button></div>')
    return Markup(f'{body}{buttons}')


# -- parsing ----------------------------------------------------------------------------------------

@dataclass
class Upload:
    path: str
    file: Any  # werkzeug FileStorage
    accept: str | None


def _convert(schema: dict, raw: str) -> Any:
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
        return from_local_input(raw)
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


def _walk_parse(schema: dict, path: str, form, files, uploads: list[Upload]) -> Any:
    kind = schema.get("type")
    if kind == "object":
        result = {}
        for name, sub in (schema.get("properties") or {}).items():
            value = _walk_parse(sub, f"{path}.{name}" if path else name, form, files, uploads)
            if value is not None:
                result[name] = value
        return result or None
    if _is_attachments(schema):
        ids = [v.strip() for v in form.getlist(path) if v.strip()]
        for file in files.getlist(path):
            if file and file.filename:
                uploads.append(Upload(path, file, (schema.get("items") or {}).get("x-accept")))
        return ids or None
    if kind == "array" and (schema.get("items") or {}).get("type") == "object":
        rows = []
        for index in _row_indexes(form.keys(), path):
            row = _walk_parse(schema["items"], f"{path}.{index}", form, files, uploads)
            if row and _filled(row, schema["items"]):
                rows.append(row)
        return rows or None
    values = form.getlist(path)
    if not values:
        return None
    return _convert(schema, values[-1])  # a checkbox posts "false" then "true": the last one wins


def _filled(row: dict, items: dict) -> bool:
    """A row the user typed into — not just the defaults the empty row comes with."""
    defaults = {k: v.get("default") for k, v in (items.get("properties") or {}).items()}
    return any(value != defaults.get(key) for key, value in row.items())


def parse_form(schema: dict, form, files) -> tuple[dict, list[Upload]]:
    """Posted fields → nested JSON typed per the schema (empty strings dropped), plus the files to upload."""
    uploads: list[Upload] = []
    return _walk_parse(schema, "", form, files, uploads) or {}, uploads


def set_path(data: dict, path: str, value: Any) -> None:
    """Append an attachment id at a dotted path (creating the list)."""
    *parents, last = path.split(".")
    node: Any = data
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    node.setdefault(last, []).append(value)
