"""Task forms as HTML, for staff (the task page) and customers (the status page) alike: render a form from its
JSON Schema and UI schema, and parse what the browser posts back."""
from __future__ import annotations

from app.forms_ui.parse import Upload, parse_form, set_path
from app.forms_ui.render import render_form
from app.forms_ui.widgets import FormExtras

__all__ = ["FormExtras", "Upload", "parse_form", "render_form", "set_path"]
