"""A task's documentation as people read it: its Jinja placeholders filled from the task's data, in a sandbox.

spiff-arena's diagrams write `{{ amount }}` in an element's documentation (Markdown); the inbox and the task page
show the filled text. An analyst's template is not trusted with the app's internals: it renders in Jinja's
sandbox, and anything the sandbox refuses or cannot parse leaves the text as written.
"""
from __future__ import annotations

from typing import Any

from jinja2 import TemplateError
from jinja2.sandbox import SandboxedEnvironment, SecurityError

MAX_TEXT = 20_000  # characters of filled-in documentation kept: a loop in a template must not fill the database


class _Sandbox(SandboxedEnvironment):
    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:  # refuse outright instead of rendering nothing
        raise SecurityError(f"access to attribute {attribute!r} of {type(obj).__name__!r} is not allowed")


_JINJA = _Sandbox(autoescape=False, keep_trailing_newline=True)


def documentation(text: str | None, data: dict) -> str | None:
    """`text` with `{{ name }}` filled from `data` (a name the data lacks: empty); the raw text if it fails."""
    if not text or ("{{" not in text and "{%" not in text):
        return text
    try:
        filled = _JINJA.from_string(text).render(**{k: v for k, v in data.items() if isinstance(k, str)})
    except (TemplateError, TypeError, ValueError, ArithmeticError, LookupError, AttributeError):
        return text
    return filled[:MAX_TEXT]
