"""reports.send: one scheduled run of a saved report, built now and e-mailed to its recipients as an attachment.

One message to every recipient, over the SMTP settings email.send uses (or to the log when SMTP_HOST is empty).
A report that no longer exists, or has no recipients left, ends the job without sending.
"""
from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

from flask import current_app

from app.extensions import db
from app.models import SavedReport
from app.operators.email import MAIL_POLICY, SmtpTransport, transport_from_config
from app.operators.registry import JobContext, OperatorError
from app.services import report_files, reports
from app.services.periods import local_today

log = logging.getLogger(__name__)


def send(ctx: JobContext) -> dict:
    report = db.session.get(SavedReport, ctx.params["report_id"])
    if report is None or not report.recipients:
        return {"sent": 0, "skipped": "deleted" if report is None else "no recipients"}
    try:
        definition = reports.parse(report.definition)
    except Exception as exc:  # noqa: BLE001 - the whitelist changed under a saved report: an admin must look
        raise OperatorError(f"Отчёт «{report.name}» больше не строится: {exc}", permanent=True) from exc
    result = reports.run(definition)
    attachment = report_files.render(report.format, report.name, result)
    message = compose(report, result, attachment, ctx.job_id)
    transport = transport_from_config()
    if not isinstance(transport, SmtpTransport):
        log.info("report %s «%s» to %s: %s rows", report.id, report.name, ", ".join(report.recipients),
                 len(result.rows))
        return {"sent": len(report.recipients), "provider": "log", "rows": len(result.rows)}
    smtp = transport._open()
    try:
        refused = smtp.send_message(message, from_addr=parseaddr(transport.mail_from)[1],
                                    to_addrs=list(report.recipients))
    except smtplib.SMTPRecipientsRefused as exc:
        raise OperatorError(f"Почтовый сервер отклонил всех получателей отчёта: {exc.recipients}",
                            permanent=True) from exc
    except smtplib.SMTPResponseException as exc:
        raise OperatorError(f"Почтовый сервер не принял отчёт: {exc.smtp_code} {exc.smtp_error!r}",
                            permanent=500 <= exc.smtp_code < 600) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise OperatorError(f"Отчёт не отправлен: {exc}") from exc
    finally:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()
    return {"sent": len(report.recipients) - len(refused), "refused": sorted(refused), "provider": "smtp",
            "rows": len(result.rows), "message_id": message["Message-ID"]}


def compose(report: SavedReport, result: reports.Result, attachment: bytes, job_id: int) -> EmailMessage:
    """The mailing of one run: the same Message-ID on every retry of the job, so a mail system that got the first
    attempt (the worker died before it recorded the send) can tell the second is the same message."""
    mail_from = current_app.config["MAIL_FROM"]
    today = local_today().strftime("%d.%m.%Y")
    name = " ".join(report.name.split())  # a header holds one line
    message = EmailMessage(policy=MAIL_POLICY)
    message["Subject"] = f"Отчёт «{name}» на {today}"
    message["From"] = mail_from
    message["To"] = ", ".join(report.recipients)
    message["Date"] = formatdate(usegmt=True)
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "localhost"
    message["Message-ID"] = f"<report-{report.id}-job-{job_id}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"
    more = " (показаны первые)" if result.truncated else ""
    message.set_content(f"Отчёт «{name}» на {today}: строк — {len(result.rows)}{more}. Файл во вложении.\n")
    maintype, subtype = report_files.MIME[report.format].split("/")
    message.add_attachment(attachment, maintype=maintype, subtype=subtype,
                           filename=f"report-{report.id}-{local_today().isoformat()}.{report.format}")
    return message
