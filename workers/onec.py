"""onec.sync: exchange with 1C:Enterprise; until a 1C URL is configured it records "not configured"."""
from __future__ import annotations

from flask import current_app

from app.services import audit
from workers.registry import JobContext


def sync(ctx: JobContext) -> dict:
    if not current_app.config.get("ONEC_URL"):
        audit.record(ctx.order.id if ctx.order else None, "job", "worker", field="onec.sync",
                     new="not configured", entity="job", entity_id=ctx.job.id)
        return {"status": "not_configured", "what": ctx.params.get("what")}
    raise NotImplementedError("1C OData exchange is configured but not implemented yet")
