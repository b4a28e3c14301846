"""Admin: e-mail held back from orders (unverified or unknown sender) — read it, then accept or drop it."""
from __future__ import annotations

from dataclasses import dataclass
from email import policy
from email.parser import BytesParser

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.admin import bp
from app.extensions import db
from app.i18n import N_
from app.models import QuarantinedMail
from app.policy import can
from app.services.attachments import display_name
from app.services.inbound_mail import MAX_TEXT, held_count, plain_text, trim_quoted
from app.usecases.mail import accept_held, drop_held
from app.web import action, allowed

INTENTS = {"note": N_("Примечание к заказу"), "order": N_("Новый заказ")}
PREVIEW = 2000  # characters of the body shown on the page


@dataclass(frozen=True)
class HeldView:
    row: QuarantinedMail
    text: str
    files: list[str]


@bp.app_context_processor
def _quarantine_badge():
    def quarantine_count() -> int:
        return held_count() if can(current_user, "mail.quarantine") else 0

    return {"quarantine_count": quarantine_count}


def _view(row: QuarantinedMail) -> HeldView:
    message = BytesParser(policy=policy.default).parsebytes(row.raw)
    try:
        text = trim_quoted(plain_text(message))[:MAX_TEXT]
        files = [display_name(part.get_filename() or "") for part in message.iter_attachments()]
    except Exception:  # noqa: BLE001 - a message too broken to read is still listed, to be dropped
        text, files = "", []
    return HeldView(row, text[:PREVIEW], files)


@bp.get("/mail-quarantine")
@allowed("mail.quarantine")
def mail_quarantine():
    rows = db.session.execute(select(QuarantinedMail).order_by(QuarantinedMail.held_at.desc(),
                                                               QuarantinedMail.id.desc()).limit(200)).scalars()
    return render_template("admin/mail_quarantine.html", held=[_view(row) for row in rows], intents=INTENTS)


@bp.post("/mail-quarantine/<int:held_id>/accept")
@allowed("mail.quarantine")
@action
def accept_mail(held_id: int):
    inbound = accept_held(held_id, current_user._get_current_object())
    if inbound.outcome == "order_created":
        flash(_("Письмо принято: создан заказ"), "success")
    else:
        flash(_("Письмо принято: примечание добавлено к заказу"), "success")
    return redirect(url_for("admin.mail_quarantine"))


@bp.post("/mail-quarantine/<int:held_id>/drop")
@allowed("mail.quarantine")
@action
def drop_mail(held_id: int):
    drop_held(held_id, current_user._get_current_object())
    flash(_("Письмо удалено из карантина"), "success")
    return redirect(url_for("admin.mail_quarantine"))
