"""A partner's reconciliation act drawn ahead of its download (`statements.prerender`)."""
from __future__ import annotations

from datetime import date

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.models import OutboxJob
from app.services.outbox import add_job
from app.usecases.uow import unit_of_work

PRERENDER = "statements.prerender"


def prerender_statement(partner_id: int, date_from: date, date_to: date) -> None:
    """Have a worker draw the period's act now, unless one is already waiting for the same period. Only with
    background workers: where jobs run in the request (JOBS_INLINE), drawing ahead would only slow the page."""
    if current_app.config["JOBS_INLINE"]:
        return
    params = {"partner_id": partner_id, "from": date_from.isoformat(), "to": date_to.isoformat()}
    with unit_of_work():
        waiting = db.session.execute(select(OutboxJob.params).where(
            OutboxJob.operator == PRERENDER, OutboxJob.status.in_(("queued", "running")))).scalars()
        if params not in list(waiting):
            add_job(PRERENDER, params, max_attempts=1)
