"""Bounds every request gets before a view runs: body size (uploads apart) and path ids that fit a row id."""
from __future__ import annotations

from flask import Flask, Request, current_app, request
from werkzeug.routing import IntegerConverter

from app.errors import MalformedInput
from app.services.inputs import MAX_ID

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class BoundedInt(IntegerConverter):
    """`<int:…>` that matches only ids a row can have: a larger one is a 404 like any missing id, not a crash."""

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = MAX_ID,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


class BoundedRequest(Request):
    """MAX_CONTENT_LENGTH for JSON and form bodies; multipart requests (task forms with photos) get
    MAX_UPLOAD_LENGTH instead."""

    @property
    def max_content_length(self) -> int | None:
        if self._max_content_length is None and current_app and self.mimetype == "multipart/form-data":
            return current_app.config["MAX_UPLOAD_LENGTH"]
        return super().max_content_length

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value


def _refuse_nul() -> None:
    """A NUL character can reach no column (PostgreSQL refuses it in text): name where it came in, 400."""
    if "\x00" in request.path:
        raise MalformedInput("NUL character in the address", fields={"_path": "NUL character"})
    sources = [request.args] + ([request.form] if request.mimetype in FORM_TYPES else [])
    for values in sources:
        for name, value in values.items(multi=True):
            if "\x00" in name or "\x00" in value:
                field = name.replace("\x00", "\ufffd") or "_query"
                raise MalformedInput(f"NUL character in '{field}'", fields={field: "NUL character"})


def init_app(app: Flask) -> None:
    """Before any blueprint is registered, so every `<int:…>` rule is built with the bounded converter."""
    app.request_class = BoundedRequest
    app.url_map.converters["int"] = BoundedInt
    app.before_request(_refuse_nul)
