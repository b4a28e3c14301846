"""A small client for 1C:Enterprise's standard OData v3 interface (…/odata/standard.odata/).

1C answers in JSON only when asked (`$format=json`), wants HTTP Basic credentials of a 1C user (the
login is often Cyrillic, so it is sent as UTF-8), names entity sets in Russian (`Catalog_Контрагенты`),
addresses objects by key (`Catalog_Контрагенты(guid'…')`) and posts documents with `…/Post`. Every
failure becomes an `OperatorError` worded for the admin: what retrying cannot fix (credentials, rights,
a wrong entity set name, data 1C rejects) is permanent; a 1C that is down or busy is retried.
"""
from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

import requests

from app.operators.registry import OperatorError

TIMEOUT = (5, 30)  # seconds to connect, seconds to wait for an answer (posting a document can be slow)
EMPTY_REF = "00000000-0000-0000-0000-000000000000"
_SAFE_QUERY = "'(),"  # OData punctuation that must stay literal; everything else is percent-encoded


# -- $filter building ---------------------------------------------------------------------------------

def literal(value: Any) -> str:
    """An OData v3 literal: strings quoted with '' for a quote, guids and datetimes typed, booleans bare."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, uuid.UUID):
        return f"guid'{value}'"
    if isinstance(value, datetime):
        return f"datetime'{value.strftime('%Y-%m-%dT%H:%M:%S')}'"
    if isinstance(value, date):
        return f"datetime'{value.isoformat()}T00:00:00'"
    return "'" + str(value).replace("'", "''") + "'"


def guid(value: str) -> uuid.UUID:
    """A 1C reference as a typed value; rejects anything that is not a uuid (it goes into URLs)."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise OperatorError(f"1С: «{value}» не является ссылкой (GUID)", permanent=True) from None


def eq(field: str, value: Any) -> str:
    return f"{field} eq {literal(value)}"


def contains(field: str, text: str) -> str:
    """OData v3 has no `contains`: 1C understands `substringof('text', Field)`."""
    return f"substringof({literal(text)}, {field})"


def all_of(*parts: str | None) -> str:
    return " and ".join(p for p in parts if p)


# -- the client ---------------------------------------------------------------------------------------

class OneC:
    """One session with a 1C infobase; use as a context manager so its connections are closed."""

    def __init__(self, base_url: str, user: str, password: str, *, timeout: tuple = TIMEOUT) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.timeout = timeout
        self.session = requests.Session()
        # requests would encode a str login as Latin-1; 1C reads Basic credentials as UTF-8.
        self.session.auth = (user.encode("utf-8"), password.encode("utf-8"))  # type: ignore[assignment]
        self.session.headers.update({"Accept": "application/json", "Content-Type": "application/json"})

    def __enter__(self) -> OneC:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.session.close()

    # -- addresses ------------------------------------------------------------------------------------
    def url(self, entity: str, key: str | None = None, action: str | None = None, *, params: dict | None = None,
            **options: Any) -> str:
        """Percent-encode the Cyrillic entity set name ourselves; `$` system options stay literal as 1C expects.

        `options` become `$name=value` (filter, select, top); `params` are passed as they are named.
        """
        path = quote(entity, safe="_")
        if key is not None:
            path += f"(guid'{guid(key)}')"
        if action:
            path += "/" + quote(action, safe="")
        pairs = {"$format": "json", **{f"${k}": v for k, v in options.items() if v not in (None, "")},
                 **(params or {})}
        return self.base_url + path + "?" + "&".join(f"{k}={quote(str(v), safe=_SAFE_QUERY)}"
                                                     for k, v in pairs.items())

    # -- operations -----------------------------------------------------------------------------------
    def query(self, entity: str, *, filter: str | None = None, select: list[str] | None = None,
              top: int | None = None) -> list[dict]:
        """GET an entity set: the rows of its `value` list."""
        body = self._call("GET", entity, self.url(entity, filter=filter, select=",".join(select or []), top=top))
        rows = body.get("value") if isinstance(body, dict) else None
        if not isinstance(rows, list):
            raise OperatorError(f"1С: ответ на запрос к «{entity}» без списка value", permanent=False)
        return rows

    def get(self, entity: str, key: str) -> dict | None:
        """One object by key; None when 1C no longer has it (deleted, or another infobase's key)."""
        try:
            return self._call("GET", entity, self.url(entity, key))
        except _NotFound:
            self.query(entity, top=1, select=["Ref_Key"])  # the set itself missing is a mapping error
            return None

    def create(self, entity: str, data: dict) -> dict:
        return self._call("POST", entity, self.url(entity), json=data)

    def update(self, entity: str, key: str, data: dict) -> dict:
        return self._call("PATCH", entity, self.url(entity, key), json=data)

    def post_document(self, entity: str, key: str) -> None:
        """Post (провести) a document: it then moves the registers in 1C, like pressing «Провести»."""
        self._call("POST", entity, self.url(entity, key, "Post", params={"PostingModeOperational": "false"}))

    # -- transport ------------------------------------------------------------------------------------
    def _call(self, method: str, entity: str, url: str, **kwargs) -> Any:
        try:
            response = self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.Timeout:
            raise OperatorError(f"1С не ответила за {self.timeout[1]} с ({entity})", permanent=False) from None
        except requests.RequestException as exc:
            raise OperatorError(f"1С недоступна: {_reason(exc)}", permanent=False) from None
        if response.status_code >= 400:
            raise _error(response, entity)
        if not response.content.strip():
            return {}
        try:
            return response.json()
        except ValueError:
            raise OperatorError(f"1С вернула не JSON ({response.status_code}, "
                                f"{response.headers.get('Content-Type', '?')}) на запрос к «{entity}»",
                                permanent=False) from None


class _NotFound(OperatorError):
    """A 404: the caller decides whether it means a missing object or a wrong entity set name."""


def error_text(response: requests.Response) -> str:
    """1C's own words from its error body {"odata.error": {"message": {"value": …}}}, else the raw text."""
    try:
        body = response.json()
    except ValueError:
        return re.sub(r"\s+", " ", response.text or "").strip()[:300]
    error = (body.get("odata.error") or body.get("error")) if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if isinstance(message, dict):
        message = message.get("value")
    return str(message or "").strip()[:500]


def _error(response: requests.Response, entity: str) -> OperatorError:
    status, said = response.status_code, error_text(response)
    detail = f": {said}" if said else ""
    if status == 401:
        return OperatorError("1С: неверный логин или пароль", permanent=True)
    if status == 403:
        return OperatorError(f"1С: у пользователя обмена нет прав на «{entity}»{detail}", permanent=True)
    if status == 404:
        return _NotFound(f"1С: нет набора сущностей «{entity}» — проверьте сопоставление (ONEC_MAPPING) "
                         f"и состав стандартного интерфейса OData{detail}", permanent=True)
    if status in (408, 429) or status >= 500:
        return OperatorError(f"1С: ошибка {status} при обращении к «{entity}»{detail}", permanent=False)
    return OperatorError(f"1С отклонила запрос к «{entity}» ({status}){detail}", permanent=True)


def _reason(exc: requests.RequestException) -> str:
    text = str(exc)
    found = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
    return found.group(1).strip() if found else type(exc).__name__
