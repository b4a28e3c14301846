"""onec.sync: exchange with 1C:Enterprise; until a 1C URL is configured it records "not configured"."""
from __future__ import annotations

from flask import current_app

from app.services import audit
from workers.registry import JobContext, OperatorError


def sync(ctx: JobContext) -> dict:
    if not current_app.config.get("ONEC_URL"):
        with ctx.write():
            audit.record(ctx.order_id, "job", "worker", field="onec.sync", new="not configured", entity="job",
                         entity_id=ctx.job_id)
        return {"status": "not_configured", "what": ctx.params.get("what")}
    raise OperatorError("1C OData exchange is configured but not implemented yet", permanent=True)
