"""Tests for app.services.documents: number words, VAT, and PDF rendering of every document kind."""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from app.services import documents
from app.services.documents import (
    DOCUMENT_KINDS,
    amount_in_words,
    format_money,
    format_ru_date,
    render_html,
    render_pdf,
    vat_included,
)

PRICE_WORDS = "Сто двадцать пять тысяч четыреста рублей 50 копеек"

SAMPLE_CONTEXT: dict = {
    "company": {
        "name": "ООО «Мастерская Бэспок»",
        "inn": "7701234567",
        "kpp": "770101001",
        "ogrn": "1157746000000",
        "address": "125009, г. Москва, ул. Тверская, д. 7, офис 12",
        "bank": "ПАО Сбербанк, г. Москва",
        "bik": "044525225",
        "account": "40702810938000000001",
        "corr_account": "30101810400000000225",
        "phone": "+7 495 123-45-67",
        "email": "info@bespoke.example",
        "director": "Петров Пётр Петрович",
    },
    "order": {
        "number": "2026-00042",
        "kind": "kitchen",
        "kind_label": "Кухонный гарнитур",
        "address": "г. Москва, ул. Лесная, д. 5, кв. 18",
        "description": "Угловая кухня 3,2 × 1,8 м, фасады МДФ эмаль, столешница кварцевый агломерат",
        "created_at": datetime(2026, 10, 1, 12, 30),
        "promised_date": date(2026, 11, 28),
        "price": Decimal("125400.50"),
        "prepayment": None,
        "payment_type": "cashless",
    },
    "customer": {"name": "Иванова Мария Петровна", "phone": "+7 916 000-11-22", "email": "ivanova@example.ru"},
    "components": [
        {"name": "Фасад МДФ эмаль белый матовый", "quantity": 14, "unit": "шт."},
        {"name": "Столешница кварцевый агломерат", "quantity": Decimal("3.20"), "unit": "м.п."},
    ],
    "document": {"number": "2026-00042-Д", "date": date(2026, 10, 2), "version": 1},
    "vat_rate": Decimal("20"),
    "installation": {"report": "Монтаж выполнен, фасады отрегулированы, мойка подключена.", "accepted": True},
    "claim": {
        "text": "Скол на фасаде нижнего модуля слева от мойки.",
        "resolution": "discount",
        "resolution_comment": "Скол незначительный, по согласованию с заказчиком предоставлена скидка.",
        "discount_amount": Decimal("3000"),
    },
}

# WeasyPrint warns at first import when libharfbuzz-subset0 is absent; the project runs with filterwarnings=error.
pytestmark = pytest.mark.filterwarnings("ignore:HarfBuzz-Subset:DeprecationWarning")

# Outside CI a machine without poppler-utils skips these; in CI (CI=true) they must run.
needs_pdftotext = pytest.mark.skipif(shutil.which("pdftotext") is None and os.environ.get("CI") != "true",
                                     reason="pdftotext (poppler-utils) not installed")


def pdf_text(pdf: bytes, tmp_path: Path, layout: bool = True) -> str:
    """Extract text from PDF bytes with pdftotext (-layout by default) and collapse whitespace to single spaces."""
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    args = ["pdftotext", *(["-layout"] if layout else []), str(path), "-"]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return re.sub(r"\s+", " ", out.replace("\u00a0", " ").replace("\u202f", " "))


DOC_SUFFIX = {"contract": "Д", "invoice": "С", "act": "А", "claim_report": "П"}


def sample(kind: str = "contract", **order_overrides) -> dict:
    """A deep copy of the sample context for a document kind, with order fields overridden."""
    ctx = copy.deepcopy(SAMPLE_CONTEXT)
    ctx["order"].update(order_overrides)
    ctx["document"]["number"] = f"2026-00042-{DOC_SUFFIX[kind]}"
    return ctx


# --- amount_in_words -------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (Decimal("1"), "Один рубль 00 копеек"),
        (Decimal("2"), "Два рубля 00 копеек"),
        (Decimal("5"), "Пять рублей 00 копеек"),
        (Decimal("21"), "Двадцать один рубль 00 копеек"),
        (Decimal("1001.01"), "Одна тысяча один рубль 01 копейка"),
        (Decimal("125400.50"), PRICE_WORDS),
        (Decimal("11.11"), "Одиннадцать рублей 11 копеек"),
        (Decimal("3.22"), "Три рубля 22 копейки"),
        (Decimal("0"), "Ноль рублей 00 копеек"),
    ],
)
def test_amount_in_words(amount: Decimal, expected: str) -> None:
    assert amount_in_words(amount) == expected


def test_amount_in_words_rounds_half_up_to_kopecks() -> None:
    assert amount_in_words(Decimal("2.005")) == "Два рубля 01 копейка"


def test_amount_in_words_rejects_negative() -> None:
    with pytest.raises(ValueError):
        amount_in_words(Decimal("-1"))


# --- vat_included / filters -----------------------------------------------------------------

def test_vat_included() -> None:
    assert vat_included(Decimal("120.00"), Decimal("20")) == Decimal("20.00")
    assert vat_included(Decimal("125400.50"), Decimal("20")) == Decimal("20900.08")
    assert vat_included(Decimal("100.00"), Decimal("10")) == Decimal("9.09")


def test_vat_included_zero_rate() -> None:
    assert vat_included(Decimal("120.00"), Decimal("0")) == Decimal("0")


def test_money_and_date_filters() -> None:
    assert format_money(Decimal("125400.50")) == "125\u00a0400,50\u00a0₽"
    assert format_money(Decimal("7")) == "7,00\u00a0₽"
    assert format_money(Decimal("1234567.891"), currency=False) == "1\u00a0234\u00a0567,89"
    assert format_money(None) == "—"
    assert format_ru_date(date(2026, 11, 28)) == "28 ноября 2026\u00a0г."
    assert format_ru_date(datetime(2026, 1, 3, 10, 0)) == "3 января 2026\u00a0г."
    assert format_ru_date(None) == "—"
    assert documents.env.filters["words"](Decimal("1")) == "Один рубль 00 копеек"


# --- rendering -------------------------------------------------------------------------------

def test_unknown_kind_raises() -> None:
    with pytest.raises(ValueError):
        render_html("receipt", SAMPLE_CONTEXT)
    with pytest.raises(ValueError):
        render_pdf("receipt", SAMPLE_CONTEXT)


def test_kinds() -> None:
    assert set(DOCUMENT_KINDS) == {"contract", "invoice", "act", "claim_report"}


@needs_pdftotext
@pytest.mark.parametrize("kind", sorted(DOCUMENT_KINDS))
def test_pdf_contains_key_content(kind: str, tmp_path: Path) -> None:
    pdf = render_pdf(kind, sample(kind))
    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf, tmp_path)
    assert "Иванова Мария Петровна" in text
    assert "Заказ № 2026-00042" in text or "по заказу № 2026-00042" in text
    assert f"№ 2026-00042-{DOC_SUFFIX[kind]}" in text
    assert "125 400,50" in text
    assert PRICE_WORDS in text
    if kind != "invoice":  # the invoice has a single line for the order, not the component list
        for component in SAMPLE_CONTEXT["components"]:
            assert component["name"] in text
    else:
        # the table cell wraps, so check the line item in reading order (no -layout)
        raw = pdf_text(pdf, tmp_path, layout=False)
        assert "Изготовление и монтаж: Кухонный гарнитур по заказу 2026-00042" in raw
        assert "Всего наименований 1, на сумму 125 400,50" in text
        assert "В том числе НДС (20 %): 20 900,08" in text
        assert "Всего к оплате: 125 400,50" in text
        assert "40702810938000000001" in text and "044525225" in text


@needs_pdftotext
def test_contract_details(tmp_path: Path) -> None:
    text = pdf_text(render_pdf("contract", sample(prepayment=Decimal("50000"))), tmp_path)
    assert "Безналичный расчёт" in text
    assert "в т.ч. НДС 20 % — 20 900,08 ₽" in text
    assert "50 000,00 ₽ (Пятьдесят тысяч рублей 00 копеек)" in text
    assert "75 400,50 ₽" in text  # remainder after prepayment
    assert "28 ноября 2026 г." in text
    assert "12 (двенадцать) месяцев" in text
    assert "Стр. 1 из" in text  # page counter in the footer


@needs_pdftotext
def test_invoice_for_prepayment_without_vat(tmp_path: Path) -> None:
    ctx = sample("invoice", prepayment=Decimal("50000.00"), payment_type="cash")
    ctx["vat_rate"] = Decimal("0")
    pdf = render_pdf("invoice", ctx)
    text = pdf_text(pdf, tmp_path)
    assert "Предоплата по договору подряда по заказу № 2026-00042" in pdf_text(pdf, tmp_path, layout=False)
    assert "Всего к оплате: 50 000,00" in text
    assert "Пятьдесят тысяч рублей 00 копеек" in text
    assert "Без НДС" in text
    assert "В том числе НДС" not in text


@needs_pdftotext
def test_act_and_claim_details(tmp_path: Path) -> None:
    act = pdf_text(render_pdf("act", sample("act")), tmp_path)
    assert "Работы выполнены полностью и в срок. Заказчик претензий по объёму, качеству и срокам не имеет." in act
    assert "мойка подключена" in act
    claim = pdf_text(render_pdf("claim_report", sample("claim_report")), tmp_path)
    assert "Скол на фасаде нижнего модуля" in claim
    assert "Скидка" in claim
    assert "3 000,00 ₽ (Три тысячи рублей 00 копеек)" in claim


def test_act_not_accepted_has_no_acceptance_statement() -> None:
    ctx = sample()
    ctx["installation"]["accepted"] = False
    assert "претензий по объёму" not in render_html("act", ctx)


@pytest.mark.parametrize("kind", sorted(DOCUMENT_KINDS))
def test_missing_optional_values_render_cleanly(kind: str) -> None:
    ctx = sample(kind, price=None, prepayment=None, promised_date=None, payment_type=None, description=None)
    ctx["customer"]["email"] = None
    ctx["components"] = []
    ctx.pop("installation")
    ctx.pop("claim")
    html = render_html(kind, ctx)
    assert "None" not in html
    assert "Undefined" not in html
    assert "—" in html


def test_html_is_autoescaped() -> None:
    ctx = sample(description="<script>alert(1)</script>")
    html = render_html("contract", ctx)
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
