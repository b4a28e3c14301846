"""Saved reports over the API: the ones the token's user may open, and a report's result as typed JSON rows."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import jsonify

from app.api import bp
from app.api.auth import endpoint
from app.api.openapi import PATHS, _op, _path
from app.api.schemas import COMPONENTS, ID, STAMP, nullable, obj, ref
from app.models import SavedReport
from app.models.reports import FORMATS, SCHEDULES
from app.services import reports
from app.services.calendar import company_tz
from app.usecases import reports as saved


def report_json(report: SavedReport) -> dict:
    return {"id": report.id, "name": report.name, "owner": report.owner.login if report.owner else None,
            "source": report.definition.get("source"), "shared_roles": list(report.shared_roles or ()),
            "schedule": report.schedule, "format": report.format,
            "next_run_at": report.next_run_at.isoformat(timespec="seconds") if report.next_run_at else None}


def _cell(value: Any, kind: str) -> Any:
    """A result's value in JSON: moments in company time with the zone's offset, days as ISO dates."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=company_tz()).isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if kind == reports.COUNT and value is not None:
        return int(value)
    return value


@bp.get("/reports")
@endpoint("reports.view")
def list_reports(user):
    items = [report_json(report) for report in saved.visible(user)]
    return jsonify({"count": len(items), "items": items})


@bp.get("/reports/<int:report_id>/rows")
@endpoint("reports.view")
def report_rows(user, report_id: int):
    report = saved.find(user, report_id)
    result = reports.run(reports.parse(report.definition))
    return jsonify({"report": report_json(report), "grouped": result.grouped, "truncated": result.truncated,
                    "columns": [{"name": header, "type": kind} for header, kind in zip(result.headers, result.types,
                                                                                        strict=True)],
                    "rows": [[_cell(value, kind) for value, kind in zip(row, result.types, strict=True)]
                             for row in result.rows]})


CELL = {"type": ["string", "number", "null"],
        "description": "text or a period's label, a number, a date (YYYY-MM-DD) or a moment (ISO 8601 with offset)"}
COMPONENTS["SavedReport"] = obj({
    "id": ID, "name": {"type": "string"}, "owner": nullable({"type": "string"}),
    "source": {"enum": list(reports.SOURCES)}, "shared_roles": {"type": "array", "items": {"type": "string"}},
    "schedule": {"enum": list(SCHEDULES)}, "format": {"enum": list(FORMATS)}, "next_run_at": nullable(STAMP)})
COMPONENTS["SavedReportList"] = obj({"count": {"type": "integer", "minimum": 0},
                                     "items": {"type": "array", "items": ref("SavedReport")}})
COMPONENTS["ReportRows"] = obj({
    "report": ref("SavedReport"),
    "grouped": {"type": "boolean", "description": "one row per group, its aggregate in the last column"},
    "truncated": {"type": "boolean", "description": f"more than {reports.ROW_LIMIT} rows matched: the first ones"},
    "columns": {"type": "array", "items": obj({
        "name": {"type": "string", "description": "the header as the page shows it"},
        "type": {"enum": [reports.TEXT, reports.NUMBER, reports.DATE, reports.DATETIME, reports.COUNT,
                          reports.PERIOD]}})},
    "rows": {"type": "array", "items": {"type": "array", "items": CELL}}})
PATHS["/reports"] = {"get": _op(
    "Saved reports the caller may open: their own, those shared with one of their roles (all for the director "
    "and admins)", {200: ("the reports, by name", "SavedReportList"), 403: "staff only"}, tag="reports")}
PATHS["/reports/{report_id}/rows"] = {"get": _op(
    "A saved report built now: its columns and rows, as the report's page shows them",
    {200: ("the result", "ReportRows"), 403: "staff only",
     404: "no such report, or it is neither the caller's nor shared with their roles"},
    params=[_path("report_id", ID)], tag="reports")}
