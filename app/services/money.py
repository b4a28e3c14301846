"""Money: roubles and kopecks as `Decimal`, whatever carried them here.

Amounts travel as JSON numbers (the API, the process data, 1C) and as typed text (the browser);
they are stored in `Numeric(14, 2)` columns. Every amount below `LIMIT` has at most 15 significant
digits, so a JSON float's shortest repr spells it exactly: `Decimal(repr(value))` gives the amount
back to the kopeck, and no check ever does arithmetic on the float itself.
"""
from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
LIMIT = Decimal("1000000000000")  # 10^12: the largest Numeric(14, 2) holds is 999 999 999 999,99
_TYPED = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_GROUPING = re.compile(r"[\s\u00a0\u202f']")  # 1 234,56 · 1 234,56 · 1'234.56


class MoneyError(ValueError):
    """Not an amount of money; the message is for the person who typed it."""


def decimal_from_text(text: str) -> Decimal:
    """Typed text as a Decimal: «1 234,56», «1234.56», «1'234.56»; no exponents, NaN or infinities."""
    plain = _GROUPING.sub("", text).replace(",", ".")
    if not _TYPED.fullmatch(plain):
        raise ValueError(f"not a number: {text!r}")
    return Decimal(plain)


def exact_decimal(number: Any) -> Decimal:
    """A JSON number, Decimal or plain numeric text as the Decimal it spells: a float by its shortest repr
    (0.29, not 0.28999…), never rounded; ValueError for anything else."""
    if isinstance(number, Decimal):
        return number
    try:
        return Decimal(repr(number)) if isinstance(number, float) else Decimal(str(number))
    except InvalidOperation:
        raise ValueError(f"not a number: {number!r}") from None


def parse_money(value: Any) -> Decimal:
    """Exactly the amount given, or MoneyError: a finite number with at most two decimals, below LIMIT."""
    if isinstance(value, bool) or value is None:
        raise MoneyError("Введите сумму числом, например 1234,56")
    if isinstance(value, str):
        try:
            amount = decimal_from_text(value)
        except ValueError:
            raise MoneyError("Введите сумму числом, например 1234,56") from None
    elif isinstance(value, (int, float, Decimal)):
        amount = exact_decimal(value)
    else:
        raise MoneyError("Введите сумму числом, например 1234,56")
    if not amount.is_finite():
        raise MoneyError("Сумма должна быть конечным числом")
    if abs(amount) >= LIMIT:
        raise MoneyError("Слишком большая сумма: не больше 999 999 999 999,99 ₽")
    if amount != amount.quantize(CENT):
        raise MoneyError("Не больше двух знаков после запятой (копейки)")
    return amount.quantize(CENT)


def to_money(value: Any) -> Decimal | None:
    """A stored or received amount as Decimal to the kopeck (half up); None when blank or not a number."""
    if value is None or isinstance(value, bool) or (isinstance(value, str) and not value.strip()):
        return None
    try:
        amount = decimal_from_text(value) if isinstance(value, str) else exact_decimal(value)
    except ValueError:
        return None
    if not amount.is_finite() or abs(amount) >= LIMIT:
        return None
    return amount.quantize(CENT, ROUND_HALF_UP)


def json_amount(amount: Decimal) -> int | float:
    """An amount for a JSON number: an int for whole roubles, else the float whose repr is the amount exactly."""
    amount = amount.quantize(CENT)
    if amount == amount.to_integral_value():
        return int(amount)
    number = float(amount)
    if Decimal(repr(number)) != amount:  # cannot happen below LIMIT; refuse rather than send a rounded sum
        raise MoneyError(f"{amount} cannot travel as a JSON number exactly")
    return number
