"""Requests checked against the OpenAPI document before the view runs: parameters and bodies that break it get
422 naming each field, so the document and the server cannot drift apart."""
from __future__ import annotations

import json
import re
from datetime import date, datetime
from functools import cache

from flask import current_app, request
from jsonschema import Draft202012Validator, FormatChecker

from app import policy
from app.api import bp
from app.api.auth import authenticate
from app.api.openapi import PATHS
from app.api.schemas import COMPONENTS
from app.errors import ValidationError
from app.services.inputs import parse_json

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
FORMATS = FormatChecker(["email"])


@FORMATS.checks("date", raises=ValueError)
def _is_date(value) -> bool:
    return not isinstance(value, str) or bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) and date.fromisoformat(value))


@FORMATS.checks("date-time", raises=ValueError)
def _is_stamp(value) -> bool:
    return not isinstance(value, str) or bool(_RFC3339.fullmatch(value) and datetime.fromisoformat(value))


@cache
def _validator(schema_json: str) -> Draft202012Validator:
    schema = {**json.loads(schema_json), "components": {"schemas": COMPONENTS}}
    return Draft202012Validator(schema, format_checker=FORMATS)


def _problems(schema: dict, value, prefix: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for error in _validator(json.dumps(schema, sort_keys=True)).iter_errors(value):
        path = [str(p) for p in error.absolute_path]
        if error.validator == "required":  # name the missing property itself
            missing = re.findall(r"'([^']+)' is a required property", error.message)
            path += missing[:1]
        name = ".".join([prefix, *path] if prefix else path) or "_body"
        fields.setdefault(name, _message(error, name))
    return fields


FORMAT_NAMES = {"date": "a date, YYYY-MM-DD", "date-time": "a date and time, ISO 8601 with an offset",
                "email": "an e-mail address"}


def _message(error, name: str) -> str:
    """What is wrong, without echoing the value back (it may be megabytes long)."""
    expected, schema = error.validator_value, error.schema
    match error.validator:
        case "required":
            return "required"
        case "type":
            return f"{expected if isinstance(expected, str) else ' or '.join(expected)} expected"
        case "enum":
            return "one of: " + ", ".join(map(str, expected))
        case "maxLength":
            return f"at most {expected} characters"
        case "minLength" | "pattern":
            return "must not be blank" if expected == 1 or expected == r"\S" else f"does not match {expected}"
        case "minimum":
            return f"at least {expected}"
        case "maximum":
            return f"at most {expected}"
        case "format":
            return f"'{name}' must be {FORMAT_NAMES.get(expected, expected)}"
        case "anyOf" | "oneOf":
            return schema.get("description") or "does not match any allowed form"
    return error.message[:200]


def _coerce(raw: str, schema: dict):
    """A query or path value as the type its schema declares (a string that is not one stays a string)."""
    kind = schema.get("type")
    if kind == "integer" and re.fullmatch(r"-?[0-9]{1,30}", raw):
        return int(raw)
    if kind == "boolean" and raw.lower() in BOOLEANS:
        return BOOLEANS[raw.lower()]
    return raw


BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def _form_parts() -> dict:
    """A multipart body as an instance of its schema: a file stands as its name; repeated parts as a list."""
    parts: dict[str, list[str]] = {}
    for name, value in request.form.items(multi=True):
        parts.setdefault(name, []).append(value)
    for name, upload in request.files.items(multi=True):
        parts.setdefault(name, []).append(upload.filename or "")
    return {name: values if name in MULTIPLE_PARTS else values[0] for name, values in parts.items()}


MULTIPLE_PARTS = ("bpmn", "dmn", "forms")


def current_operation() -> dict | None:
    rule = request.url_rule
    if rule is None or not bp.url_prefix or not rule.rule.startswith(bp.url_prefix):
        return None
    path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule[len(bp.url_prefix):])
    return PATHS.get(path, {}).get(request.method.lower())


def _body_problems(content: dict) -> dict[str, str]:
    if "application/json" in content and request.is_json:
        # Read as strictly as the view will (depth, NaN, NUL and lone surrogates refused there, naming the field).
        return _problems(content["application/json"]["schema"], parse_json(request.get_data(cache=True)), "")
    if "multipart/form-data" in content and request.mimetype == "multipart/form-data":
        return _problems(content["multipart/form-data"]["schema"], _form_parts(), "")
    return {}


@bp.before_request
def check_against_the_document():
    """Parameters and a JSON body that break the document's schemas: 422 naming each field, nothing run."""
    operation = current_operation()
    if operation is None:
        return
    if operation.get("security") != []:
        # Who is asking, and whether the policy lets them, comes before what they sent: 401 / 403 whatever it holds.
        action = current_app.view_functions[request.endpoint].policy_actions[0]
        policy.ensure(authenticate(), action)
    fields: dict[str, str] = {}
    for parameter in operation.get("parameters", []):
        name, schema = parameter["name"], parameter["schema"]
        if parameter["in"] == "query":
            values = request.args.getlist(name)
        else:
            values = [str((request.view_args or {}).get(name))]
        if len(values) > 1:
            fields[name] = "given more than once"
        elif values:
            fields.update(_problems(schema, _coerce(values[0], schema), name))
    # NUL in the address or query was refused before any view (app/bounds.py); URL decoding leaves no surrogates.
    fields.update(_body_problems(operation.get("requestBody", {}).get("content", {})))
    if fields:
        raise ValidationError("Request does not match the API description: " + ", ".join(sorted(fields)),
                              fields=fields)
