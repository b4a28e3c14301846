"""Excel workbooks the app hands out (partner statements, the dispatcher's list, every list's «Скачать Excel»): one
table per sheet with a bold, frozen, filterable header row, set column widths, and typed cells — times in the
company's zone, money as numbers with two decimals."""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Iterable

from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from app.services.calendar import company_tz

DATETIME = "DD.MM.YYYY HH:MM"
DATE = "DD.MM.YYYY"
MONEY = "#,##0.00"


@dataclass(frozen=True)
class Column:
    header: str
    width: float  # in characters, as Excel measures them
    number_format: str | None = None


def local_time(value: datetime | None) -> datetime | None:
    """A stored (aware) moment as Excel keeps times: naive, on the company's clock."""
    if value is None:
        return None
    return value.astimezone(company_tz()).replace(tzinfo=None) if value.tzinfo else value


def write_table(sheet: Worksheet, columns: list[Column], rows: Iterable[list[Any]], *, first_row: int = 1,
                autofilter: bool = True) -> int:
    """The header at `first_row` and the rows under it; returns the last row written."""
    for index, column in enumerate(columns, 1):
        cell = sheet.cell(row=first_row, column=index, value=column.header)
        cell.font = Font(bold=True)
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    last = first_row
    for last, values in enumerate(rows, first_row + 1):
        for index, (column, value) in enumerate(zip(columns, values, strict=True), 1):
            cell = sheet.cell(row=last, column=index, value=value)
            if cell.data_type == "f":  # typed text that starts with «=» (a name, a comment) stays text, never a formula
                cell.data_type = "s"
            if column.number_format and value is not None:
                cell.number_format = column.number_format
    sheet.freeze_panes = sheet.cell(row=first_row + 1, column=1)
    if autofilter:
        sheet.auto_filter.ref = f"A{first_row}:{get_column_letter(len(columns))}{last}"
    return last


def to_bytes(book) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# -- a list page's rows as a download ------------------------------------------------------------------------

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORT_MAX = 50_000  # rows in one list's workbook; past it the file says it was cut and the page should narrow


def capped(query, limit: int = EXPORT_MAX) -> tuple[list[Any], bool]:
    """Up to `limit` rows of a list's query (its filters and order as on the page: entities, or tuples when it
    selects several) and whether more matched."""
    from app.extensions import db

    result = db.session.execute(query.limit(limit + 1))
    rows = list(result.unique().all() if len(query.column_descriptions) > 1 else result.scalars().unique())
    return rows[:limit], len(rows) > limit


def list_workbook(title: str, columns: list[Column], rows: Iterable[list[Any]], *, cut: bool = False,
                  limit: int = EXPORT_MAX) -> bytes:
    """One sheet: the list's table under a frozen, filterable header; below it, when the rows were `cut` at
    `limit`, a line saying so (a workbook silently short of rows would be trusted)."""
    from flask_babel import gettext as _
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]
    last = write_table(sheet, columns, ([_excel(value) for value in row] for row in rows))
    if cut:
        sheet.cell(row=last + 2, column=1, value=_(
            "Строк больше, чем %(limit)s: выгружены только первые. Сузьте фильтры, чтобы выгрузить остальные",
            limit=f"{limit:,}".replace(",", "\u00a0"))).font = Font(bold=True, color="C00000")
    return to_bytes(book)


def _excel(value: Any) -> Any:
    """A cell's value as Excel keeps it: aware moments on the company's clock, money as a number."""
    if isinstance(value, datetime):
        return local_time(value)
    if isinstance(value, Decimal):
        return float(value)
    return value


def download(data: bytes, stem: str):
    """The workbook as an attachment named after the list and the company's today: `zakazy-20261201.xlsx`."""
    from flask import send_file

    from app.services.periods import local_today

    return send_file(io.BytesIO(data), mimetype=XLSX, as_attachment=True,
                     download_name=f"{stem}-{local_today():%Y%m%d}.xlsx")
