"""The widgets a task form is built from: one field's control, its label, help and error, in plain HTML.

Every widget reads the same `Widgets` state — the errors by field path and the `FormExtras` — so a control,
its label and its error message agree on ids (`aria-describedby`) and on read-only-ness.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any, Callable

from flask_babel import gettext as _
from markupsafe import Markup, escape

from app.i18n import N_
from app.services.dates import to_local_input
from app.services.money import to_money

CANCEL_LIKE = frozenset({"cancel", "cancelled", "declined", "rejected", "reject", "customer_absent"})
INPUT_TYPES = {"email": "email", "phone": "tel", "date": "date", "date-time": "datetime-local"}

# UI words used inside f-strings (marked so pybabel extracts them; translated at render time).
REMOVE_ROW = N_("Удалить строку")
ADD_ROW = N_("Добавить строку")
REMOVE_FILE = N_("убрать")
DONE = N_("Готово")


@dataclass
class FormExtras:
    """What the schema cannot know: people's booked visits, names of stored attachments."""

    person_notes: dict[str, str] = field(default_factory=dict)
    attachment_names: dict[str, str] = field(default_factory=dict)
    attachment_url: Callable[[str], str] | None = None
    readonly: bool = False


def dom_id(path: str) -> str:
    return "f-" + re.sub(r"[^A-Za-z0-9_-]", "-", path)


def attrs(**values: Any) -> Markup:
    """HTML attributes: `class_` → class, `aria_label` → aria-label; None and False are left out, True is bare."""
    parts = []
    for key, value in values.items():
        if value is None or value is False:
            continue
        name = key.rstrip("_").replace("_", "-")
        parts.append(f" {name}" if value is True else f' {name}="{escape(value)}"')
    return Markup("".join(parts))


def text(value: Any) -> str:
    """A JSON value as a form shows it (the value attribute, an option's value)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def money_text(value: Any) -> str:
    """An amount as a Russian types it («1234,50»); text that is not one yet is shown as typed."""
    amount = to_money(value) if isinstance(value, float) else None
    return str(amount).replace(".", ",") if amount is not None else text(value)


def is_attachments(schema: dict) -> bool:
    return schema.get("type") == "array" and (schema.get("items") or {}).get("format") == "attachment"


def options(schema: dict) -> list[tuple[Any, str]]:
    """(value, label) of a field's choices: its enum, a short integer range, or yes/no."""
    if "enum" in schema:
        names = schema.get("x-enumNames") or []
        return [(v, names[i] if i < len(names) else text(v)) for i, v in enumerate(schema["enum"])]
    if schema.get("type") == "integer" and "minimum" in schema and "maximum" in schema \
            and schema["maximum"] - schema["minimum"] <= 10:
        return [(v, str(v)) for v in range(int(schema["minimum"]), int(schema["maximum"]) + 1)]
    if schema.get("type") == "boolean":
        return [(True, _("Да")), (False, _("Нет"))]
    return []


class Widgets:
    """The leaf widgets of one form: inputs, selects, radios, check boxes, files and the outcome buttons."""

    def __init__(self, errors: dict[str, str], extras: FormExtras, tz: tzinfo) -> None:
        self.errors = errors
        self.extras = extras
        self.tz = tz  # date-times are typed and shown in the company's time zone

    def invalid(self, path: str) -> str:
        return " invalid" if path in self.errors else ""

    def label_text(self, schema: dict, path: str, required: bool) -> Markup:
        title = escape(schema.get("title") or path.rsplit(".", 1)[-1])
        mark = Markup(' <span class="req" aria-hidden="true">*</span>') if required else Markup("")
        return title + mark

    def notes(self, schema: dict, ui: dict, path: str) -> Markup:
        out = Markup("")
        help_text = ui.get("ui:help") or schema.get("description")
        if help_text:
            out += Markup(f'<span class="help" id="{dom_id(path)}-help">{escape(help_text)}</span>')
        if path in self.errors:
            out += Markup(f'<span class="error" id="{dom_id(path)}-error">{escape(self.errors[path])}</span>')
        return out

    def described_by(self, schema: dict, ui: dict, path: str) -> str | None:
        ids = []
        if ui.get("ui:help") or schema.get("description"):
            ids.append(dom_id(path) + "-help")
        if path in self.errors:
            ids.append(dom_id(path) + "-error")
        return " ".join(ids) or None

    def wrap(self, schema: dict, ui: dict, path: str, control: Markup, required: bool) -> Markup:
        """A control with its label (a legend for radios), help and error."""
        invalid = self.invalid(path)
        if ui.get("ui:widget") == "radio":
            return Markup(f'<fieldset class="field radios{invalid}"><legend>{self.label_text(schema, path, required)}'
                          f'</legend>{control}{self.notes(schema, ui, path)}</fieldset>')
        return Markup(f'<div class="field{invalid}"><label for="{dom_id(path)}">'
                      f'{self.label_text(schema, path, required)}</label>{control}'
                      f'{self.notes(schema, ui, path)}</div>')

    def control(self, schema: dict, ui: dict, path: str, data: Any, required: bool, labelled: bool) -> Markup:
        """The input for one value, chosen by ui:widget, enum, format and type."""
        widget = ui.get("ui:widget")
        common = dict(name=path, id=dom_id(path) if labelled else None,
                      aria_label=None if labelled else (schema.get("title") or path),
                      aria_invalid="true" if path in self.errors else None,
                      aria_describedby=self.described_by(schema, ui, path) if labelled else None,
                      disabled=self.extras.readonly or None)
        if widget == "user" or (isinstance(schema.get("x-choices"), str) and schema["x-choices"].startswith("role:")):
            return self.select(schema, data, common, notes=self.extras.person_notes, user=True)
        if widget == "radio":
            return self.radios(schema, path, data, common)
        if "enum" in schema or widget == "select":
            return self.select(schema, data, common)
        kind = schema.get("type")
        if schema.get("format") == "money":  # text, so «1 234,56» is posted as typed and comes back as typed
            money = attrs(type="text", inputmode="decimal", autocomplete="off", value=money_text(data),
                          placeholder=ui.get("ui:placeholder") or "0,00", **common)
            return Markup(f'<span class="suffixed"><input{money}><span class="suffix">₽</span></span>')
        if kind in ("number", "integer"):
            step = schema.get("multipleOf") or (1 if kind == "integer" else "any")
            number = attrs(step=text(step), min=text(schema.get("minimum")) or None,
                           max=text(schema.get("maximum")) or None, value=text(data),
                           placeholder=ui.get("ui:placeholder"), **common)
            mode = "numeric" if kind == "integer" else "decimal"
            return Markup(f'<input type="number" inputmode="{mode}"{number}>')
        if widget == "textarea":
            return Markup(f'<textarea rows="3"{attrs(placeholder=ui.get("ui:placeholder"), **common)}>'
                          f'{escape(text(data))}</textarea>')
        fmt = schema.get("format")
        shown = to_local_input(data, self.tz) if fmt == "date-time" and isinstance(data, str) else text(data)
        other = attrs(value=shown, placeholder=ui.get("ui:placeholder"), maxlength=schema.get("maxLength"), **common)
        return Markup(f'<input type="{INPUT_TYPES.get(fmt or "", "text")}"{other}>')

    def select(self, schema: dict, data: Any, common: dict, *, notes: dict | None = None,
               user: bool = False) -> Markup:
        choose = escape(_("— выберите —"))
        items = [Markup(f'<option value="">{choose}</option>')]
        for value, name in options(schema):
            note = (notes or {}).get(text(value))
            label = f"{name} — {note}" if note else name
            selected = data is not None and text(data) == text(value)
            items.append(Markup(f'<option{attrs(value=text(value), selected=selected)}>{escape(label)}</option>'))
        css = "user-picker" if user else None
        return Markup(f'<select{attrs(class_=css, **common)}>{Markup("").join(items)}</select>')

    def radios(self, schema: dict, path: str, data: Any, common: dict) -> Markup:
        items = []
        for i, (value, name) in enumerate(options(schema)):
            radio = attrs(name=path, value=text(value), id=f"{dom_id(path)}-{i}",
                          checked=data is not None and text(data) == text(value), disabled=common["disabled"],
                          aria_invalid=common["aria_invalid"])
            items.append(Markup(f'<label class="radio"><input type="radio"{radio}> {escape(name)}</label>'))
        return Markup(f'<div class="choices">{Markup("").join(items)}</div>')

    def checkbox(self, schema: dict, ui: dict, path: str, data: Any, required: bool) -> Markup:
        invalid = self.invalid(path)
        box = attrs(name=path, value="true", id=dom_id(path), checked=data is True,
                    disabled=self.extras.readonly or None, aria_invalid="true" if invalid else None,
                    aria_describedby=self.described_by(schema, ui, path))
        # The hidden "false" first: an unticked box still says the field was on the form.
        return Markup(
            f'<div class="field check-field{invalid}"><input type="hidden" name="{escape(path)}" value="false">'
            f'<label class="check"><input type="checkbox"{box}>'
            f' <span>{self.label_text(schema, path, required)}</span></label>{self.notes(schema, ui, path)}</div>')

    def attachments(self, schema: dict, ui: dict, path: str, ids: list, required: bool) -> Markup:
        """The files already attached (each removable) and an input for more."""
        kept = []
        for attachment_id in ids:
            key = text(attachment_id)
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
        upload = attrs(name=path, id=dom_id(path), accept=accept, disabled=self.extras.readonly or None,
                       aria_invalid="true" if path in self.errors else None,
                       aria_describedby=self.described_by(schema, ui, path))
        return Markup(f'<div class="field files-field{self.invalid(path)}"><label for="{dom_id(path)}">'
                      f'{self.label_text(schema, path, required)}</label>{listing}'
                      f'<input type="file" multiple{upload}>{self.notes(schema, ui, path)}</div>')

    def outcome(self, schema: dict, path: str, data: Any) -> Markup:
        """One submit button per value: the first is primary, the cancelling ones are red."""
        buttons = []
        for i, (value, name) in enumerate(options(schema)):
            css = "danger" if text(value) in CANCEL_LIKE else ("primary" if i == 0 else "")
            chosen = data is not None and text(data) == text(value)
            button = attrs(name=path, value=text(value), class_=css or None,
                           aria_pressed="true" if chosen and self.extras.readonly else None,
                           disabled=self.extras.readonly or None)
            buttons.append(Markup(f'<button type="submit"{button}>{escape(name)}</button>'))
        error = Markup(f'<p class="error" role="alert">{escape(self.errors[path])}</p>') if path in self.errors \
            else Markup("")
        label = escape(schema.get("title") or path)
        return Markup(f'{error}<div class="actions outcome" role="group" aria-label="{label}"'
                      f' data-outcome="{escape(path)}">{Markup("").join(buttons)}</div>')

    def done(self) -> Markup:
        """The single submit button of a form without an outcome field."""
        return Markup(f'<div class="actions outcome"><button type="submit" class="primary">'
                      f'{escape(_(DONE))}</button></div>')
