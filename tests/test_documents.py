"""Order documents: number words, VAT, every kind rendered from a sample, and from orders walked through the process.

The walked orders go through the REST API on the real diagram; their PDFs are read back with `pdftotext -layout`
and the first pages are saved as tests/artifacts/documents-<kind>.png for people to look at.
"""

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
    initials,
    named_as,
    render_html,
    render_pdf,
    vat_included,
)
from tests.support.api import HAPPY_CASH, Api

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
    """Extract text from PDF bytes with pdftotext (-layout by default) and collapse whitespace to single spaces.

    Paragraphs are justified with automatic hyphenation, which WeasyPrint marks with U+2010 at the end of a
    line (a written hyphen, as in «приёма-передачи», is U+002D): those breaks are joined back so that the
    tests can look for whole words.
    """
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    args = ["pdftotext", *(["-layout"] if layout else []), str(path), "-"]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    out = re.sub(r"\u2010[ \t]*\n\s*", "", out)
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
        (Decimal("123456.78"), "Сто двадцать три тысячи четыреста пятьдесят шесть рублей 78 копеек"),
        (Decimal("1000"), "Одна тысяча рублей 00 копеек"),
        (Decimal("21000"), "Двадцать одна тысяча рублей 00 копеек"),
        (Decimal("2000000.02"), "Два миллиона рублей 02 копейки"),
        (Decimal("1234567.89"),
         "Один миллион двести тридцать четыре тысячи пятьсот шестьдесят семь рублей 89 копеек"),
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
    for component in SAMPLE_CONTEXT["components"]:  # the invoice lists them as the line's specification
        assert component["name"] in text
    assert "Страница 1 из" in text
    if kind == "invoice":
        # the table cell wraps, so check the line item in reading order (no -layout)
        raw = pdf_text(pdf, tmp_path, layout=False)
        assert "Оплата: изготовление и монтаж — Кухонный гарнитур, заказ № 2026-00042" in raw
        assert "Всего наименований 1, на сумму 125 400,50" in text
        assert "В том числе НДС (20 %): 20 900,08" in text
        assert "Всего к оплате: 125 400,50" in text
        assert "40702810938000000001" in text and "044525225" in text


@needs_pdftotext
def test_contract_details(tmp_path: Path) -> None:
    text = pdf_text(render_pdf("contract", sample(prepayment=Decimal("50000"))), tmp_path)
    assert "Безналичный расчёт" in text
    assert "в т.ч. НДС (20 %) — 20 900,08 ₽" in text
    assert "50 000,00 ₽ (Пятьдесят тысяч рублей 00 копеек), в т.ч. НДС (20 %) — 8 333,33 ₽" in text
    assert "75 400,50 ₽ (Семьдесят пять тысяч четыреста рублей 50 копеек)" in text  # the rest after prepayment
    assert "28 ноября 2026 г." in text
    assert "12 (двенадцать) месяцев" in text
    assert "Страница 1 из 2" in text and "Страница 2 из 2" in text  # page counter in the footer
    assert "именуемая в дальнейшем «Заказчик»" in text  # agrees with the customer's patronymic
    assert "Редакция" not in text


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
    assert "Претензий по объёму, качеству и срокам не имею." in act
    assert "мойка подключена" in act
    assert "Работы принял (Заказчик)" in act and "/ Иванова М. П. /" in act
    claim = pdf_text(render_pdf("claim_report", sample("claim_report")), tmp_path)
    assert "Скол на фасаде нижнего модуля" in claim
    assert "Скидка" in claim
    assert "3 000,00 ₽ (Три тысячи рублей 00 копеек)" in claim


def test_act_not_accepted_has_no_acceptance_statement() -> None:
    ctx = sample()
    ctx["installation"]["accepted"] = False
    html = render_html("act", ctx)
    assert "Претензий по объёму" not in html
    assert "Замечания Заказчика" in html


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


# --- names, editions, VAT, invoice and claim variants (sample context) -------------------------

def test_initials_and_gendered_wording() -> None:
    assert initials("Иванова Мария Петровна") == "Иванова\u00a0М.\u00a0П."
    assert initials("Смирнов А. В.") == "Смирнов А. В."  # already spelt out
    assert initials("ООО") == "ООО"
    assert named_as("Иванова Мария Петровна") == "именуемая"
    assert named_as("Петров Сергей Иванович") == "именуемый"
    assert named_as("Mary Smith") == "именуемый(ая)"


def test_edition_is_shown_from_version_two() -> None:
    ctx = sample()
    assert "Редакция" not in render_html("contract", ctx)
    ctx["document"]["version"] = 2
    for kind in DOCUMENT_KINDS:
        assert "Редакция 2" in render_html(kind, ctx)


@needs_pdftotext
def test_zero_vat_rate_prints_without_vat(tmp_path: Path) -> None:
    ctx = sample()
    ctx["vat_rate"] = Decimal("0")
    text = pdf_text(render_pdf("contract", ctx), tmp_path)
    assert "Без НДС" in text
    assert "НДС (" not in text


def test_invoice_after_the_prepayment_asks_for_the_rest() -> None:
    ctx = sample("invoice", prepayment=Decimal("50000"))
    ctx["payments"] = [{"number": "ПП-7", "date": date(2026, 10, 3), "amount": Decimal("50000"), "method": "cash"}]
    ctx["contract"] = {"number": "2026-00042-Д", "date": date(2026, 10, 2)}
    ctx.pop("claim")  # no discount: the rest is the price less the payment
    html = render_html("invoice", ctx)
    assert "Окончательный расчёт по договору подряда № 2026-00042-Д от 2 октября 2026" in html
    assert amount_in_words(Decimal("75400.50")) in html
    assert "Оплачено ранее" in html


def test_claim_report_wording_follows_the_resolution() -> None:
    ctx = sample("claim_report")
    ctx["claim"].update(resolution="revisit", discount_amount=None, revisit_report="Фасад заменён")
    html = render_html("claim_report", ctx)
    assert "Повторный выезд бригады" in html and "Фасад заменён" in html and "Размер скидки" not in html
    ctx["claim"].update(resolution="rejected", resolution_comment="Скол возник при эксплуатации")
    html = render_html("claim_report", ctx)
    assert "Основание отказа" in html and "Скол возник при эксплуатации" in html and "Отклонена" in html


# --- documents of orders walked through the real process ---------------------------------------

PRICE = 123456.78
PREPAYMENT = 50000.0
TERMS = {"price": PRICE, "prepayment": PREPAYMENT, "payment_type": "cashless"}
# Written out by hand, not by the code under test: the walked order's price in words.
PRICE_IN_WORDS = "Сто двадцать три тысячи четыреста пятьдесят шесть рублей 78 копеек"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def contracted_order(api: Api) -> str:
    """A kitchen order taken through design (which writes the components) to the contract and invoice."""
    number = api.create_order("kitchen")
    api.walk(number, ["new_order", "plan_measurement", "measurement"])
    api.step(number, "prepare_contract", {"contract_outcome": "to_design"})
    api.step(number, "design")
    api.step(number, "prepare_contract", TERMS)
    return number


def installed_order(api: Api) -> str:
    """The contracted order paid, produced, delivered and installed: the act is rendered at the end."""
    number = contracted_order(api)
    api.walk(number, HAPPY_CASH[4:], TERMS)
    return number


def download(api: Api, number: str, kind: str, version: int | None = None) -> bytes:
    """A stored document of the order through the API: the given version, else the latest."""
    docs = [d for d in api.order(number)["documents"] if d["kind"] == kind]
    assert docs, f"no {kind} for {number}"
    doc = max(docs, key=lambda d: d["version"]) if version is None else next(d for d in docs
                                                                            if d["version"] == version)
    response = api.get(doc["url"].removeprefix("/api/v1"))
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    return response.data


def save_artifact(pdf: bytes, kind: str, tmp_path: Path) -> Path:
    """Every page of the PDF side by side in tests/artifacts/documents-<kind>.png, for people to review."""
    from PIL import Image  # a WeasyPrint dependency

    source = tmp_path / f"{kind}.pdf"
    source.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "72", str(source), str(tmp_path / kind)], check=True)
    pages = [Image.open(page) for page in sorted(tmp_path.glob(f"{kind}-*.png"))]
    sheet = Image.new("RGB", (sum(p.width for p in pages) + 8 * (len(pages) - 1), max(p.height for p in pages)),
                      "#888888")
    x = 0
    for page in pages:
        sheet.paste(page, (x, 0))
        x += page.width + 8
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / f"documents-{kind}.png"
    sheet.save(target)
    return target


def money_text(amount: float | Decimal) -> str:
    """An amount as pdf_text shows it: '123 456,78'."""
    return format_money(Decimal(str(amount)), currency=False).replace("\u00a0", " ")


def assert_common(api: Api, number: str, text: str) -> None:
    """What every document of the order must say: who, to whom, what, for how much, and where to sign."""
    order = api.order(number)
    company = api.app.config["COMPANY"]
    assert order["customer"]["name"] in text
    assert f"ИНН {company['inn']}" in text and company["name"] in text
    assert len(order["components"]) == 3
    for component in order["components"]:
        assert component["name"] in text
    assert money_text(PRICE) in text
    assert "в т.ч. НДС (20 %)" in text
    assert amount_in_words(Decimal(str(PRICE))) in text and PRICE_IN_WORDS in text
    assert f"/ {initials(company['director'])} /".replace("\u00a0", " ") in text
    assert "М.П." in text
    assert "Страница 1 из" in text


@needs_pdftotext
def test_contract_of_a_walked_order(api: Api, tmp_path: Path) -> None:
    number = contracted_order(api)
    pdf = download(api, number, "contract")
    save_artifact(pdf, "contract", tmp_path)  # before the checks: a failing layout is worth a look too
    text = pdf_text(pdf, tmp_path)
    assert_common(api, number, text)
    assert f"ДОГОВОР ПОДРЯДА № {number}-Д" in text
    assert "Шкаф-купе в нишу" in text and "ул. Профсоюзная, д. 56, кв. 12" in text  # subject and the object
    assert "Кухонный гарнитур" in text and "Безналичный расчёт" in text
    balance = Decimal(str(PRICE)) - Decimal(str(PREPAYMENT))
    assert f"{money_text(PREPAYMENT)} ₽ ({amount_in_words(Decimal(str(PREPAYMENT)))})" in text
    assert f"{money_text(balance)} ₽ ({amount_in_words(balance)})" in text
    assert "Подрядчик" in text and "Заказчик" in text and "/ Иванова М. П. /" in text
    assert "Паспорт: серия" in text
    assert "Редакция" not in text


@needs_pdftotext
def test_invoice_of_a_walked_order(api: Api, tmp_path: Path) -> None:
    number = contracted_order(api)
    pdf = download(api, number, "invoice")
    save_artifact(pdf, "invoice", tmp_path)  # before the checks: a failing layout is worth a look too
    text = pdf_text(pdf, tmp_path)
    assert_common(api, number, text)
    company = api.app.config["COMPANY"]
    assert f"Счёт на оплату № {number}-С" in text
    for label, value in (("БИК", company["bik"]), ("Сч. №", company["corr_account"]), ("Сч. №", company["account"])):
        assert f"{label} {value}" in text  # the bank-transfer form
    assert "Банк получателя" in text and "Получатель" in text and f"КПП {company['kpp']}" in text
    assert f"Всего к оплате: {money_text(PREPAYMENT)}" in text
    assert amount_in_words(Decimal(str(PREPAYMENT))) in text
    assert f"Назначение платежа: Предоплата по договору подряда № {number}-Д" in text
    assert f"заказ № {number}" in text
    assert "Руководитель" in text and "Бухгалтер" in text


@needs_pdftotext
def test_act_after_installation(api: Api, tmp_path: Path) -> None:
    number = installed_order(api)
    pdf = download(api, number, "act")
    save_artifact(pdf, "act", tmp_path)  # before the checks: a failing layout is worth a look too
    text = pdf_text(pdf, tmp_path)
    assert_common(api, number, text)
    assert f"АКТ № {number}-А" in text and f"по договору подряда № {number}-Д" in text
    assert "Доставлено и смонтировано, мусор вывезен" in text  # the installer's report
    assert "Бригада №1 (Виктор Монтажов)" in text
    assert "Претензий по объёму, качеству и срокам не имею." in text
    assert "Работы сдал (Подрядчик)" in text and "Работы принял (Заказчик)" in text and "/ Иванова М. П. /" in text
    payment = api.order(number)["payments"][0]
    assert f"№ {payment['number']}" in text and f"Оплачено Заказчиком: {money_text(PREPAYMENT)} ₽" in text
    balance = Decimal(str(PRICE)) - Decimal(str(PREPAYMENT))
    assert f"{money_text(balance)} ₽ ({amount_in_words(balance)})" in text
    assert "Страница 1 из 1" in text  # the act fits on one page, signatures included


@needs_pdftotext
def test_claim_report_after_a_discount(api: Api, tmp_path: Path) -> None:
    number = installed_order(api)
    api.step(number, "feedback", {"claim": True})
    api.step(number, "claim_review", {"claim_resolution": "discount"})
    pdf = download(api, number, "claim_report")
    save_artifact(pdf, "claim_report", tmp_path)  # before the checks: a failing layout is worth a look too
    text = pdf_text(pdf, tmp_path)
    assert_common(api, number, text)
    assert f"АКТ № {number}-П" in text
    assert "Дверь купе заедает при открывании, скол на кромке" in text  # the claim
    assert "Решение: Скидка" in text and "Направить бригаду для регулировки" in text
    assert "5 000,00 ₽ (Пять тысяч рублей 00 копеек)" in text  # the discount
    reduced = Decimal(str(PRICE)) - Decimal("5000")
    assert f"{money_text(reduced)} ₽ ({amount_in_words(reduced)})" in text
    assert "Дата получения претензии: " in text and "Дата решения: —" not in text
    assert "С решением ознакомлена (Заказчик)" in text


@needs_pdftotext
def test_claim_report_after_a_revisit_has_the_crews_report(api: Api, tmp_path: Path) -> None:
    number = installed_order(api)
    api.step(number, "feedback", {"claim": True})
    api.step(number, "claim_review", {"claim_resolution": "revisit"})
    api.step(number, "claim_revisit")
    text = pdf_text(download(api, number, "claim_report"), tmp_path)
    assert "Решение: Повторный выезд бригады" in text
    assert "Двери отрегулированы, кромка заменена" in text  # the crew's report of the revisit
    assert "Размер скидки" not in text and "скидка в размере" not in text


@needs_pdftotext
def test_contract_after_the_credit_is_declined_is_edition_two(api: Api, tmp_path: Path) -> None:
    number = api.create_order("kitchen")
    api.walk(number, HAPPY_CASH[:4], {**TERMS, "payment_type": "credit"})
    api.step(number, "bank_decision", {"bank_declined": True})
    api.step(number, "prepare_contract", {**TERMS, "payment_type": "cash"})
    versions = sorted(d["version"] for d in api.order(number)["documents"] if d["kind"] == "contract")
    assert versions == [1, 2]
    second = pdf_text(download(api, number, "contract", 2), tmp_path)
    assert "Редакция 2" in second and "Способ оплаты: Наличные" in second
    assert "заменяет все предыдущие редакции" in second
    first = pdf_text(download(api, number, "contract", 1), tmp_path)  # the earlier edition is still there
    assert "Редакция" not in first and "Способ оплаты: Кредит" in first
    assert PRICE_IN_WORDS in first and PRICE_IN_WORDS in second
