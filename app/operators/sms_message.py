"""What goes into an SMS: the recipient's number as the gateways take it, and the parts a text is billed as."""
from __future__ import annotations

import math

from app.models import Notification
from app.operators.registry import OperatorError
from app.services.phones import PhoneError, sms_address


def normalize_number(raw: str | None, region: str = "RU") -> str:
    """The number as the gateways take it ("8 (916) 123-45-67" → "79161234567"); OperatorError when no SMS can reach it.

    A number that cannot be a mobile is a permanent failure: retrying will not change it, the address has
    to be corrected.
    """
    shown = (raw or "").strip()
    try:
        return sms_address(shown, region)
    except PhoneError as exc:
        problem = NUMBER_PROBLEMS[exc.reason].format(detail=exc.detail)
        raise OperatorError(f"Номер «{shown}» не похож на мобильный телефон: {problem}", permanent=True) from exc


NUMBER_PROBLEMS = {
    "unparsable": "его не разобрать ({detail}). Исправьте номер и повторите отправку.",
    "invalid": "такого номера не бывает. Исправьте номер и повторите отправку.",
    "landline": "это городской или служебный номер, SMS на него не дойдёт.",
}


# GSM 03.38: the default alphabet (one septet each) and its extension table (escape + char, two septets).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXTENDED = frozenset("\f^{}\\[~]|€")


def sms_encoding(text: str) -> str:
    """"gsm7" when every character is in the GSM alphabet, else "ucs2" (one Cyrillic letter switches the whole text)."""
    return "gsm7" if all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in text) else "ucs2"


def count_segments(text: str) -> int:
    """SMS parts the text is billed as: GSM-7 160 in one part, 153 per part when split; UCS-2 70 / 67.

    A split message spends part of each segment on the concatenation header, hence 153/67. In UCS-2 a
    character outside the BMP (an emoji) takes two code units.
    """
    if sms_encoding(text) == "gsm7":
        units, single, split = sum(2 if ch in GSM7_EXTENDED else 1 for ch in text), 160, 153
    else:
        units, single, split = len(text.encode("utf-16-le")) // 2, 70, 67
    return 1 if units <= single else math.ceil(units / split)


def message_text(note: Notification) -> str:
    return (note.body or note.subject or "").strip()
