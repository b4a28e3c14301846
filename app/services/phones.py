"""Phone numbers, read once with `phonenumbers`: the stored form of a number people typed, and its SMS address.

People type phones in every spelling (8 (916) 123-45-67, +7 916 …, 916 …); the region lets the local
forms through. What is stored is E.164 ("+79161234567") once the number is possible; what an SMS gateway
takes is E.164 digits without the plus ("79161234567"), and only for a valid number that can be a mobile.
"""
from __future__ import annotations

import phonenumbers

# Numbers an SMS can reach: Russian 9xx numbers are MOBILE; countries that do not tell (US, CA) say
# FIXED_LINE_OR_MOBILE. A landline, toll-free or premium number would take our money and deliver nothing.
SMS_CAPABLE = frozenset({phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE})


class PhoneError(ValueError):
    """Why a number cannot be used: `reason` is "unparsable", "impossible", "invalid" or "landline"."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _parse(raw: str, region: str | None) -> phonenumbers.PhoneNumber:
    try:
        return phonenumbers.parse(raw, region or None)
    except phonenumbers.NumberParseException as exc:
        raise PhoneError("unparsable", str(exc)) from exc


def normalize_phone(raw: str | None, region: str = "RU") -> str | None:
    """E.164 form of a phone number to store ("+79161234567"), None when empty; PhoneError when impossible."""
    if not raw or not str(raw).strip():
        return None
    number = _parse(str(raw), region)
    if not phonenumbers.is_possible_number(number):
        raise PhoneError("impossible", "not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def sms_address(raw: str | None, region: str = "RU") -> str:
    """E.164 digits without the plus, the form SMS gateways take; PhoneError when no SMS can reach the number."""
    number = _parse((raw or "").strip(), region)
    if not phonenumbers.is_valid_number(number):
        raise PhoneError("invalid", "no such number")
    if phonenumbers.number_type(number) not in SMS_CAPABLE:
        raise PhoneError("landline", "a landline or service number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).lstrip("+")
