"""Orders from an Excel workbook: the template people fill in, and reading and checking its rows.

A row becomes the intake payload the API takes (`order_service.validate_intake` checks it, so an imported order
passes the same rules as any other); kinds and channels are written by their Russian names. A refused row is
reported with its row number as Excel shows it, the column's header and the reason in Russian.
"""
from __future__ import annotations

import hashlib
import io
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from app.errors import ValidationError
from app.extensions import db
from app.models import CHANNELS, ORDER_KINDS, Order, Partner
from app.services import orders as order_service
from app.services.workbooks import Column, to_bytes, write_table

REF, KIND, CHANNEL, CUSTOMER, PHONE, EMAIL, ADDRESS, DESCRIPTION, PARTNER = (
    "номер во внешней системе", "вид", "канал", "заказчик", "телефон", "e-mail", "адрес", "описание", "партнёр")
COLUMNS = [Column(REF, 24), Column(KIND, 26), Column(CHANNEL, 18), Column(CUSTOMER, 28), Column(PHONE, 18),
           Column(EMAIL, 26), Column(ADDRESS, 40), Column(DESCRIPTION, 40), Column(PARTNER, 14)]
REQUIRED = (REF, KIND, CUSTOMER, ADDRESS)
REF_LENGTH = Order.external_ref.type.length
# validate_intake's field → the template's column
FIELD_COLUMNS = {"kind": KIND, "channel": CHANNEL, "customer": CUSTOMER, "customer.name": CUSTOMER,
                 "customer.phone": PHONE, "customer.email": EMAIL, "address": ADDRESS, "description": DESCRIPTION,
                 "partner": PARTNER}
IMPORT_CHANNEL = "import"


@dataclass
class Check:
    """What a file would give: its data rows, the payloads to place, and every refusal."""

    rows: int = 0
    accepted: list[dict] = field(default_factory=list)  # {"row", "ref", "payload"}
    errors: list[dict] = field(default_factory=list)  # {"row", "column", "message"}

    def refuse(self, row: int, column: str, message: str) -> None:
        self.errors.append({"row": row, "column": column, "message": message})


def _names(table: dict) -> dict[str, str]:
    """Every spelling a person may use for a code: its Russian and English names and the code itself."""
    names: dict[str, str] = {}
    for code, (russian, english) in table.items():
        for name in (code, russian, english):
            names[name.strip().lower()] = code
    return names


KINDS, CHANNEL_NAMES = _names(ORDER_KINDS), _names(CHANNELS)


def template() -> bytes:
    """The empty template: the columns on the first sheet, what goes in each on the second."""
    book = Workbook()
    sheet = book.active
    sheet.title = "Заказы"
    write_table(sheet, COLUMNS, [])
    help_sheet = book.create_sheet("Пояснения")
    partners = ", ".join(db.session.execute(select(Partner.code).order_by(Partner.code)).scalars()) or "—"
    explained = [
        [REF, "Обязательно. Номер заказа в вашей системе; повторный импорт того же номера ничего не создаёт."],
        [KIND, "Обязательно. Одно из: " + "; ".join(r for r, _ in ORDER_KINDS.values()) + "."],
        [CHANNEL, "Откуда пришёл заказ: " + "; ".join(r for r, _ in CHANNELS.values())
         + f". Пусто — «{CHANNELS[IMPORT_CHANNEL][0]}»."],
        [CUSTOMER, "Обязательно. Имя заказчика."],
        [PHONE, "Телефон или e-mail обязателен. Любая запись: +7 916 123-45-67, 8 (916) 123-45-67, 9161234567."],
        [EMAIL, "Адрес электронной почты заказчика, например ivanov@example.ru."],
        [ADDRESS, "Обязательно. Адрес объекта."],
        [DESCRIPTION, "Что нужно сделать, свободным текстом."],
        [PARTNER, f"Код партнёра, если заказ от партнёра. Известные коды: {partners}."],
    ]
    write_table(help_sheet, [Column("Колонка", 26), Column("Что писать", 110)], explained, autofilter=False)
    return to_bytes(book)


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a number typed into a cell: 79161234567, not 79161234567.0
    return str(value).strip()


def _heading(value) -> str:
    """A header as typed, compared loosely: case, spaces and ё/е do not matter."""
    return " ".join(_text(value).lower().replace("ё", "е").split())


def read_rows(data: bytes) -> list[tuple[int, dict[str, str]]]:
    """(Excel row number, {header: text}) for each non-empty data row; ValidationError naming `file` otherwise."""
    limit, max_rows = current_app.config["IMPORT_MAX_BYTES"], current_app.config["IMPORT_MAX_ROWS"]
    if not data:
        raise ValidationError("Выберите файл Excel", fields={"file": "пустой файл"})
    if len(data) > limit:
        raise ValidationError(f"Файл больше {limit // 2**20} МБ", fields={"file": f"не больше {limit} байт"})
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        lines = book.worksheets[0].iter_rows(values_only=True)
        header = [_heading(v) for v in next(lines, ())]
    except Exception as exc:  # noqa: BLE001 - whatever openpyxl says, the file is not a workbook we can read
        raise ValidationError("Файл не является книгой Excel (.xlsx)", fields={"file": "не книга Excel"}) from exc
    missing = [name for name in REQUIRED if _heading(name) not in header]
    if missing:
        raise ValidationError("В первой строке нет заголовков шаблона: " + ", ".join(missing),
                              fields={"file": "нет строки заголовков: " + ", ".join(missing)})
    headers = {_heading(c.header): c.header for c in COLUMNS}
    unknown = [name for name in header if name and name not in headers]
    if unknown:  # a misspelt «телефон» would drop every phone without a word
        raise ValidationError("Колонок нет в шаблоне: " + ", ".join(unknown) + ". Назовите их как в шаблоне или "
                              "удалите", fields={"file": "колонки не из шаблона: " + ", ".join(unknown)})
    known = {i: headers[name] for i, name in enumerate(header) if name in headers}
    rows, number = [], 1
    try:
        for number, values in enumerate(lines, 2):
            cells = {name: _text(values[i]) if i < len(values) else "" for i, name in known.items()}
            if not any(cells.values()):
                continue
            rows.append((number, cells))
            if len(rows) > max_rows:
                raise ValidationError(f"В файле больше {max_rows} строк: разбейте его на части",
                                      fields={"file": f"не больше {max_rows} строк"})
    except ValidationError:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged sheet: a cell openpyxl cannot read
        raise ValidationError(f"Строка {number + 1} не читается: файл повреждён",
                              fields={"file": "файл повреждён"}) from exc
    book.close()
    return rows


CHECKED_TTL = 24 * 3600  # a checked workbook waits this long for «Импортировать»


def _checked_dir() -> Path:
    return Path(current_app.config["UPLOADS_DIR"]) / "imports"


def keep_checked(data: bytes) -> str:
    """Keep a workbook that was just checked, so importing it needs no second upload; its key (the SHA-256).
    Workbooks kept longer than a day are dropped on the way."""
    folder = _checked_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.xlsx"):
        if old.stat().st_mtime < time.time() - CHECKED_TTL:
            old.unlink(missing_ok=True)
    key = hashlib.sha256(data).hexdigest()
    (folder / f"{key}.xlsx").write_bytes(data)
    return key


def checked(key: str) -> bytes:
    """The workbook kept under `key`; ValidationError naming `file` when it is gone (or the key is not one)."""
    path = _checked_dir() / f"{key}.xlsx"
    if not re.fullmatch(r"[0-9a-f]{64}", key or "") or not path.is_file():
        raise ValidationError("Проверенный файл больше не хранится: выберите его ещё раз",
                              fields={"file": "выберите файл ещё раз"})
    return path.read_bytes()


def forget_checked(key: str) -> None:
    (_checked_dir() / f"{key}.xlsx").unlink(missing_ok=True)


def _code(check: Check, row: int, column: str, text: str, names: dict[str, str], table: dict) -> str | None:
    code = names.get(text.lower())
    if code is None:
        allowed = "; ".join(r for r, _ in table.values())
        check.refuse(row, column, f"Неизвестное значение «{text}»: допустимо {allowed}")
    return code


def _imported(refs: list[str]) -> set[str | None]:
    found: set[str | None] = set()
    for start in range(0, len(refs), 1000):
        found.update(db.session.execute(select(Order.external_ref)
                                        .where(Order.external_ref.in_(refs[start:start + 1000]))).scalars())
    return found


def check_rows(rows: list[tuple[int, dict[str, str]]]) -> Check:
    """Every row checked as the intake would check it, plus the file's own rules on the external number."""
    check = Check(rows=len(rows))
    partners: dict = {}
    imported = _imported([cells.get(REF, "") for _, cells in rows if cells.get(REF)])
    seen: dict[str, int] = {}
    for number, cells in rows:
        before = len(check.errors)
        ref = cells.get(REF, "")
        if not ref:
            check.refuse(number, REF, "Укажите номер во внешней системе")
        elif len(ref) > REF_LENGTH:
            check.refuse(number, REF, f"Не длиннее {REF_LENGTH} символов")
        elif ref in seen:
            check.refuse(number, REF, f"Номер «{ref}» уже есть в файле в строке {seen[ref]}")
        elif ref in imported:
            check.refuse(number, REF, f"Заказ с номером «{ref}» уже импортирован")
        seen.setdefault(ref, number)
        kind = _code(check, number, KIND, cells.get(KIND, ""), KINDS, ORDER_KINDS)
        channel = IMPORT_CHANNEL
        if cells.get(CHANNEL):
            channel = _code(check, number, CHANNEL, cells[CHANNEL], CHANNEL_NAMES, CHANNELS) or IMPORT_CHANNEL
        payload = {"kind": kind or "", "channel": channel, "address": cells.get(ADDRESS, ""),
                   "description": cells.get(DESCRIPTION, ""), "partner": cells.get(PARTNER) or None,
                   "customer": {"name": cells.get(CUSTOMER, ""), "phone": cells.get(PHONE, ""),
                                "email": cells.get(EMAIL, "")}}
        try:
            order_service.validate_intake(payload, partners)
        except ValidationError as exc:
            for name, message in (exc.fields or {}).items():
                if name == "kind" and kind is None:
                    continue  # already said in Russian names
                check.refuse(number, FIELD_COLUMNS.get(name, name), message)
        if len(check.errors) == before:
            check.accepted.append({"row": number, "ref": ref, "payload": payload})
    return check
