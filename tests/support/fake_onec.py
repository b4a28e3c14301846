"""A local stand-in for 1C:Enterprise's standard OData interface, answering as a real infobase does.

Stdlib http.server in a thread on 127.0.0.1 (port 0). It is strict where 1C is: JSON only with
`$format=json`, HTTP Basic credentials read as UTF-8 (401 with 1C's error JSON otherwise), percent-encoded
Cyrillic entity set names (404 for a set it does not publish), keys as `(guid'…')`, unknown properties
refused with 400, rows of a tabular section only inside their document and each with LineNumber,
documents posted with `…/Post`. `$filter` understands eq/ne, and/or, parentheses, `substringof('x', F)`,
and 'string', guid'…', datetime'…', true/false and number literals; `$select` and `$top` work too.
"""
from __future__ import annotations

import base64
import copy
import json
import re
import threading
import uuid
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

BASE = "/base/odata/standard.odata"

# The properties each published entity set accepts (besides Ref_Key, DataVersion, DeletionMark, …).
SETS: dict[str, set[str]] = {
    "Catalog_Контрагенты": {"Code", "Description", "НаименованиеПолное", "Комментарий", "ИНН", "КПП", "ЮрФизЛицо",
                            "Parent_Key", "IsFolder"},
    "Catalog_ДоговорыКонтрагентов": {"Code", "Description", "Owner_Key", "Номер", "Дата", "Комментарий",
                                     "Организация_Key", "ВидДоговора"},
    "Document_ЗаказКлиента": {"Number", "Date", "Posted", "Контрагент_Key", "Договор_Key", "СуммаДокумента",
                              "Комментарий", "Организация_Key", "Валюта_Key", "Товары"},
    "Document_ПоступлениеБезналичныхДенежныхСредств": {"Number", "Date", "Posted", "СуммаДокумента",
                                                       "НазначениеПлатежа", "Контрагент_Key", "ЗаказКлиента_Key",
                                                       "Комментарий"},
    "Document_ПриходныйКассовыйОрдер": {"Number", "Date", "Posted", "СуммаДокумента", "Основание", "Комментарий",
                                        "Контрагент_Key"},
}
TABULAR: dict[str, dict[str, set[str]]] = {
    "Document_ЗаказКлиента": {"Товары": {"LineNumber", "Номенклатура_Key", "Содержание", "Количество", "Цена",
                                         "Сумма"}},
}
STANDARD = {"Ref_Key", "DataVersion", "DeletionMark"}
EMPTY_REF = "00000000-0000-0000-0000-000000000000"
_PATH = re.compile(r"^(?P<set>[^(/]+)(?:\(guid'(?P<key>[0-9a-fA-F-]{36})'\))?(?:/(?P<action>\w+))?$")


class ODataError(Exception):
    def __init__(self, status: int, message: str, code: str = "-1") -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


class FakeOneC:
    """The infobase: entity sets of dicts, a request log, credentials, and errors to inject."""

    def __init__(self, user: str = "Обмен", password: str = "секрет") -> None:
        self.user, self.password = user, password
        self.data: dict[str, dict[str, dict]] = {name: {} for name in SETS}
        self.log: list[tuple[str, str]] = []  # (method, raw request path as it came over the wire)
        self.lock = threading.Lock()
        self._failures: list[tuple[int, str]] = []
        self._counter = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.odata_url = self.url + BASE + "/"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Stop answering; the port then refuses connections like a 1C server that is down."""
        if self.thread.is_alive():
            self.server.shutdown()
            self.thread.join(5)
        self.server.server_close()

    def __enter__(self) -> FakeOneC:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- what tests use -------------------------------------------------------------------------------
    def add(self, entity_set: str, **fields: Any) -> dict:
        """Create an object as a 1C user would in the 1C client (bypassing HTTP)."""
        with self.lock:
            return copy.deepcopy(self._create(entity_set, fields))

    def all(self, entity_set: str) -> list[dict]:
        with self.lock:
            return [copy.deepcopy(e) for e in self.data[entity_set].values()]

    def fail_next(self, status: int, message: str, times: int = 1) -> None:
        """The next requests fail with this status and 1C's error body (e.g. 500 from a locked table)."""
        self._failures += [(status, message)] * times

    def requests(self, method: str | None = None) -> list[tuple[str, str]]:
        return [entry for entry in self.log if method is None or entry[0] == method]

    # -- the infobase ---------------------------------------------------------------------------------
    def _create(self, entity_set: str, fields: dict) -> dict:
        self._check_properties(entity_set, fields)
        self._counter += 1
        entity: dict[str, Any] = {"Ref_Key": str(uuid.uuid4()), "DataVersion": _version(), "DeletionMark": False}
        if entity_set.startswith("Document_"):
            entity.update(Number=f"0000-{self._counter:06d}", Date=datetime.now().strftime("%Y-%m-%dT%H:%M:%S"),
                          Posted=False)
        else:
            entity.update(Code=f"{self._counter:09d}", Description="")
        for section in TABULAR.get(entity_set, {}):
            entity[section] = []
        entity.update(fields)
        self.data[entity_set][entity["Ref_Key"]] = entity
        return entity

    def _check_properties(self, entity_set: str, fields: dict) -> None:
        allowed = SETS[entity_set] | STANDARD
        for name, value in fields.items():
            if name not in allowed:
                raise ODataError(400, f"Неизвестное свойство: '{name}' у объекта '{entity_set}'", "9")
            if name.endswith("_Key") and not re.fullmatch(r"[0-9a-fA-F-]{36}", str(value)):
                raise ODataError(400, f"Неверное значение ссылки в свойстве '{name}'", "9")
            if name in TABULAR.get(entity_set, {}):
                self._check_rows(entity_set, name, value)

    def _check_rows(self, entity_set: str, section: str, rows: Any) -> None:
        if not isinstance(rows, list):
            raise ODataError(400, f"Табличная часть '{section}' должна быть массивом", "9")
        for row in rows:
            unknown = set(row) - TABULAR[entity_set][section]
            if unknown:
                raise ODataError(400, f"Неизвестное свойство: '{sorted(unknown)[0]}' строки '{section}'", "9")
            if "LineNumber" not in row:
                raise ODataError(400, f"Строка табличной части '{section}' без LineNumber", "9")

    def _entity(self, entity_set: str, key: str) -> dict:
        entity = self.data[entity_set].get(key.lower())
        if entity is None:
            raise ODataError(404, "Не найден объект по ключу", "14")
        return entity

    def handle(self, method: str, raw_path: str, auth: str | None, body: bytes) -> tuple[int, Any]:
        with self.lock:
            self.log.append((method, raw_path))
            if not self._authorized(auth):
                raise ODataError(401, "Ошибка аутентификации. Пользователь не идентифицирован", "1")
            if self._failures:
                raise ODataError(*self._failures.pop(0))
            parts = urlsplit(raw_path)
            query = dict(parse_qsl(parts.query, keep_blank_values=True))
            if query.get("$format") != "json":
                raise ODataError(406, "Поддерживается только $format=json в этой заглушке")
            path = unquote(parts.path)
            if not path.startswith(BASE + "/"):
                raise ODataError(404, "Не найден ресурс")
            match = _PATH.match(path[len(BASE) + 1:])
            if match is None or match["set"] not in SETS:
                name = match["set"] if match else path
                raise ODataError(404, f"Не найден сегмент ресурса '{name}'", "6")
            payload = json.loads(body.decode("utf-8")) if body else None
            return self._dispatch(method, match["set"], match["key"], match["action"], query, payload)

    def _authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return (user, password) == (self.user, self.password)

    def _dispatch(self, method: str, entity_set: str, key: str | None, action: str | None, query: dict,
                  payload: Any) -> tuple[int, Any]:
        if action == "Post" and method == "POST" and key and entity_set.startswith("Document_"):
            entity = self._entity(entity_set, key)
            entity["Posted"], entity["DataVersion"] = True, _version()
            return 200, None
        if action:
            raise ODataError(400, f"Неизвестное действие '{action}'")
        if method == "GET" and key:
            return 200, self._select(self._entity(entity_set, key), query)
        if method == "GET":
            rows = [e for e in self.data[entity_set].values()
                    if not query.get("$filter") or evaluate(parse_filter(query["$filter"]), e)]
            if query.get("$top"):
                rows = rows[:int(query["$top"])]
            return 200, {"odata.metadata": f"{BASE}/$metadata#{entity_set}",
                         "value": [self._select(e, query) for e in rows]}
        if method == "POST" and not key:
            if not isinstance(payload, dict):
                raise ODataError(400, "Ожидается объект JSON")
            return 201, copy.deepcopy(self._create(entity_set, {k: v for k, v in payload.items() if k != "Ref_Key"}))
        if method == "PATCH" and key:
            entity = self._entity(entity_set, key)
            changes = {k: v for k, v in (payload or {}).items() if k not in STANDARD}
            self._check_properties(entity_set, changes)
            entity.update(changes)  # a tabular section sent is replaced as a whole, as 1C does
            entity["DataVersion"] = _version()
            return 200, copy.deepcopy(entity)
        raise ODataError(405, f"Метод {method} не поддерживается для этого ресурса")

    @staticmethod
    def _select(entity: dict, query: dict) -> dict:
        if not query.get("$select"):
            return copy.deepcopy(entity)
        names = [n.strip() for n in query["$select"].split(",") if n.strip()]
        return {n: copy.deepcopy(entity[n]) for n in names if n in entity}


def _version() -> str:
    return base64.b64encode(uuid.uuid4().bytes[:8]).decode()


def _handler(fake: FakeOneC) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            try:
                status, answer = fake.handle(self.command, self.path, self.headers.get("Authorization"), body)
            except ODataError as exc:
                status, answer = exc.status, {"odata.error": {"code": exc.code,
                                                              "message": {"lang": "ru", "value": exc.message}}}
            except (ValueError, KeyError) as exc:
                status, answer = 400, {"odata.error": {"code": "-1", "message": {"lang": "ru", "value": str(exc)}}}
            data = b"" if answer is None else json.dumps(answer, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            if status == 401:
                self.send_header("WWW-Authenticate", 'Basic realm="1C:Enterprise"')
            self.send_header("Content-Type", "application/json;charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    return Handler


# -- $filter ------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(?:(?P<guid>guid'[0-9a-fA-F-]{36}')|(?P<datetime>datetime'[^']*')|(?P<string>'(?:[^']|'')*')"
                    r"|(?P<number>-?\d+(?:\.\d+)?)|(?P<punct>[(),])|(?P<word>[\w.]+))", re.UNICODE)


def _tokens(text: str) -> list[tuple[str, Any]]:
    tokens, pos, text = [], 0, text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise ODataError(400, f"Ошибка разбора $filter в позиции {pos}: {text[pos:pos + 20]!r}", "5")
        pos = match.end()
        kind = match.lastgroup
        raw = match[kind]
        if kind == "guid":
            tokens.append(("value", raw[5:-1].lower()))
        elif kind == "datetime":
            tokens.append(("value", raw[9:-1]))
        elif kind == "string":
            tokens.append(("value", raw[1:-1].replace("''", "'")))
        elif kind == "number":
            tokens.append(("value", float(raw)))
        elif kind == "punct":
            tokens.append((raw, raw))
        elif raw in ("true", "false"):
            tokens.append(("value", raw == "true"))
        elif raw in ("eq", "ne", "and", "or", "not", "substringof"):
            tokens.append((raw, raw))
        else:
            tokens.append(("field", raw))
    return tokens


def parse_filter(text: str) -> Any:
    """A tiny recursive-descent parser: returns a tree of tuples for `evaluate`."""
    tokens = _tokens(text)
    pos = 0

    def peek() -> str | None:
        return tokens[pos][0] if pos < len(tokens) else None

    def take(kind: str) -> Any:
        nonlocal pos
        if peek() != kind:
            raise ODataError(400, f"Ошибка разбора $filter: ожидалось {kind}, получено {peek()}", "5")
        pos += 1
        return tokens[pos - 1][1]

    def expression() -> Any:
        node = conjunction()
        while peek() == "or":
            take("or")
            node = ("or", node, conjunction())
        return node

    def conjunction() -> Any:
        node = comparison()
        while peek() == "and":
            take("and")
            node = ("and", node, comparison())
        return node

    def comparison() -> Any:
        left = term()
        if peek() in ("eq", "ne"):
            op = take(peek())
            return (op, left, term())
        return left

    def term() -> Any:
        kind = peek()
        if kind == "(":
            take("(")
            node = expression()
            take(")")
            return node
        if kind == "not":
            take("not")
            return ("not", term())
        if kind == "substringof":
            take("substringof")
            take("(")
            needle = term()
            take(",")
            haystack = term()
            take(")")
            return ("substringof", needle, haystack)
        if kind in ("value", "field"):
            return (kind, take(kind))
        raise ODataError(400, f"Ошибка разбора $filter: неожиданное {kind}", "5")

    tree = expression()
    if pos != len(tokens):
        raise ODataError(400, f"Ошибка разбора $filter: лишнее {tokens[pos][1]!r}", "5")
    return tree


def evaluate(node: Any, entity: dict) -> Any:
    op = node[0]
    if op == "value":
        return node[1]
    if op == "field":
        if node[1] not in entity:
            raise ODataError(400, f"Неизвестное свойство в $filter: '{node[1]}'", "5")
        value = entity[node[1]]
        return value.lower() if isinstance(value, str) and re.fullmatch(r"[0-9A-F-]{36}", value, re.I) else value
    if op == "and":
        return evaluate(node[1], entity) and evaluate(node[2], entity)
    if op == "or":
        return evaluate(node[1], entity) or evaluate(node[2], entity)
    if op == "not":
        return not evaluate(node[1], entity)
    if op == "substringof":
        return str(evaluate(node[1], entity)) in str(evaluate(node[2], entity) or "")
    left, right = evaluate(node[1], entity), evaluate(node[2], entity)
    if isinstance(left, (int, float)) and isinstance(right, (int, float)) and not isinstance(left, bool):
        same = abs(left - right) < 1e-9
    else:
        same = left == right
    return same if op == "eq" else not same
