"""Timer wake-ups (the scheduler process calls wake_timers in its loop)."""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from app.engine.steps import due_instance_ids, wake_instance
from app.errors import BespokeError
from app.extensions import begin_write, db
from app.models import ProcessInstance
from app.services.outbox import commit, rollback

log = logging.getLogger(__name__)


def wake_timers(now: datetime | None = None, limit: int = 200) -> int:
    """Wake exactly the instances whose earliest timer is due; one unit of work each."""
    now = now or datetime.now(timezone.utc)
    woken = 0
    ids = due_instance_ids(now, limit)
    rollback()
    for instance_id in ids:
        begin_write()
        try:
            if wake_instance(instance_id, now):
                woken += 1
            commit()
        except BespokeError as exc:
            rollback()
            _mark_error(instance_id, exc.message)
        except Exception as exc:  # noqa: BLE001 - one broken instance must not stop the others
            rollback()
            log.exception("waking instance %s failed", instance_id)
            _mark_error(instance_id, f"{type(exc).__name__}: {exc}")
    return woken


def _mark_error(instance_id: int, message: str) -> None:
    begin_write()
    instance = db.session.get(ProcessInstance, instance_id)
    instance.error = message
    instance.next_timer_at = None  # parked until someone fixes it; it must not be retried in a hot loop
    db.session.commit()
