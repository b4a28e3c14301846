"""Free jobs: the deliveries in the crews' queue, which a crew takes itself, and the crew's own booked jobs."""
from __future__ import annotations

from datetime import datetime

from flask import flash, redirect, render_template, url_for
from flask_babel import format_date, format_time
from flask_babel import gettext as _
from flask_login import current_user

from app.dispatch import bp
from app.models import Visit
from app.services import visits
from app.usecases import crews
from app.web import action, allowed


@bp.get("/jobs")
@allowed("jobs.take")
def jobs():
    user = current_user._get_current_object()
    return render_template("dispatch/jobs.html", free=crews.free_jobs(), mine=visits.upcoming(user),
                           summary=crews.components_summary, window=window, day=day)


@bp.post("/jobs/<int:visit_id>/take")
@allowed("jobs.take")
@action
def take(visit_id: int):
    visit = crews.take(visit_id, current_user._get_current_object())
    flash(_("Работа по заказу %(number)s теперь ваша: %(day)s, %(window)s, %(address)s", number=visit.order.number,
            day=day(visit.starts_at), window=window(visit), address=visit.order.address or "—"), "success")
    return redirect(url_for("dispatch.jobs"))


def day(moment: datetime) -> str:
    """«ср, 2 дек.» in the company's time zone."""
    return format_date(moment, "EEE, d MMM")


def window(visit: Visit) -> str:
    """«10:00–14:00» in the company's time zone."""
    return f"{format_time(visit.starts_at, 'HH:mm')}–{format_time(visit.ends_at, 'HH:mm')}"
