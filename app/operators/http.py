"""http: a service task calls an outside HTTP API; the answer becomes the task's result (its `resultVariable`).

Parameters (expressions on the task's data, as every operator's): `url` (http or https), `method` (GET, POST, PUT,
PATCH or DELETE; GET by default, POST when there is a body), `body` (sent as JSON), `headers` (the NAME of a header
set in the HTTP_OPERATOR_HEADERS setting, `{name: {header: value}}` — tokens and passwords stay out of diagrams) and
`timeout` (seconds, 1–60, 10 by default). The result is `{"status", "json"}` for a JSON answer, else
`{"status", "text"}`, with the answer's `headers`.

A connection error, a timeout or a 5xx answer is retried like any operator's failure (then an incident); a 4xx
answer is the request's fault, so it is not retried: `OperatorInputError`, which an input-error boundary event
on the task catches (else an incident at once). Redirects are not followed (a 3xx is a result like any other).
Addresses inside the network (loopback, private, link-local, …) are refused unless HTTP_OPERATOR_ALLOW_PRIVATE is
set: a diagram must not reach the servers next to ours. Each request carries `Idempotency-Key: bespoke-job-<id>`,
so a server that honours it does the work once when a job runs again after a crash.
"""
from __future__ import annotations

import ipaddress
import json
import socket
from typing import Any
from urllib.parse import urlsplit

import requests
from flask import current_app

from app.errors import OperatorInputError
from app.operators.registry import JobContext, OperatorError

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
DEFAULT_TIMEOUT, MAX_TIMEOUT = 10.0, 60.0
MAX_ANSWER = 1_000_000  # bytes of an answer kept in the process's data


def call(ctx: JobContext) -> dict:
    """The service task: send the request the parameters describe, return the answer."""
    params = ctx.params
    url = _url(params.get("url"))
    body = params.get("body")
    method = str(params.get("method") or ("POST" if body is not None else "GET")).upper()
    if method not in METHODS:
        raise OperatorError(f"http: method {method!r} is not one of {', '.join(METHODS)}", permanent=True)
    headers = {"Accept": "application/json", "Idempotency-Key": f"bespoke-job-{ctx.job_id}",
               **_header_set(params.get("headers"))}
    try:
        response = requests.request(method, url, json=body, headers=headers, timeout=_timeout(params.get("timeout")),
                                    allow_redirects=False, stream=True)
    except requests.Timeout:
        raise OperatorError(f"http: {method} {url} did not answer in time") from None
    except requests.RequestException as exc:
        raise OperatorError(f"http: {method} {url} failed: {type(exc).__name__}") from None
    with response:
        content = response.raw.read(MAX_ANSWER + 1, decode_content=True)
    if len(content) > MAX_ANSWER:
        raise OperatorError(f"http: the answer of {method} {url} is larger than {MAX_ANSWER} bytes", permanent=True)
    answer = _answer(response, content)
    if response.status_code >= 500:
        raise OperatorError(f"http: {method} {url} answered {response.status_code}: {_excerpt(answer)}")
    if response.status_code >= 400:
        raise OperatorInputError(f"{method} {url} отклонил запрос: HTTP {response.status_code} {_excerpt(answer)}")
    return answer


def _url(value: Any) -> str:
    url = str(value or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OperatorError(f"http: url {url!r} is not an http(s) address", permanent=True)
    if not current_app.config.get("HTTP_OPERATOR_ALLOW_PRIVATE"):
        _ensure_public(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    return url


def _ensure_public(host: str, port: int) -> None:
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)}
    except OSError as exc:
        raise OperatorError(f"http: host {host} does not resolve ({exc.strerror or exc})") from None
    for address in addresses:
        ip = ipaddress.ip_address(str(address).split("%")[0])
        if not ip.is_global or ip.is_multicast:
            raise OperatorError(f"http: {host} is an address inside the network ({ip}); set "
                                "HTTP_OPERATOR_ALLOW_PRIVATE to allow such calls", permanent=True)


def header_sets() -> dict[str, dict[str, str]]:
    """HTTP_OPERATOR_HEADERS: a dict, or its JSON (from the environment)."""
    configured = current_app.config.get("HTTP_OPERATOR_HEADERS") or {}
    if isinstance(configured, str):
        try:
            configured = json.loads(configured)
        except ValueError:
            raise OperatorError("http: HTTP_OPERATOR_HEADERS is not valid JSON", permanent=True) from None
    if not isinstance(configured, dict) or not all(isinstance(v, dict) for v in configured.values()):
        raise OperatorError("http: HTTP_OPERATOR_HEADERS must map names to {header: value}", permanent=True)
    return configured


def _header_set(name: Any) -> dict[str, str]:
    if not name:
        return {}
    sets = header_sets()
    if name not in sets:
        raise OperatorError(f"http: no header set {name!r} in HTTP_OPERATOR_HEADERS (there are: "
                            f"{', '.join(sorted(sets)) or 'none'})", permanent=True)
    return {str(header): str(value) for header, value in sets[name].items()}


def _timeout(value: Any) -> float:
    if value in (None, ""):
        return DEFAULT_TIMEOUT
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise OperatorError(f"http: timeout {value!r} is not a number of seconds", permanent=True) from None
    return min(max(seconds, 1.0), MAX_TIMEOUT)


def _answer(response: requests.Response, content: bytes) -> dict:
    answer: dict[str, Any] = {"status": response.status_code,
                              "headers": {k.lower(): v for k, v in response.headers.items()}}
    if "json" in response.headers.get("Content-Type", "") and content:
        try:
            answer["json"] = json.loads(content)
            return answer
        except ValueError:
            pass
    answer["text"] = content.decode(response.encoding or "utf-8", errors="replace")
    return answer


def _excerpt(answer: dict) -> str:
    shown = json.dumps(answer["json"], ensure_ascii=False) if "json" in answer else answer["text"]
    return shown[:300]
