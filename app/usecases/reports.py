"""Saved reports: who may open and change one, saving it with its sharing and schedule, and writing the jobs of
the reports whose mailing is due."""
from __future__ import annotations

import re
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select

from app import clock
from app.errors import NotFound, ValidationError
from app.extensions import db
from app.models import OutboxJob, SavedReport, User
from app.models.reports import FORMATS, SCHEDULES
from app.policy import ADMINS, MANAGEMENT, STAFF
from app.services import reports
from app.services.outbox import add_job
from app.usecases.uow import unit_of_work

MAX_RECIPIENTS = 20
_ADDRESS = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
DUE_BATCH = 50  # reports whose mailing is written per scheduler round


def visible(user: User) -> list[SavedReport]:
    """The user's own reports, those shared with one of their roles; every report for the director and admins."""
    query = select(SavedReport).order_by(SavedReport.name, SavedReport.id)
    if user.role_codes & MANAGEMENT:
        return list(db.session.execute(query).scalars())
    return [r for r in db.session.execute(query).scalars()
            if r.owner_id == user.id or set(r.shared_roles or ()) & user.role_codes]


def may_open(user: User, report: SavedReport) -> bool:
    return (report.owner_id == user.id or bool(user.role_codes & MANAGEMENT)
            or bool(set(report.shared_roles or ()) & user.role_codes))


def may_change(user: User, report: SavedReport) -> bool:
    return report.owner_id == user.id or bool(user.role_codes & ADMINS)


def find(user: User, report_id: int) -> SavedReport:
    report = db.session.get(SavedReport, report_id)
    if report is None or not may_open(user, report):
        raise NotFound(_("Отчёт №%(id)s не найден", id=report_id))
    return report


def parse_settings(name: str, shared_roles: list[str], schedule: str, fmt: str, recipients: str
                   ) -> tuple[str, list[str], str, str, list[str]]:
    """The report's name, sharing and schedule, checked; ValidationError names each bad field."""
    errors = {}
    name = " ".join((name or "").split())  # one line: it becomes the mailing's subject
    if not name or len(name) > 200:
        errors["name"] = _("Назовите отчёт (до 200 знаков)")
    unknown = [code for code in shared_roles if code not in STAFF]
    if unknown:
        errors["shared_roles"] = _("Нет такой роли: %(codes)s", codes=", ".join(unknown)[:100])
    if schedule not in SCHEDULES:
        errors["schedule"] = _("Расписание: нет, ежедневно, еженедельно или ежемесячно")
    if fmt not in FORMATS:
        errors["format"] = _("Формат: xlsx или pdf")
    addresses = [part.strip() for part in re.split(r"[,;\s]+", recipients or "") if part.strip()]
    bad = [a for a in addresses if not _ADDRESS.match(a)]
    if bad:
        errors["recipients"] = _("Неверный адрес: %(address)s", address=bad[0][:100])
    elif len(addresses) > MAX_RECIPIENTS:
        errors["recipients"] = _("Не больше %(n)s адресов", n=MAX_RECIPIENTS)
    elif schedule != "none" and not addresses:
        errors["recipients"] = _("Кому отправлять отчёт по расписанию?")
    if errors:
        raise ValidationError(_("Отчёт не сохранён: проверьте поля"), errors)
    return name, sorted(set(shared_roles)), schedule, fmt, list(dict.fromkeys(addresses))


@unit_of_work()
def save(actor: User, definition: reports.Definition, *, name: str, shared_roles: list[str], schedule: str,
         fmt: str, recipients: str, report_id: int | None = None) -> SavedReport:
    """A new report, or new contents of one the actor may change."""
    name, shared_roles, schedule, fmt, addresses = parse_settings(name, shared_roles, schedule, fmt, recipients)
    if report_id is None:
        report = SavedReport(owner_id=actor.id)
        db.session.add(report)
    else:
        report = find(actor, report_id)
        if not may_change(actor, report):
            raise NotFound(_("Отчёт №%(id)s не найден", id=report_id))
    if report.schedule != schedule or report.next_run_at is None:
        report.next_run_at = reports.next_run(schedule, clock.now())
    report.name, report.definition, report.shared_roles = name, definition.to_json(), shared_roles
    report.schedule, report.format, report.recipients = schedule, fmt, addresses
    db.session.flush()
    return report


@unit_of_work()
def delete(actor: User, report_id: int) -> None:
    report = find(actor, report_id)
    if not may_change(actor, report):
        raise NotFound(_("Отчёт №%(id)s не найден", id=report_id))
    db.session.delete(report)


def deliveries(report: SavedReport, limit: int = 20) -> list[OutboxJob]:
    """The report's latest mailings (its reports.send jobs), newest first: the report's delivery log."""
    jobs = db.session.execute(select(OutboxJob).where(OutboxJob.operator == "reports.send")
                              .order_by(OutboxJob.id.desc()).limit(50 * limit)).scalars()
    return [job for job in jobs if (job.params or {}).get("report_id") == report.id][:limit]


def next_due() -> datetime | None:
    """The earliest scheduled mailing (the scheduler sleeps no longer than that)."""
    return db.session.execute(select(SavedReport.next_run_at).where(SavedReport.next_run_at.is_not(None))
                              .order_by(SavedReport.next_run_at).limit(1)).scalar_one_or_none()


@unit_of_work()
def send_due(now: datetime) -> int:
    """One reports.send job per report whose mailing is due, and its next moment: a missed run is sent once."""
    due = db.session.execute(select(SavedReport).where(SavedReport.next_run_at <= now,
                                                       SavedReport.schedule != "none")
                             .order_by(SavedReport.next_run_at, SavedReport.id).limit(DUE_BATCH)
                             .with_for_update()).scalars().all()
    for report in due:
        add_job("reports.send", {"report_id": report.id, "due_at": report.next_run_at.isoformat()})
        report.next_run_at = reports.next_run(report.schedule, now)
    return len(due)
