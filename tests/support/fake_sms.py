"""A local stand-in for three SMS gateways — SMS.ru, SMSC.ru and SMS Aero v2 — speaking their HTTP APIs.

One stdlib HTTP server on 127.0.0.1 (an ephemeral port) in a thread answers at the gateways' own paths
with their parameters, authentication and JSON answers, error answers included, and records every
message it accepted, so tests assert what the gateway (and so the customer) actually got. Knobs
reproduce what goes wrong in life: an empty balance, unapproved senders, unreachable numbers, an
outage (HTTP 503), and an answer held back longer than the client waits (`delay`) — accepted or
(`lose=True`) never taken.

It keeps its own, independent arithmetic of SMS parts (ASCII 160/153, anything else 70/67).
"""
from __future__ import annotations

import base64
import json
import math
import re
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

PHONE = re.compile(r"[1-9]\d{9,14}")  # E.164 digits without the plus: what all three gateways take
SEND_PATHS = ("/sms/send", "/sys/send.php", "/v2/sms/send")


@dataclass
class Sent:
    """A message the gateway took: who it was for, what it said, the gateway's id for it and the parts billed."""

    provider: str
    phone: str
    text: str
    sender: str | None
    ref: str
    parts: int


def parts_of(text: str) -> int:
    ascii_only = all(ord(ch) < 128 for ch in text)
    single, split = (160, 153) if ascii_only else (70, 67)
    return 1 if len(text) <= single else math.ceil(len(text) / split)


class FakeSmsGateway:
    SMSRU_API_ID = "5F2B6C1E-0D3A-4A7B-9C11-2E8F4D6A7B90"
    SMSC_LOGIN, SMSC_PASSWORD = "bespoke", "smsc-secret"
    AERO_EMAIL, AERO_KEY = "ops@bespoke.example", "aeroKey0123456789abcdefABCDEF012"
    PRICE = 2.5  # roubles per part

    def __init__(self) -> None:
        self.accepted: list[Sent] = []
        self.calls: list[tuple[str, dict]] = []  # (path, parameters) of every request, in order
        self.balance = 100.0
        self.senders = {"Bespoke", "SMS Aero"}  # approved sender names
        self.unreachable: set[str] = set()  # numbers the operator has no route to
        self.outage = 0  # answer the next N requests with HTTP 503
        self.delay = 0.0  # hold the answer to a send this long (after taking the message)
        self.lose = False  # with delay: hold the send and never take the message
        self.garble = False  # take sends but answer with a proxy's HTML page instead of the gateway's JSON
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.gateway = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-sms", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def config(self, provider: str, **overrides) -> dict:
        """App settings pointing `provider` at this server with valid credentials."""
        settings = {
            "smsru": {"SMSRU_URL": self.url, "SMSRU_API_ID": self.SMSRU_API_ID},
            "smsc": {"SMSC_URL": self.url, "SMSC_LOGIN": self.SMSC_LOGIN, "SMSC_PASSWORD": self.SMSC_PASSWORD},
            "smsaero": {"SMSAERO_URL": self.url, "SMSAERO_EMAIL": self.AERO_EMAIL,
                        "SMSAERO_API_KEY": self.AERO_KEY},
        }[provider]
        return {"SMS_PROVIDER": provider, "SMS_SENDER": "Bespoke", **settings, **overrides}

    def calls_to(self, path: str) -> list[dict]:
        return [params for called, params in self.calls if called == path]

    def close(self) -> None:
        self._closing.set()  # wakes handlers holding an answer back
        self._server.shutdown()
        self._server.server_close()  # joins the handler threads
        self._thread.join()

    def __enter__(self) -> FakeSmsGateway:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- shared -------------------------------------------------------------------------------------------
    def hold(self) -> None:
        self._closing.wait(self.delay)

    def _take(self, provider: str, phone: str, text: str, sender: str | None, ref: str | None = None) -> Sent | str:
        """Bill and record one message; returns the refusal ("funds") when the balance does not cover it."""
        with self._lock:
            parts = parts_of(text)
            if parts * self.PRICE > self.balance:
                return "funds"
            self.balance -= parts * self.PRICE
            sent = Sent(provider, phone, text, sender, ref or str(len(self.accepted) + 1), parts)
            self.accepted.append(sent)
            return sent

    # -- SMS.ru: /sms/send ----------------------------------------------------------------------------------
    def smsru_send(self, p: dict, headers) -> tuple[int, object]:
        if p.get("api_id") != self.SMSRU_API_ID:
            return 200, {"status": "ERROR", "status_code": 200, "status_text": "Неправильный api_id"}
        if p.get("json") != "1":
            return 200, "200\n"  # the plain-text protocol of old: only the code
        if not p.get("msg"):
            return 200, {"status": "ERROR", "status_code": 203, "status_text": "Нет текста сообщения"}
        sms = {phone: self._smsru_one(phone, p["msg"], p.get("from")) for phone in p.get("to", "").split(",")}
        return 200, {"status": "OK", "status_code": 100, "sms": sms, "balance": round(self.balance, 2)}

    def _smsru_one(self, phone: str, text: str, sender: str | None) -> dict:
        if not PHONE.fullmatch(phone) or phone in self.unreachable:
            return {"status": "ERROR", "status_code": 202,
                    "status_text": "Неправильно указан номер телефона получателя, либо на него нет маршрута"}
        if sender and sender not in self.senders:
            return {"status": "ERROR", "status_code": 204,
                    "status_text": "Имя отправителя не согласовано с администрацией"}
        sent = self._take("smsru", phone, text, sender)
        if sent == "funds":
            return {"status": "ERROR", "status_code": 201, "status_text": "Не хватает средств на лицевом счету"}
        sent.ref = f"{len(self.accepted):06d}-{1000000 + len(self.accepted)}"
        return {"status": "OK", "status_code": 100, "sms_id": sent.ref}

    # -- SMSC.ru: /sys/send.php, /sys/status.php ---------------------------------------------------------------
    def _smsc_auth(self, p: dict) -> bool:
        return p.get("login") == self.SMSC_LOGIN and p.get("psw") == self.SMSC_PASSWORD

    def smsc_send(self, p: dict, headers) -> tuple[int, object]:
        ref = p.get("id")
        if not self._smsc_auth(p):
            return 200, _smsc_error(2, "authorise error", ref)
        if p.get("fmt") != "3" or p.get("charset") != "utf-8" or not p.get("mes") or not p.get("phones") \
                or (ref is not None and not (ref.isdigit() and 1 <= int(ref) <= 2147483647)):
            return 200, _smsc_error(1, "parameters error", ref)
        phone, sender = p["phones"], p.get("sender")
        if not PHONE.fullmatch(phone):
            return 200, _smsc_error(7, "invalid number", ref)
        if phone in self.unreachable:
            return 200, _smsc_error(8, "can't deliver sms", ref)
        if sender and sender not in self.senders:
            return 200, _smsc_error(6, "message is denied", ref)
        if ref and self._smsc_find(phone, ref):
            return 200, _smsc_error(9, "duplicate request, wait a minute", ref)
        sent = self._take("smsc", phone, p["mes"], sender, ref)
        if sent == "funds":
            return 200, _smsc_error(3, "no money", ref)
        answer = {"id": int(sent.ref) if sent.ref.isdigit() else sent.ref, "cnt": sent.parts}
        if p.get("cost") in ("2", "3"):
            answer |= {"cost": f"{sent.parts * self.PRICE:.2f}", "balance": f"{self.balance:.2f}"}
        return 200, answer

    def smsc_status(self, p: dict, headers) -> tuple[int, object]:
        if not self._smsc_auth(p):
            return 200, {"error": "authorise error", "error_code": 2}
        if p.get("fmt") != "3" or not p.get("phone") or not p.get("id"):
            return 200, {"error": "parameters error", "error_code": 1}
        if self._smsc_find(p["phone"], p["id"]) is None:
            return 200, {"status": -3}  # "message not found"
        now = int(time.time())
        return 200, {"status": 1, "last_date": time.strftime("%d.%m.%Y %H:%M:%S", time.localtime(now)),
                     "last_timestamp": now}

    def _smsc_find(self, phone: str, ref: str) -> Sent | None:
        return next((s for s in self.accepted if s.provider == "smsc" and s.phone == phone and s.ref == ref), None)

    # -- SMS Aero v2: /v2/sms/send ----------------------------------------------------------------------------
    def aero_send(self, p: dict, headers) -> tuple[int, object]:
        expected = base64.b64encode(f"{self.AERO_EMAIL}:{self.AERO_KEY}".encode()).decode()
        if headers.get("Authorization") != f"Basic {expected}":
            return 401, {"success": False, "data": None, "message": "Your request was made with invalid credentials."}
        number, text, sign = p.get("number", ""), p.get("text", ""), p.get("sign", "")
        invalid = {}
        if not PHONE.fullmatch(number) or number in self.unreachable:
            invalid["number"] = ["Invalid phone number."]
        if not text:
            invalid["text"] = ["Text cannot be blank."]
        if sign not in self.senders:
            invalid["sign"] = ["Sign is not approved."]
        if invalid:
            return 400, {"success": False, "data": invalid, "message": "Validation error."}
        sent = self._take("smsaero", number, text, sign)
        if sent == "funds":
            return 402, {"success": False, "data": None, "message": "Insufficient funds."}
        sent.ref = str(40000 + len(self.accepted))
        now = int(time.time())
        return 200, {"success": True, "message": None, "data": {
            "id": int(sent.ref), "from": sign, "number": number, "text": text, "status": 0, "extendStatus": "queue",
            "channel": "DIRECT", "cost": round(sent.parts * self.PRICE, 2), "dateCreate": now, "dateSend": now}}


def _smsc_error(code: int, text: str, ref: str | None) -> dict:
    answer = {"error": text, "error_code": code}
    return answer | {"id": int(ref)} if ref and ref.isdigit() else answer


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # handler threads are joined on close: no request outlives its test
    block_on_close = True
    gateway: FakeSmsGateway

    def handle_error(self, request, client_address) -> None:
        """A client that gave up (timed out) before the held answer is expected; anything else is a bug here."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    routes = {"/sms/send": "smsru_send", "/sys/send.php": "smsc_send", "/sys/status.php": "smsc_status",
              "/v2/sms/send": "aero_send"}

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def log_message(self, format, *args) -> None:  # noqa: A002 - the stdlib's signature
        pass

    def _params(self) -> dict:
        """Query string, form body or JSON body: the gateways take their parameters any of these ways."""
        parts = urlsplit(self.path)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if raw and "json" in (self.headers.get("Content-Type") or ""):
            params |= {k: str(v) for k, v in json.loads(raw).items()}
        elif raw:
            params |= dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        return params

    def _dispatch(self) -> None:
        gateway, path = self.server.gateway, urlsplit(self.path).path
        params = self._params()
        gateway.calls.append((path, params))
        if gateway.outage > 0:
            gateway.outage -= 1
            return self._reply(503, "<html><body>503 Service Temporarily Unavailable</body></html>")
        handler = self.routes.get(path)
        if handler is None:
            return self._reply(404, {"error": "not found"})
        if path in SEND_PATHS and gateway.delay and gateway.lose:
            gateway.hold()  # the request never reached the gateway proper
            return None
        status, body = getattr(gateway, handler)(params, self.headers)
        if path in SEND_PATHS and gateway.delay:
            gateway.hold()  # taken, but the answer comes too late for the client
        if path in SEND_PATHS and gateway.garble:
            body = "<html><body>Request accepted</body></html>"
        return self._reply(status, body)

    def _reply(self, status: int, body: object) -> None:
        is_json = not isinstance(body, str)
        data = (json.dumps(body, ensure_ascii=False) if is_json else body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8" if is_json else "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
