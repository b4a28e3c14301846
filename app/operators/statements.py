"""statements.prerender: draw a partner's reconciliation act (PDF) ahead of its download.

Written when the partner opens the statement page; the worker draws the act of that period into the PDF cache
(`app.services.settlements.pdf_cache`), so «Акт сверки (PDF)» a moment later answers from the cache instead of
laying out hundreds of rows while the partner waits. An act already drawn for the same content is not drawn again.
"""
from __future__ import annotations

from datetime import date

from flask import current_app

from app.extensions import db
from app.models import Partner
from app.operators.registry import JobContext
from app.services.calendar import company_tz
from app.services.settlements import statement, statement_pdf


def prerender(ctx: JobContext) -> dict:
    partner = db.session.get(Partner, ctx.params["partner_id"])
    if partner is None:
        return {"skipped": "deleted"}
    st = statement(partner, date.fromisoformat(ctx.params["from"]), date.fromisoformat(ctx.params["to"]),
                   tz=company_tz())
    return {"orders": len(st.rows), "bytes": len(statement_pdf(st, current_app.config["COMPANY"]))}
