"""The HTTP SMS gateways (SMS.ru, SMSC.ru, SMS Aero) as Transports for `app.operators.delivery.deliver`.

How a failure is sorted (permanent, temporary, in doubt) is described in `app.operators.sms`.
"""
from __future__ import annotations

from typing import Mapping

import requests
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from app.models import Notification
from app.operators.delivery import Receipt
from app.operators.registry import OperatorError
from app.operators.sms_message import count_segments, message_text, normalize_number


class UnclearAnswer(RuntimeError):
    """A gateway answered a send with something we cannot read: the message may have gone out.

    Deliberately not an OperatorError, so `deliver` keeps the row "sending" and the next run asks
    `lookup()` (or opens an incident) instead of sending the message a second time.
    """


class _HttpGateway:
    """What the HTTP gateways share: base URL, credentials check, timeout, and sorting transport failures.

    A failure before the request could reach the gateway (connection refused, connect timeout, TLS
    handshake) is a temporary OperatorError; after it (read timeout, reset mid-answer) the exception
    propagates so `deliver` treats the send as in doubt.
    """

    name = ""
    label = ""
    url_key = ""
    required: tuple[str, ...] = ()

    def __init__(self, config: Mapping) -> None:
        self.config = config
        self.base_url = str(config.get(self.url_key) or "").rstrip("/")
        self.region = config.get("SMS_DEFAULT_REGION") or "RU"
        self.sender = (config.get("SMS_SENDER") or "").strip()
        self.timeout = float(config.get("SMS_TIMEOUT") or 10)

    def fail(self, cause: str, *, permanent: bool) -> OperatorError:
        return OperatorError(f"{self.label}: {cause}", permanent=permanent)

    def check_settings(self) -> None:
        """Missing credentials are the admin's to fix: refuse before anything is sent, permanently."""
        missing = [key for key in self.required if not self.config.get(key)]
        if missing:
            raise self.fail(f"не заданы настройки {', '.join(missing)} — SMS не отправлено.", permanent=True)

    def post(self, path: str, data: dict, *, auth: tuple[str, str] | None = None,
             side_effect: bool = True) -> requests.Response:
        """POST (credentials stay out of access logs); sorts network failures by whether anything can have left."""
        try:
            response = requests.post(f"{self.base_url}{path}", data=data, auth=auth, timeout=self.timeout)
        except BAD_URL as exc:
            raise self.fail(f"неверный адрес шлюза в настройке {self.url_key} («{self.base_url}»).",
                            permanent=True) from exc
        except requests.RequestException as exc:
            if side_effect and not _never_sent(exc):
                raise  # the request may have reached the gateway: in doubt, the next run asks lookup()
            raise self.fail(f"шлюз недоступен ({_describe(exc)}), повторим позже.", permanent=False) from exc
        if response.status_code >= 500:
            raise self.fail(f"шлюз временно не работает (HTTP {response.status_code}), повторим позже.",
                            permanent=False)
        return response

    def answer(self, response: requests.Response, *, side_effect: bool = True) -> dict:
        """The JSON object of an answer; an unreadable 2xx answer to a send leaves the send in doubt."""
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            return body
        snippet = response.text[:200]
        if side_effect and response.ok:
            raise UnclearAnswer(f"{self.label}: ответ шлюза не разобрать (HTTP {response.status_code}: "
                                f"«{snippet}»); ушло ли сообщение — неизвестно.")
        raise self.fail(f"непонятный ответ шлюза (HTTP {response.status_code}: «{snippet}»), повторим позже.",
                        permanent=False)


# A malformed base URL: refused by requests itself, nothing left, and a retry would not help.
BAD_URL = (requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema, requests.exceptions.InvalidURL)


def _never_sent(exc: requests.RequestException) -> bool:
    """True when the failure happened before the request could reach the gateway."""
    if isinstance(exc, (requests.ConnectTimeout, requests.exceptions.SSLError)):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, (NewConnectionError, ConnectTimeoutError))


def _describe(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.ConnectTimeout):
        return "нет ответа на подключение"
    if isinstance(exc, requests.exceptions.SSLError):
        return "ошибка TLS"
    if isinstance(exc, requests.Timeout):
        return "нет ответа"
    if isinstance(exc, requests.ConnectionError):
        return "соединение не установлено"
    return type(exc).__name__


def _code(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# -- SMS.ru -----------------------------------------------------------------------------------------------

# status_code → (cause, permanent). Unknown codes are temporary: retried, then an incident with the code.
SMSRU_ERRORS: dict[int | None, tuple[str, bool]] = {
    200: ("неверный ключ API (api_id)", True),
    201: ("нет денег на счёте", False),
    202: ("неверный номер получателя или на него нет маршрута", True),
    203: ("пустой текст сообщения", True),
    204: ("отправитель «{sender}» не согласован с администрацией шлюза", True),
    205: ("сообщение слишком длинное (больше 8 SMS)", True),
    206: ("исчерпан дневной лимит отправки", False),
    207: ("на этот номер нет маршрута доставки", True),
    209: ("номер в стоп-листе", True),
    212: ("текст сообщения не в UTF-8", True),
    220: ("сервис временно недоступен", False),
    230: ("превышен дневной лимит сообщений на этот номер", False),
    231: ("превышен лимит одинаковых сообщений на этот номер в минуту", False),
    232: ("превышен лимит одинаковых сообщений на этот номер в день", False),
    300: ("неверный ключ API (token)", True),
    301: ("неверный ключ API или логин/пароль", True),
    302: ("аккаунт не подтверждён", True),
    500: ("ошибка на стороне шлюза", False),
}


class SmsRuTransport(_HttpGateway):
    """SMS.ru: /sms/send with api_id, to, msg, json=1 (and from); each number gets its own status_code."""

    name, label, url_key = "smsru", "SMS.ru", "SMSRU_URL"
    required = ("SMSRU_API_ID",)

    def send(self, notification: Notification) -> Receipt:
        self.check_settings()
        phone, text = normalize_number(notification.recipient, self.region), message_text(notification)
        data = {"api_id": self.config["SMSRU_API_ID"], "to": phone, "msg": text, "json": 1}
        if self.sender:
            data["from"] = self.sender
        body = self.answer(self.post("/sms/send", data))
        if body.get("status") != "OK":
            raise self.error(body)
        entry = self._entry(body, phone)
        if _code(entry.get("status_code")) != 100:
            raise self.error(entry)
        segments = count_segments(text)
        return Receipt(provider_ref=str(entry.get("sms_id") or ""), segments=segments,
                       details={"segments": segments, "balance": body.get("balance")})

    def lookup(self, notification: Notification) -> Receipt | None:
        """SMS.ru assigns its own ids and cannot be asked by ours: `deliver` opens an incident instead."""
        return None

    def _entry(self, body: dict, phone: str) -> dict:
        sms = body["sms"] if isinstance(body.get("sms"), dict) else {}
        entry = sms.get(phone) or (next(iter(sms.values())) if len(sms) == 1 else None)
        if not isinstance(entry, dict):
            raise UnclearAnswer(f"SMS.ru: в ответе нет статуса для номера {phone}; ушло ли сообщение — неизвестно.")
        return entry

    def error(self, answer: dict) -> OperatorError:
        code = _code(answer.get("status_code"))
        gateway_text = answer.get("status_text") or "без пояснения"
        cause, permanent = SMSRU_ERRORS.get(code, ("шлюз отказал", False))
        return self.fail(f"{cause.format(sender=self.sender)} (код {code}: «{gateway_text}»).", permanent=permanent)


# -- SMSC.ru ----------------------------------------------------------------------------------------------

# error_code → (cause, permanent), the same for send.php and status.php.
SMSC_ERRORS: dict[int | None, tuple[str, bool]] = {
    1: ("ошибка в параметрах запроса", True),
    2: ("неверный логин или пароль (ключ API)", True),
    3: ("нет денег на счёте", False),
    4: ("IP-адрес временно заблокирован из-за частых ошибок", False),
    5: ("неверный формат даты", True),
    6: ("сообщение запрещено: текст или отправитель «{sender}» не согласован", True),
    7: ("неверный номер телефона", True),
    8: ("сообщение на этот номер не может быть доставлено", True),
    9: ("слишком частые одинаковые запросы", False),
}
SMSC_NOT_FOUND_ERROR = 3  # status.php: no message with this phone and id
SMSC_NOT_FOUND_STATUS = -3
SMSC_DUPLICATE = 9


class SmscTransport(_HttpGateway):
    """SMSC.ru: /sys/send.php with our own message id (the notification id), so a lost answer can be looked up."""

    name, label, url_key = "smsc", "SMSC.ru", "SMSC_URL"
    required = ("SMSC_LOGIN", "SMSC_PASSWORD")

    def credentials(self) -> dict:
        return {"login": self.config["SMSC_LOGIN"], "psw": self.config["SMSC_PASSWORD"]}

    def send(self, notification: Notification) -> Receipt:
        self.check_settings()
        phone, text = normalize_number(notification.recipient, self.region), message_text(notification)
        data = {**self.credentials(), "phones": phone, "mes": text, "charset": "utf-8", "fmt": 3,
                "id": notification.id, "cost": 3}  # cost=3: send, and answer with the cost and the new balance
        if self.sender:
            data["sender"] = self.sender
        body = self.answer(self.post("/sys/send.php", data))
        if "error_code" in body or "error" in body:
            if _code(body.get("error_code")) == SMSC_DUPLICATE:
                return self._duplicate(notification, phone, body)
            raise self.error(body)
        segments = count_segments(text)
        return Receipt(provider_ref=str(body.get("id", notification.id)), segments=segments,
                       details={"segments": segments, "gateway_parts": body.get("cnt"), "cost": body.get("cost"),
                                "balance": body.get("balance")})

    def lookup(self, notification: Notification) -> Receipt | None:
        """SMSC knows our id, so the answer is certain: the message it has — or, when it never arrived, send it now.

        A resend right after a lost one would be refused as a duplicate (code 9) rather than go out twice.
        """
        self.check_settings()
        found = self._status(notification, normalize_number(notification.recipient, self.region))
        return found if found is not None else self.send(notification)

    def _duplicate(self, notification: Notification, phone: str, body: dict) -> Receipt:
        """Code 9 after an interrupted send usually means the first request got through: ask for it by id."""
        found = self._status(notification, phone)
        if found is not None:
            return found
        raise self.error(body)

    def _status(self, notification: Notification, phone: str) -> Receipt | None:
        data = {**self.credentials(), "phone": phone, "id": notification.id, "fmt": 3, "charset": "utf-8"}
        body = self.answer(self.post("/sys/status.php", data, side_effect=False), side_effect=False)
        code = _code(body.get("error_code"))
        if code == SMSC_NOT_FOUND_ERROR or _code(body.get("status")) == SMSC_NOT_FOUND_STATUS:
            return None
        if "error_code" in body or "error" in body:
            raise self.error(body)
        segments = count_segments(message_text(notification))
        return Receipt(provider_ref=str(notification.id), segments=segments,
                       details={"segments": segments, "gateway_status": _code(body.get("status")),
                                "recovered": True})

    def error(self, answer: dict) -> OperatorError:
        code = _code(answer.get("error_code"))
        gateway_text = answer.get("error") or "без пояснения"
        cause, permanent = SMSC_ERRORS.get(code, ("шлюз отказал", False))
        return self.fail(f"{cause.format(sender=self.sender)} (код {code}: «{gateway_text}»).", permanent=permanent)


# -- SMS Aero ---------------------------------------------------------------------------------------------

SMSAERO_DEFAULT_SIGN = "SMS Aero"  # the shared signature every SMS Aero account may use


class SmsAeroTransport(_HttpGateway):
    """SMS Aero v2: /v2/sms/send with number, text, sign, HTTP Basic email:api_key; answers {success, data, message}."""

    name, label, url_key = "smsaero", "SMS Aero", "SMSAERO_URL"
    required = ("SMSAERO_EMAIL", "SMSAERO_API_KEY")

    def send(self, notification: Notification) -> Receipt:
        self.check_settings()
        phone, text = normalize_number(notification.recipient, self.region), message_text(notification)
        data = {"number": phone, "text": text, "sign": self.sender or SMSAERO_DEFAULT_SIGN}
        auth = (self.config["SMSAERO_EMAIL"], self.config["SMSAERO_API_KEY"])
        response = self.post("/v2/sms/send", data, auth=auth)
        if response.status_code in (401, 403):
            raise self.fail(f"неверный ключ API или e-mail (HTTP {response.status_code}).", permanent=True)
        body = self.answer(response)
        if not body.get("success"):
            raise self.error(body, response.status_code, data["sign"])
        sent = body["data"] if isinstance(body.get("data"), dict) else {}
        if not sent.get("id"):
            raise UnclearAnswer(f"SMS Aero: успех без номера сообщения («{response.text[:200]}»); "
                                "ушло ли сообщение — неизвестно.")
        segments = count_segments(text)
        return Receipt(provider_ref=str(sent["id"]), segments=segments,
                       details={"segments": segments, "cost": sent.get("cost"),
                                "gateway_status": sent.get("extendStatus")})

    def lookup(self, notification: Notification) -> Receipt | None:
        """SMS Aero assigns its own ids and cannot be asked by ours: `deliver` opens an incident instead."""
        return None

    def error(self, body: dict, http_status: int, sign: str) -> OperatorError:
        """SMS Aero answers in words, not codes: sort by the fields it complains about and the message."""
        message = str(body.get("message") or "без пояснения")
        fields = body["data"] if isinstance(body.get("data"), dict) else {}
        said = f"{message} {fields}".lower()
        detail = f" (HTTP {http_status}: «{message}»{f' {fields}' if fields else ''})."
        if any(word in said for word in ("money", "funds", "balance", "credits")):
            return self.fail("нет денег на счёте" + detail, permanent=False)
        if "sign" in fields or "sign" in said:
            return self.fail(f"отправитель «{sign}» не согласован" + detail, permanent=True)
        if "number" in fields or "number" in said or "phone" in said:
            return self.fail("неверный номер получателя" + detail, permanent=True)
        if "credentials" in said or "auth" in said:
            return self.fail("неверный ключ API или e-mail" + detail, permanent=True)
        return self.fail("шлюз отказал" + detail, permanent=bool(fields))
