"""The renderer: a recursive walk over a form's JSON Schema and its UI schema that lays out the widgets.

Objects become fieldsets, arrays of objects become tables with a row per item (plus an empty row and a
<template> for adding more), arrays of attachments become file lists; every other field is one widget.
"""
from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from markupsafe import Markup, escape

from app.forms_ui.widgets import ADD_ROW, REMOVE_ROW, FormExtras, Widgets, attrs, dom_id, is_attachments, text
from app.services.calendar import company_tz

ROW_INDEX = "__INDEX__"  # a new row's index in the <template>, replaced by the script that adds the row


def ordered(props: dict, ui: dict) -> list[str]:
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


def _defaults(items: dict) -> dict:
    return {k: v["default"] for k, v in (items.get("properties") or {}).items() if "default" in v}


class _Renderer:
    def __init__(self, widgets: Widgets, use_defaults: bool) -> None:
        self.widgets = widgets
        self.errors = widgets.errors
        self.readonly = widgets.extras.readonly
        self.use_defaults = use_defaults
        self.outcomes: list[Markup] = []

    def node(self, schema: dict, ui: dict, path: str, data: Any, required: bool, label: bool = True) -> Markup:
        ui = ui or {}
        widget = ui.get("ui:widget")
        if data is None and self.use_defaults:
            data = schema.get("default")
        if widget == "hidden":
            return Markup(f'<input type="hidden"{attrs(name=path, value=text(data))}>')
        if widget == "outcome":
            self.outcomes.append(self.widgets.outcome(schema, path, data))
            return Markup("")
        kind = schema.get("type")
        if kind == "object":
            return self.fieldset(schema, ui, path, data if isinstance(data, dict) else {}, required)
        if is_attachments(schema):
            return self.widgets.attachments(schema, ui, path, data if isinstance(data, list) else [], required)
        if kind == "array" and (schema.get("items") or {}).get("type") == "object":
            return self.table(schema, ui, path, data if isinstance(data, list) else [], required)
        if kind == "boolean" and widget != "radio" and "enum" not in schema:
            return self.widgets.checkbox(schema, ui, path, data, required)
        control = self.widgets.control(schema, ui, path, data, required, label)
        if not label:
            return control
        return self.widgets.wrap(schema, ui, path, control, required)

    def fields(self, schema: dict, ui: dict, prefix: str, data: dict) -> Markup:
        props = schema.get("properties") or {}
        required = set(schema.get("required") or [])
        parts = []
        for name in ordered(props, ui):
            path = f"{prefix}.{name}" if prefix else name
            parts.append(self.node(props[name], ui.get(name) or {}, path, data.get(name), name in required))
        return Markup("").join(parts)

    def fieldset(self, schema: dict, ui: dict, path: str, data: dict, required: bool) -> Markup:
        label = self.widgets.label_text(schema, path, required)
        return Markup(f'<fieldset class="group{self.widgets.invalid(path)}" id="{dom_id(path)}"><legend>'
                      f'{label}</legend>{self.widgets.notes(schema, ui, path)}'
                      f'{self.fields(schema, ui, path, data)}</fieldset>')

    def row(self, items: dict, item_ui: dict, path: str, index: str, data: dict) -> Markup:
        props = items.get("properties") or {}
        required = set(items.get("required") or [])
        cells = []
        for name in ordered(props, item_ui):
            cell_path = f"{path}.{index}.{name}"
            sub = props[name]
            control = self.node(sub, item_ui.get(name) or {}, cell_path, data.get(name), name in required,
                                label=False)
            error = Markup(f'<span class="error">{escape(self.errors[cell_path])}</span>') \
                if cell_path in self.errors else Markup("")
            cells.append(Markup(f'<td class="field{self.widgets.invalid(cell_path)}" '
                                f'data-label="{escape(sub.get("title") or name)}">{control}{error}</td>'))
        remove = Markup("") if self.readonly else Markup(
            f'<td class="row-actions"><button type="button" class="small" data-drop-row '
            f'aria-label="{escape(_(REMOVE_ROW))}" title="{escape(_(REMOVE_ROW))}">✕</button></td>')
        return Markup(f'<tr>{Markup("").join(cells)}{remove}</tr>')

    def table(self, schema: dict, ui: dict, path: str, rows: list, required: bool) -> Markup:
        items = schema.get("items") or {}
        item_ui = ui.get("items") or {}
        props = items.get("properties") or {}
        item_required = set(items.get("required") or [])
        label = self.widgets.label_text
        head = Markup("").join(Markup(f'<th scope="col">{label(props[n], n, n in item_required)}</th>')
                               for n in ordered(props, item_ui))
        body = [self.row(items, item_ui, path, str(i), r if isinstance(r, dict) else {}) for i, r in enumerate(rows)]
        if not self.readonly:
            # One empty row so the form works without JavaScript; blank rows are dropped on submit.
            body.append(self.row(items, item_ui, path, str(len(rows)), _defaults(items)))
        template = Markup("") if self.readonly else Markup(
            f'<template>{self.row(items, item_ui, path, ROW_INDEX, _defaults(items))}</template>')
        add = Markup("") if self.readonly else Markup(
            f'<button type="button" class="small" data-add-row="{dom_id(path)}">+ {escape(_(ADD_ROW))}</button>')
        return Markup(
            f'<fieldset class="field rows{self.widgets.invalid(path)}"><legend>{label(schema, path, required)}'
            f'</legend>{self.widgets.notes(schema, ui, path)}<div class="table-wrap">'
            f'<table class="data rows" id="{dom_id(path)}">'
            f'<thead><tr>{head}{"" if self.readonly else Markup("<th></th>")}</tr></thead>'
            f'<tbody>{Markup("").join(body)}</tbody>{template}</table></div>{add}</fieldset>')


def render_form(schema: dict, ui_schema: dict | None, data: dict | None, errors: dict[str, str] | None = None,
                *, extras: FormExtras | None = None, use_defaults: bool = True) -> Markup:
    """The form's fields followed by its submit buttons (the outcome field's values, or one «Готово»)."""
    widgets = Widgets(errors or {}, extras or FormExtras(), company_tz())
    renderer = _Renderer(widgets, use_defaults)
    body = renderer.fields(schema, ui_schema or {}, "", data or {})
    if renderer.outcomes:
        buttons = Markup("").join(renderer.outcomes)
    elif renderer.readonly:
        buttons = Markup("")
    else:
        buttons = widgets.done()
    return Markup(f'{body}{buttons}')
