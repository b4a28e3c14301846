"""A built report as a file: an Excel workbook (typed cells, frozen filterable header) or a PDF table."""
from __future__ import annotations

from datetime import date, datetime

from markupsafe import escape
from openpyxl import Workbook

from app.i18n import number
from app.services import reports
from app.services.workbooks import DATE, DATETIME, MONEY, Column, to_bytes, write_table

FORMATS = {reports.NUMBER: MONEY, reports.DATE: DATE, reports.DATETIME: DATETIME}
MIME = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "pdf": "application/pdf"}


def workbook(title: str, result: reports.Result) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = (title or "Отчёт")[:31].translate(str.maketrans("[]:*?/\\", "_______"))
    columns = [Column(header, max(12.0, min(40.0, len(header) + 4.0)), FORMATS.get(kind))
               for header, kind in zip(result.headers, result.types, strict=True)]
    write_table(sheet, columns, result.rows)
    return to_bytes(book)


def pdf(title: str, result: reports.Result) -> bytes:
    from weasyprint import HTML  # imported lazily: heavy, and only for PDF mailings

    def cell(value) -> str:
        if value is None:
            return ""
        if isinstance(value, datetime):
            return value.strftime("%d.%m.%Y %H:%M")
        if isinstance(value, date):
            return value.strftime("%d.%m.%Y")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return number(value)  # «12 000», as the page shows it, not «12000.0»
        return str(value)

    head = "".join(f"<th>{escape(h)}</th>" for h in result.headers)
    body = "".join("<tr>" + "".join(f"<td{_right(kind)}>{escape(cell(v))}</td>"
                                    for v, kind in zip(row, result.types, strict=True)) + "</tr>"
                   for row in result.rows)
    html = (f"<html><head><meta charset='utf-8'><style>body{{font-family:sans-serif;font-size:9pt}}"
            f"table{{border-collapse:collapse;width:100%}}td,th{{border:1px solid #999;padding:2px 4px}}"
            f"th{{background:#eee}}</style></head><body><h1>{escape(title)}</h1>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></body></html>")
    return HTML(string=html).write_pdf()


def _right(kind: str) -> str:
    return " style='text-align:right'" if kind in (reports.NUMBER, reports.COUNT) else ""


def render(fmt: str, title: str, result: reports.Result) -> bytes:
    return pdf(title, result) if fmt == "pdf" else workbook(title, result)
