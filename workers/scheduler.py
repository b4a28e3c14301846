"""The scheduler process: wakes due timers, relays due outbox jobs, and otherwise sleeps.

It sleeps until the earliest due moment (an indexed MIN over instance timers and waiting jobs) and
is woken early through Redis pub/sub whenever a step sets a nearer timer or a job is put off for a
retry. Each round touches only what is due, so its cost follows the due timers, not the orders.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy import func, select

from app.errors import BespokeError
from app.extensions import begin_write, db
from app.models import ProcessInstance
from app.services.outbox import wake_channel
from app.usecases.process import due_instances, wake_instance
from app.usecases.uow import _commit as commit  # the scheduler's commits move to unit_of_work with app.usecases.timers
from app.usecases.uow import discard as rollback
from workers.lease import heartbeat_seconds
from workers.queue import get_queue
from workers.relay import Relay, next_due

log = logging.getLogger(__name__)
REDIS_CHECK_SECONDS = 2.0  # how often a sleeping scheduler asks whether Redis was restarted under it


def wake_timers(now: datetime | None = None, limit: int = 200, on_wake=None) -> int:
    """Wake exactly the instances whose earliest timer is due; one unit of work each.

    `on_wake(instance_id, due_at, woken_at)` is told about each (the benchmark measures lateness with it).
    """
    now = now or datetime.now(timezone.utc)
    woken = 0
    due = due_instances(now, limit)
    rollback()
    for instance_id, due_at in due:
        begin_write()
        try:
            if wake_instance(instance_id, now):
                woken += 1
                if on_wake is not None:
                    on_wake(instance_id, due_at, datetime.now(timezone.utc))
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


def next_timer() -> datetime | None:
    found = db.session.execute(select(func.min(ProcessInstance.next_timer_at))).scalar()
    db.session.rollback()
    return found


class Scheduler:
    """One scheduler per deployment; `run_once` is a round, `serve` the process's loop."""

    def __init__(self, max_sleep: float = 30.0, batch: int = 200, on_wake=None) -> None:
        self.max_sleep = max_sleep
        self.batch = batch
        self.on_wake = on_wake
        self.rounds = 0
        self.next_poll: datetime | None = None  # when to ask 1C for payments next
        self.relay = Relay()
        self.redis_away = False  # the last round could not reach Redis

    def poll_payments(self, now: datetime) -> dict | None:
        """Every ONEC_POLL_SECONDS, ask 1C for payments of the orders waiting at the payment task."""
        if not current_app.config.get("ONEC_URL") or (self.next_poll and now < self.next_poll):
            return None
        from workers.onec import pull_payments

        self.next_poll = now + timedelta(seconds=float(current_app.config["ONEC_POLL_SECONDS"]))
        return pull_payments()

    def run_once(self, now: datetime | None = None) -> dict:
        now = now or datetime.now(timezone.utc)
        woken = wake_timers(now, self.batch, self.on_wake)
        try:
            relayed = self.relay.run(now)
            if self.redis_away:
                log.warning("Redis is back: the relay goes on")
            self.redis_away = False
        except RedisError as exc:
            if not self.redis_away:
                log.warning("relay waits for Redis: %s", exc)
            rollback()
            relayed, self.redis_away = 0, True
        payments = self.poll_payments(now)
        self.rounds += 1
        return {"woken": woken, "relayed": relayed, "payments": payments}

    def sleep_seconds(self, now: datetime | None = None) -> float:
        now = now or datetime.now(timezone.utc)
        # A job claimed after this round does not wake us, and its worker may die at once: looking again
        # within one heartbeat hands its job out again within seconds of its lease running out.
        longest = min(self.max_sleep, heartbeat_seconds())
        due = [d for d in (next_timer(), next_due(), self.next_poll) if d is not None]
        if not due:
            return longest
        return max(0.0, min(longest, (min(due) - now).total_seconds()))

    def _sleep(self, pubsub, pause: float) -> None:
        """Until the first wake-up message or the end of the pause — or a new Redis server: the pubsub
        connection reconnects by itself, and the jobs the old server held must be checked at once."""
        deadline = time.monotonic() + pause
        while (left := deadline - time.monotonic()) > 0:
            if pubsub.get_message(timeout=min(left, REDIS_CHECK_SECONDS)) is not None:
                while pubsub.get_message(timeout=0) is not None:
                    pass  # several steps may have woken us at once
                return
            if self.relay.redis_changed():
                return

    def serve(self, should_stop=lambda: False) -> None:
        pubsub = None
        while not should_stop():
            try:
                stats = self.run_once()
                # More may be due now: a full batch of timers, or the check of queued jobs after a Redis restart.
                busy = stats["woken"] >= self.batch or self.relay.sweeping
                pause = 0.0 if busy else self.sleep_seconds()
                if self.redis_away:
                    pause = max(pause, 1.0)  # jobs due for the relay wait for Redis: no busy loop meanwhile
            except Exception:  # noqa: BLE001 - the database restarting must not end the scheduler
                log.exception("scheduler round failed; trying again in a second")
                rollback()
                time.sleep(1.0)
                continue
            if pause <= 0:
                continue
            try:
                if pubsub is None:
                    pubsub = get_queue().connection.pubsub(ignore_subscribe_messages=True)
                    pubsub.subscribe(wake_channel())
                self._sleep(pubsub, pause)
            except RedisError:
                pubsub = None
                time.sleep(min(pause, 1.0))  # without Redis, poll the database every second
