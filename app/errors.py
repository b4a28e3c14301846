"""Domain errors, one flat module; init_app maps them to HTTP in one place."""
from __future__ import annotations

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge


class BespokeError(Exception):
    """Base: carries an HTTP status, a machine code, a message and per-field errors."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, fields: dict | None = None, **details) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        self.details = details

    def to_dict(self) -> dict:
        body = {"error": self.code, "message": self.message, "fields": self.fields}
        body.update(self.details)
        return body


class MalformedInput(BespokeError):
    """Input no field could hold: JSON nested past the limit, a NUL character in the address or a form."""

    status, code = 400, "malformed_input"


class ValidationError(BespokeError):
    status, code = 422, "validation_failed"


class NotFound(BespokeError):
    status, code = 404, "not_found"


class Forbidden(BespokeError):
    status, code = 403, "forbidden"


class Unauthorized(BespokeError):
    status, code = 401, "unauthorized"


class Conflict(BespokeError):
    status, code = 409, "conflict"


class TooManyRequests(BespokeError):
    """Raise with `retry_after=<seconds>`: it is in the body and the Retry-After header."""

    status, code = 429, "too_many_requests"


class DeployError(BespokeError):
    """A process definition was rejected; `problems` lists each one with its BPMN element."""

    status, code = 422, "deploy_rejected"


class ScriptError(BespokeError):
    """A diagram's script or expression failed or was refused by the sandbox."""

    status, code = 422, "script_error"


class OperatorInputError(Exception):
    """A service task's operator refused the data a person gave it (not retried).

    The engine raises the diagram's input-error event on the service task, so an error boundary event
    sends the order back to the task that produced the data with `message` shown there; without one,
    the job becomes an incident at once.
    """

    permanent = True

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def init_app(app: Flask) -> None:
    @app.errorhandler(BespokeError)
    def _domain_error(exc: BespokeError):
        headers = {"Retry-After": str(exc.details["retry_after"])} if "retry_after" in exc.details else {}
        if _wants_json():
            return jsonify(exc.to_dict()), exc.status, headers
        from app.web import render_error

        return (*render_error(exc.status, exc.message), headers)

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc: RequestEntityTooLarge):
        from flask_babel import gettext as _

        limit = request.max_content_length
        if limit and request.content_length is not None and request.content_length <= limit:
            limit = request.max_form_memory_size  # the body fitted; one text field of a form did not
        message = (_("Слишком большой запрос: не больше %(size)s МБ", size=f"{limit / 2**20:g}") if limit
                   else _("Слишком большой запрос"))
        if _wants_json():
            return jsonify({"error": "request_too_large", "message": message, "fields": {"_body": message}}), 413
        from app.web import render_error

        return render_error(413, message)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if _wants_json():
            body = {"error": (exc.name or "error").lower().replace(" ", "_"),
                    "message": exc.description or exc.name, "fields": {}}
            # Keep the exception's own headers (Allow on a 405, Retry-After on a 429) with the JSON body.
            headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
            return jsonify(body), exc.code, headers
        if exc.code in (400, 403, 404, 405, 409, 429) and not getattr(exc, "response", None):
            from app.web import render_error

            return render_error(exc.code, exc.description or exc.name)
        return exc
