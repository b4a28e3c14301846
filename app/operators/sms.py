"""sms.send: one notification as an SMS through the configured gateway (SMS.ru, SMSC.ru, SMS Aero or the log).

Each gateway is a Transport for `app.operators.delivery.deliver`, which keeps a message single across crashes
and retries. What a transport decides is the wording and the weight of a failure:

* The gateway refused (bad key, bad number, sender not approved) → `OperatorError(permanent=True)`:
  a retry would be refused again, so the job becomes an incident for an admin at once.
* The gateway could not take it now (no funds, its own hiccup, HTTP 5xx, connection refused) →
  `OperatorError(permanent=False)`: nothing went out, the job is retried with backoff.
* The request left but no answer came back (read timeout, connection dropped mid-answer) → the
  `requests` exception propagates untouched: the message may have gone out, `deliver` keeps the row
  "sending" and the next run asks `lookup()` instead of sending it again.

Numbers are read by `app.services.phones` into E.164 digits without the plus (79161234567), the form all
three gateways take; `app.operators.sms_message` counts the parts a text is billed as (GSM-7 160/153, UCS-2
70/67), `app.operators.sms_gateways` speaks to each gateway.
"""
from __future__ import annotations

from typing import Callable, Mapping

from flask import current_app

from app.operators.delivery import LogTransport, Transport, deliver
from app.operators.registry import JobContext, OperatorError
from app.operators.sms_gateways import SmsAeroTransport, SmscTransport, SmsRuTransport


def send(ctx: JobContext) -> dict:
    return deliver(ctx, transport_from_config())


# -- choosing a transport ---------------------------------------------------------------------------------

def transport_from_config() -> Transport:
    """The transport SMS_PROVIDER names; a typo there is an incident, not a silent fallback to the log."""
    config = current_app.config
    name = (config.get("SMS_PROVIDER") or "log").strip().lower()
    factory = TRANSPORTS.get(name)
    if factory is None:
        raise OperatorError(f"Неизвестный SMS-шлюз «{name}» в настройке SMS_PROVIDER: допустимы "
                            f"{', '.join(TRANSPORTS)}. SMS не отправлено.", permanent=True)
    return factory(config)


TRANSPORTS: dict[str, Callable[[Mapping], Transport]] = {
    "log": lambda config: LogTransport("sms"),
    "smsru": SmsRuTransport,
    "smsc": SmscTransport,
    "smsaero": SmsAeroTransport,
}
