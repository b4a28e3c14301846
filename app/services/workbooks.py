"""Excel workbooks the app hands out (partner statements, the dispatcher's list): one table per sheet with a
bold, frozen, filterable header row, set column widths, and typed cells — times in the company's zone."""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
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
