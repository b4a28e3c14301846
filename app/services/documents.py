"""Printable order documents (contract, invoice, act, claim report) rendered to HTML/PDF.

The module has no Flask dependency so it can run inside an rq worker. Callers pass a
plain context (dicts, lists, ``Decimal`` and ``date`` values only)::

    {
        "company": {"name", "inn", "kpp", "ogrn", "address", "bank", "bik", "account",
                    "corr_account", "phone", "email", "director"},
        "order": {"number", "kind", "kind_label", "address", "description",
                  "created_at": date | datetime, "promised_date": date | None,
                  "price": Decimal | None, "prepayment": Decimal | None,
                  "payment_type": "cash" | "cashless" | "credit" | None,
                  "crew": str | None, "delivery_at": date | None},
        "customer": {"name", "phone", "email"},
        "components": [{"name", "quantity", "unit"}],
        "payments": [{"number", "date": date, "amount": Decimal, "method"}],   # optional
        "document": {"number": str (e.g. "2026-00042-Д"), "date": date, "version": int},
        "contract": {"number", "date": date | None},                           # optional
        "vat_rate": Decimal (e.g. Decimal("20"); 0 means "Без НДС"),
        "installation": {"report": str, "accepted": bool, "date": date | None},  # act, optional
        "claim": {"text", "resolution", "resolution_comment", "discount_amount": Decimal | None,
                  "filed_at": date | None, "resolved_at": date | None,
                  "revisit_report": str | None},                             # claim_report, optional
    }

Any value may be missing or ``None``; templates print a dash instead. ``claim.resolution`` is
one of the keys of ``CLAIM_RESOLUTION_LABELS`` (unknown values are printed as given); without
``contract`` the documents refer to the contract by the order number.
Templates live in ``<repo>/templates/documents`` (``<kind>.html`` extending ``base.html``,
shared fragments in ``_macros.html``, styles in ``print.css``). Templates additionally receive
``kind``, ``title`` and ``totals`` (price, VAT, paid, balance, amount due — see ``_totals``).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from jinja2 import ChainableUndefined, Environment, FileSystemLoader, Undefined, select_autoescape
from num2words import num2words

from app.services.dates import to_date
from app.services.money import exact_decimal

TEMPLATES_DIR: Path = Path(__file__).resolve().parents[2] / "templates" / "documents"

DOCUMENT_KINDS: dict[str, str] = {
    "contract": "Договор",
    "invoice": "Счёт на оплату",
    "act": "Акт приёма-передачи",
    "claim_report": "Акт рассмотрения претензии",
}

PAYMENT_TYPE_LABELS: dict[str, str] = {
    "cash": "Наличные",
    "cashless": "Безналичный расчёт",
    "credit": "Кредит",
}

CLAIM_RESOLUTION_LABELS: dict[str, str] = {
    "revisit": "Повторный выезд бригады",
    "repeat_visit": "Повторный выезд бригады",
    "rework": "Повторный выезд бригады",
    "discount": "Скидка",
    "rejected": "Отклонена",
    "reject": "Отклонена",
    "declined": "Отклонена",
}

# The claim report words each decision differently; synonyms the form or 1C may send map to one of three.
CLAIM_RESOLUTION_KINDS: dict[str, str] = {
    "revisit": "revisit", "repeat_visit": "revisit", "rework": "revisit",
    "discount": "discount",
    "rejected": "rejected", "reject": "rejected", "declined": "rejected",
}

DASH = "—"
NBSP = "\u00a0"
KOPECK = Decimal("0.01")

_MONTHS_GENITIVE = (
    "января", "февраля", "марта", "апреля", "мая", "июня",
    "июля", "августа", "сентября", "октября", "ноября", "декабря",
)


def _is_blank(value: Any) -> bool:
    """True for None, Jinja undefined values and empty/whitespace strings."""
    if value is None or isinstance(value, Undefined):
        return True
    return isinstance(value, str) and not value.strip()


def plural_ru(n: int, one: str, few: str, many: str) -> str:
    """Pick the Russian plural form for n (1 рубль, 2 рубля, 5 рублей)."""
    n = abs(n)
    if 11 <= n % 100 <= 14:
        return many
    if n % 10 == 1:
        return one
    if 2 <= n % 10 <= 4:
        return few
    return many


def amount_in_words(amount: Decimal) -> str:
    """Spell a ruble amount in Russian: 'Сто двадцать пять тысяч четыреста рублей 50 копеек'."""
    value = exact_decimal(amount).quantize(KOPECK, rounding=ROUND_HALF_UP)
    if value < 0:
        raise ValueError("amount must not be negative")
    rubles = int(value)
    kopecks = int((value - rubles) * 100)
    words = num2words(rubles, lang="ru")
    text = (
        f"{words} {plural_ru(rubles, 'рубль', 'рубля', 'рублей')} "
        f"{kopecks:02d} {plural_ru(kopecks, 'копейка', 'копейки', 'копеек')}"
    )
    return text[:1].upper() + text[1:]


def vat_included(amount: Decimal, rate: Decimal) -> Decimal:
    """VAT contained in a gross amount: amount * rate / (100 + rate), rounded half-up to kopecks."""
    amount_d = exact_decimal(amount)
    rate_d = exact_decimal(rate)
    if rate_d == 0:
        return Decimal("0.00")
    return (amount_d * rate_d / (100 + rate_d)).quantize(KOPECK, rounding=ROUND_HALF_UP)


def format_money(value: Any, currency: bool = True) -> str:
    """Format 125400.5 as '125 400,50 ₽' (no-break space thousands separator); blank → dash."""
    if _is_blank(value):
        return DASH
    amount = exact_decimal(value).quantize(KOPECK, rounding=ROUND_HALF_UP)
    sign = "-" if amount < 0 else ""
    integer, fraction = f"{abs(amount):.2f}".split(".")
    groups: list[str] = []
    while integer:
        groups.insert(0, integer[-3:])
        integer = integer[:-3]
    text = f"{sign}{NBSP.join(groups)},{fraction}"
    return f"{text}{NBSP}₽" if currency else text


def format_ru_date(value: Any) -> str:
    """Format a date/datetime as '28 ноября 2026 г.'; blank → dash."""
    if _is_blank(value):
        return DASH
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, str):
        day = to_date(value)
        if day is None:
            return value
        value = day
    if not isinstance(value, date):
        return str(value)
    return f"{value.day} {_MONTHS_GENITIVE[value.month - 1]} {value.year}{NBSP}г."


def format_quantity(value: Any) -> str:
    """Format a quantity without trailing zeros and with a decimal comma (1.50 → '1,5')."""
    if _is_blank(value):
        return DASH
    try:
        number = exact_decimal(value)
    except ValueError:
        return str(value)
    if number == number.to_integral_value():
        return str(int(number))
    return format(number.normalize(), "f").replace(".", ",")


def _words_filter(value: Any) -> str:
    """Jinja filter wrapper around amount_in_words that tolerates blanks."""
    return DASH if _is_blank(value) else amount_in_words(exact_decimal(value))


def _dash(value: Any) -> Any:
    """Return the value, or a dash when it is None/undefined/empty."""
    return DASH if _is_blank(value) else value


def _vat_rate_label(rate: Any) -> str:
    """Render a VAT rate as '20 %' without trailing zeros."""
    return f"{format_quantity(rate)}{NBSP}%"


def _vat_filter(amount: Any, rate: Any) -> Decimal | None:
    """VAT contained in any amount a template prints (a blank amount has no VAT to show)."""
    return None if _is_blank(amount) else vat_included(exact_decimal(amount), exact_decimal(rate or 0))


def initials(name: Any) -> Any:
    """'Иванова Мария Петровна' → 'Иванова М. П.': how a signature is spelt out under the line."""
    if _is_blank(name):
        return DASH
    parts = str(name).split()
    if len(parts) < 2 or any(part.endswith(".") for part in parts[1:]):
        return str(name)
    return NBSP.join([parts[0], *(f"{part[0]}." for part in parts[1:3])])


def gender_ru(name: Any) -> str:
    """'f' or 'm' read off a Russian patronymic ('…вна' / '…вич'), '' when there is none to read."""
    words = str(name or "").lower().split()
    patronymic = words[2] if len(words) >= 3 else ""
    if patronymic.endswith(("вна", "чна", "кызы")):
        return "f"
    if patronymic.endswith(("ич", "оглы")):
        return "m"
    return ""


def named_as(name: Any) -> str:
    """The participle agreeing with the customer's gender: 'именуемая' for a '…вна', 'именуемый(ая)' if unknown."""
    return {"f": "именуемая", "m": "именуемый"}.get(gender_ru(name), "именуемый(ая)")


def _payment_method(value: Any) -> Any:
    """Russian label of a payment method code; unknown codes are printed as given."""
    return DASH if _is_blank(value) else PAYMENT_TYPE_LABELS.get(str(value), value)


env = Environment(
    loader=FileSystemLoader(str(TEMPLATES_DIR)),
    autoescape=select_autoescape(["html", "xml"], default_for_string=True, default=True),
    undefined=ChainableUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
env.filters["money"] = format_money
env.filters["ru_date"] = format_ru_date
env.filters["words"] = _words_filter
env.filters["qty"] = format_quantity
env.filters["dash"] = _dash
env.filters["vat_rate"] = _vat_rate_label
env.filters["vat"] = _vat_filter
env.filters["initials"] = initials
env.filters["named_as"] = named_as
env.filters["gender"] = gender_ru
env.filters["payment_method"] = _payment_method


def _amount(value: Any) -> Decimal | None:
    """A money value as Decimal; a missing one stays None (an unknown price is not a zero price)."""
    return None if _is_blank(value) else exact_decimal(value)


def _paid(context: dict[str, Any]) -> Decimal:
    """What the customer has paid so far: the sum of the recorded payments."""
    payments = context.get("payments") or []
    return sum((exact_decimal(p.get("amount") or 0) for p in payments), Decimal("0.00"))


def _invoice_mode(price: Decimal | None, prepayment: Decimal | None, paid: Decimal) -> str:
    """What an invoice asks for: the prepayment while nothing is paid, then the rest, else the whole price."""
    if prepayment is not None and prepayment > 0 and paid == 0:
        return "prepayment"
    if paid > 0 and price is not None and price > paid:
        return "balance"
    return "full"


def _minus(a: Decimal | None, b: Decimal | None) -> Decimal | None:
    """a - b where a missing b counts as zero and a missing a stays unknown."""
    return None if a is None else a - (b or Decimal("0"))


def _totals(kind: str, context: dict[str, Any]) -> dict[str, Any]:
    """Every sum the documents print, computed once: price, VAT, prepayment, paid, discount, balance, amount due."""
    order = context.get("order") or {}
    rate = exact_decimal(context.get("vat_rate") or 0)
    price, prepayment = _amount(order.get("price")), _amount(order.get("prepayment"))
    discount = _amount((context.get("claim") or {}).get("discount_amount"))
    paid = _paid(context)
    final_price = _minus(price, discount)
    mode = _invoice_mode(price, prepayment, paid) if kind == "invoice" else "full"
    due = {"prepayment": prepayment, "balance": _minus(final_price, paid)}.get(mode, price)
    return {
        "vat_rate": rate,
        "has_vat": rate != 0,
        "price": price,
        "price_vat": None if price is None else vat_included(price, rate),
        "prepayment": prepayment,
        "remaining": _minus(price, prepayment) if prepayment is not None else None,
        "paid": paid,
        "discount": discount,
        "final_price": final_price,
        "balance": _minus(final_price, paid),
        "invoice_mode": mode,
        "prepayment_invoice": mode == "prepayment",
        "due": due,
        "due_vat": None if due is None else vat_included(due, rate),
    }


def render_html(kind: str, context: dict[str, Any]) -> str:
    """Render the document of the given kind to an HTML string."""
    if kind not in DOCUMENT_KINDS:
        raise ValueError(f"unknown document kind: {kind!r}")
    order = context.get("order") or {}
    claim = context.get("claim") or {}
    resolution = claim.get("resolution")
    data = {
        **context,
        "kind": kind,
        "title": DOCUMENT_KINDS[kind],
        "totals": _totals(kind, context),
        "payment_type_label": PAYMENT_TYPE_LABELS.get(order.get("payment_type") or "", order.get("payment_type")),
        "resolution_label": CLAIM_RESOLUTION_LABELS.get(resolution or "", resolution),
        "resolution_kind": CLAIM_RESOLUTION_KINDS.get(resolution or ""),
        "components": context.get("components") or [],
        "payments": context.get("payments") or [],
    }
    return env.get_template(f"{kind}.html").render(**data)


def render_pdf(kind: str, context: dict[str, Any]) -> bytes:
    """Render the document of the given kind to PDF bytes (WeasyPrint)."""
    from weasyprint import HTML  # imported lazily: heavy, and not needed for HTML previews

    html = render_html(kind, context)
    return HTML(string=html, base_url=str(TEMPLATES_DIR)).write_pdf()
