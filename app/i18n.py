"""Languages: Russian by default, English per user; dates, numbers and money by locale."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Callable

from babel import Locale
from babel.dates import get_date_format, get_datetime_format, get_time_format, parse_pattern
from babel.numbers import format_currency, get_decimal_symbol, get_group_symbol, get_minus_sign_symbol
from flask import Flask, g, has_request_context, request, session
from flask_babel import format_date, format_datetime, format_decimal, get_locale, get_timezone, get_translations
from flask_login import current_user
from jinja2 import pass_context
from markupsafe import Markup

from app import clock
from app.extensions import babel

LOCALES = ("ru", "en")


def N_(text: str) -> str:
    """Mark a string for the catalogue where it is defined; translate it with _() where it is shown."""
    return text


def select_locale() -> str:
    if not has_request_context():  # a worker, the scheduler, a command: the company's language
        return "ru"
    if current_user and getattr(current_user, "is_authenticated", False) and current_user.locale in LOCALES:
        return current_user.locale
    if session.get("locale") in LOCALES:
        return session["locale"]
    return "ru" if request is None else (request.accept_languages.best_match(LOCALES) or "ru")


def money(value) -> str:
    formatter = _per_request("money", money_formatter)
    return formatter(value) if formatter is not None else _money_by_babel(value)


def _money_by_babel(value) -> str:
    if value is None or value == "":
        return "—"
    return format_currency(Decimal(str(value)), "RUB", locale=str(get_locale()))


def money_formatter() -> Callable[[Any], str]:
    """`money` for a page of amounts: babel's pattern for the current locale read once, then plain string work
    for each amount to the kopeck (any other value goes through `money`) — babel per amount is ~0.2 ms."""
    locale = Locale.parse(str(get_locale()))
    pattern = locale.currency_formats["standard"]
    if pattern.grouping != (3, 3) or pattern.frac_prec != (2, 2):
        return _money_by_babel
    symbol, minus = locale.currency_symbols.get("RUB", "RUB"), get_minus_sign_symbol(locale)
    prefix, suffix = ([part.replace("¤", symbol).replace("-", minus) for part in parts]
                      for parts in (pattern.prefix, pattern.suffix))
    digits = str.maketrans({",": get_group_symbol(locale), ".": get_decimal_symbol(locale)})

    def fast(value) -> str:
        if not isinstance(value, Decimal) or value.as_tuple().exponent != -2:
            return _money_by_babel(value)
        negative = value.is_signed()
        return f"{prefix[negative]}{format(abs(value), ',.2f').translate(digits)}{suffix[negative]}"

    return fast


def number_formatter() -> Callable[[Any], str]:
    """`number` for a page of figures: the locale's decimal pattern read once, then plain string work for each
    number not below zero (anything else goes through babel) — babel per number is ~25 µs, a board has 260."""
    locale = Locale.parse(str(get_locale()))
    pattern = locale.decimal_formats[None]
    if (pattern.grouping, pattern.frac_prec, pattern.int_prec[0], pattern.scale, pattern.exp_prec,
            pattern.prefix[0], pattern.suffix[0]) != ((3, 3), (0, 3), 1, 0, None, "", ""):
        return _number_by_babel
    group, decimal = get_group_symbol(locale), get_decimal_symbol(locale)
    quantum = Decimal("0.001")

    def fast(value) -> str:
        if type(value) not in (int, float, Decimal):
            return _number_by_babel(value)
        exact = value if isinstance(value, Decimal) else Decimal(str(value))
        if not exact.is_finite() or exact.is_signed() or exact.adjusted() > 20:
            return _number_by_babel(value)
        whole, _point, fraction = f"{exact.quantize(quantum):f}".partition(".")
        fraction = fraction.rstrip("0")
        return f"{int(whole):,}".replace(",", group) + (decimal + fraction if fraction else "")

    return fast


def when_formatter() -> Callable[[Any], str]:
    """`when` for a page of moments: the locale's short date, time and joining patterns and the user's zone read
    once, then each moment formatted by them as babel's format_datetime would (it looks them up per call)."""
    locale = Locale.parse(str(get_locale()))
    zone = get_timezone()
    joined = str(get_datetime_format("short", locale=locale)).replace("'", "")
    date_pattern, time_pattern = get_date_format("short", locale=locale), get_time_format("short", locale=locale)

    def fast(value) -> str:
        if not isinstance(value, datetime):
            return when(value)
        local = (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).astimezone(zone)
        if hasattr(zone, "normalize"):  # pytz
            local = zone.normalize(local)
        return joined.replace("{0}", time_pattern.apply(local.timetz(), locale, reference_date=local.date())) \
            .replace("{1}", date_pattern.apply(local, locale))

    return fast


def when(value) -> str:
    if not value:
        return "—"
    if isinstance(value, datetime):
        formatter = _per_request("when", when_formatter)
        return formatter(value) if formatter is not None else format_datetime(value, "short")
    if isinstance(value, date):
        return format_date(value, "medium")
    return str(value)


def _per_request(name: str, make: Callable[[], Callable[[Any], str]]) -> Callable[[Any], str] | None:
    """The formatter `make` gives (money_formatter, …), made once a request for its locale and time zone: a list
    page prints a hundred moments and amounts, and babel reads the locale's patterns for each. None outside a
    request."""
    ctx = g.get("_flask_babel") if g else None
    if ctx is None:
        return None
    # what flask_babel keeps on its context once asked (force_locale swaps the locale object): cheaper than asking
    locale, zone = getattr(ctx, "babel_locale", None), getattr(ctx, "babel_tzinfo", None)
    if locale is None or zone is None:
        locale, zone = get_locale(), get_timezone()
    cached = getattr(ctx, "bespoke_formatters", None)
    if cached is None or cached[0] is not locale or cached[1] is not zone:
        cached = ctx.bespoke_formatters = (locale, zone, {})
    made: dict[str, Callable[[Any], str]] = cached[2]
    if name not in made:
        made[name] = make()
    return made[name]


def day(value) -> str:
    """A date in words, «12 декабря» (with the year when it is not this year's): predicted dates read so."""
    if not value:
        return "—"
    if isinstance(value, datetime):
        value = value.date()
    formatter = _per_request("day", day_formatter)
    if formatter is not None:
        return formatter(value)
    return format_date(value, DAY_PATTERNS[value.year == clock.now(get_timezone()).year])


DAY_PATTERNS = {True: "d MMMM", False: "d MMMM y"}  # this year's date, another year's


def day_formatter() -> Callable[[date], str]:
    """`day` for a page of dates (a list shows fifty predicted ones): the locale and the two patterns read once, as
    babel's format_date reads them per call. «This year» is the reader's (the company's zone): at 00:30 Moscow time
    on 1 January it is already the new one."""
    locale = Locale.parse(str(get_locale()))
    patterns = {this_year: parse_pattern(pattern) for this_year, pattern in DAY_PATTERNS.items()}
    year = clock.now(get_timezone()).year
    return lambda value: patterns[value.year == year].apply(value, locale)


def number(value) -> str:
    formatter = _per_request("number", number_formatter)
    return formatter(value) if formatter is not None else _number_by_babel(value)


def _number_by_babel(value) -> str:
    return "—" if value is None else format_decimal(value)


def percent(value) -> str:
    """'12,5 %' — built here because a '%' inside _() would be read as a format."""
    return f"{format_decimal(value)}\u00a0%"


def kind_label(code: str) -> str:
    """An order kind's name in the current language."""
    from app.models import ORDER_KINDS

    names = ORDER_KINDS.get(code, (code, code))
    return names[0] if str(get_locale()) == "ru" else names[1]


def _translations():
    """get_translations(), kept on the request's Babel context while its locale stays the one they were read for: a
    list page calls `_()` hundreds of times, and each lookup through flask_babel costs a few context look-ups and a
    locale name (force_locale swaps the locale object, so it gets its own)."""
    ctx = g.get("_flask_babel") if g else None
    locale = getattr(ctx, "babel_locale", None)
    cached = getattr(ctx, "bespoke_translations", None)
    if locale is not None and cached is not None and cached[0] is locale:
        return cached[1]
    translations = get_translations()
    if ctx is not None and getattr(ctx, "babel_locale", None) is not None:
        ctx.bespoke_translations = (ctx.babel_locale, translations)
    return translations


@pass_context
def template_gettext(context, message: str, **variables) -> str:
    """`_()` in templates as in Python: formatted only when given variables. Jinja's own always applies `%`,
    so a label with a literal '%' («Срок этапа подходит (75 %)») shown through `_(label)` raised a 500."""
    text = _translations().ugettext(message)
    if context.eval_ctx.autoescape:
        text = Markup(text)
    return text % variables if variables else text


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "ru")
    # Times on pages are the company's (TIMEZONE), like the times typed into its forms.
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", app.config.get("TIMEZONE") or "Europe/Moscow")
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.globals["gettext"] = template_gettext  # `_` in templates resolves to it
    app.jinja_env.filters.update(money=money, when=when, day=day, number=number)
    app.jinja_env.globals.update(percent=percent, kind_label=kind_label)
