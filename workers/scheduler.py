"""The scheduler process: wakes due timers, relays due outbox jobs, and otherwise sleeps.

It sleeps until the earliest due moment (an indexed MIN over instance timers and waiting jobs) and
is woken early through Redis pub/sub whenever a step sets a nearer timer or a job is put off for a
retry. Each round touches only what is due, so its cost follows the due timers, not the orders.

Every PREDICTION_REFRESH_SECONDS it also recounts the prediction figures and re-predicts the active orders, a
slice per round until all are done, then the at-risk sweep. A slice is as many orders as take about
PREDICTION_SLICE_SECONDS (at most PREDICTION_BATCH), and the slice ends early when the next timer comes due: a due
timer waits behind one chunk of a slice (a tenth of it), not behind hundreds of orders (at 100,000 orders a 200-order
batch held the timers for seconds). Saved reports whose mailing
is due get one reports.send job each.
"""
from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from datetime import datetime, timedelta

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy import text

from app import clock
from app.extensions import db
from app.operators.lease import heartbeat_seconds
from app.operators.onec import pull_payments
from app.queue import get_queue
from app.services import prediction
from app.services.outbox import wake_channel
from app.usecases import reports as saved_reports
from app.usecases.risk import sweep
from app.usecases.timers import hand_out, next_timer, wake_timers
from app.usecases.uow import discard, unit_of_work
from workers.relay import Relay, next_due

log = logging.getLogger(__name__)
REDIS_CHECK_SECONDS = 2.0  # how often a sleeping scheduler asks whether Redis was restarted under it
PREDICTION_SLICE_SECONDS = 0.05  # a round's share of re-predicting the active orders
ANALYZE_SECONDS = 24 * 3600  # how often the query planner's figures are gathered afresh on SQLite
RECOUNT_LOOK_SECONDS = 0.1  # while the figures are recounted, how often to look for a timer come due (or set nearer)


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
        self.next_prediction: datetime | None = None  # when to recount the figures and re-predict next
        self.predicted_after: int | None = None  # a refresh under way: the last order id done so far
        self.prediction_chunk = 1  # orders re-predicted at a time, sized from the pace of the last chunk
        self.next_analyze: datetime | None = None  # when to gather SQLite's query planner figures next

    def poll_payments(self, now: datetime) -> dict | None:
        """Every ONEC_POLL_SECONDS, ask 1C for payments of the orders waiting at the payment task."""
        if not current_app.config.get("ONEC_URL") or (self.next_poll and now < self.next_poll):
            return None
        self.next_poll = now + timedelta(seconds=float(current_app.config["ONEC_POLL_SECONDS"]))
        return pull_payments()

    def refresh_predictions(self, now: datetime) -> dict | None:
        """When due, a slice of re-predicted active orders (the figures recounted before the first): chunks of
        orders until PREDICTION_SLICE_SECONDS have passed (or the next timer is due) or PREDICTION_BATCH orders are
        done; the next slice is due at once until every active order is done, and then the at-risk sweep runs."""
        if self.predicted_after is None and self.next_prediction is not None and now < self.next_prediction:
            return None
        most = int(current_app.config["PREDICTION_BATCH"])
        later = now + timedelta(seconds=float(current_app.config["PREDICTION_REFRESH_SECONDS"]))
        try:
            # A refresh starts by recounting the figures: reads only, outside the unit of work, so that on SQLite the
            # recount (seconds at 100,000 orders) holds no write lock; they are stored in the unit of work below.
            counted = self.recount() if self.predicted_after is None else None
            # The slice ends when the next timer comes due: it then waits behind one chunk, not the whole slice.
            upcoming = next_timer()
            budget = PREDICTION_SLICE_SECONDS if upcoming is None else max(
                0.0, min(PREDICTION_SLICE_SECONDS, (upcoming - clock.now()).total_seconds()))
            with unit_of_work():
                stats = prediction.store_stats(counted) if counted is not None else None
                started, done, last = time.perf_counter(), 0, self.predicted_after
                while True:
                    chunk = min(self.prediction_chunk, most - done)
                    began = time.perf_counter()
                    count, last = prediction.refresh_active(chunk, last or 0, now)
                    if count:  # the next chunk: as many orders as this one's pace fits in a tenth of the slice
                        pace = max((time.perf_counter() - began) / count, 1e-4)
                        self.prediction_chunk = max(1, int(PREDICTION_SLICE_SECONDS / 10 / pace))
                    done += count
                    if last is None or done >= most or time.perf_counter() - started >= budget:
                        break
        except Exception:  # noqa: BLE001 - a broken prediction must not hold up the timers: try again next time
            log.exception("refreshing the predictions failed; trying again in %s", later - now)
            discard()
            self.predicted_after, self.next_prediction = None, later
            return None
        self.predicted_after = last
        if last is None:
            self.next_prediction = later
        # The sweep goes over every late order: once per refresh, when the last slice is in, not after each slice.
        return {"stats": stats, "orders": done, **(sweep(now) if last is None else {})}

    def recount(self) -> list:
        """`prediction.count_stats` in a thread beside this one, which meanwhile wakes the timers that come due: at
        100,000 orders the recount reads for seconds, and the timers would wait for it."""
        app = current_app._get_current_object()  # type: ignore[attr-defined]

        def count() -> list:
            with app.app_context():
                try:
                    return prediction.count_stats()
                finally:
                    db.session.remove()

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="recount") as pool:
            counting = pool.submit(count)
            while True:
                upcoming = next_timer()
                pause = RECOUNT_LOOK_SECONDS if upcoming is None else min(
                    RECOUNT_LOOK_SECONDS, max(0.0, (upcoming - clock.now()).total_seconds()))
                try:
                    return counting.result(timeout=pause)
                except FuturesTimeout:
                    self.wake(clock.now())

    def wake(self, now: datetime) -> int:
        """The due timers: woken here, or handed out to the workers (TIMER_WAKE=workers)."""
        if current_app.config["TIMER_WAKE"] == "workers":
            return len(hand_out(now, self.batch))
        return wake_timers(now, self.batch, self.on_wake)

    def run_once(self, now: datetime | None = None) -> dict:
        now = now or clock.now()
        woken = self.wake(now)
        try:
            relayed = self.relay.run(now)
            if self.redis_away:
                log.warning("Redis is back: the relay goes on")
            self.redis_away = False
        except RedisError as exc:
            if not self.redis_away:
                log.warning("relay waits for Redis: %s", exc)
            discard()
            relayed, self.redis_away = 0, True
        payments = self.poll_payments(now)
        predictions = self.refresh_predictions(now)
        mailed = self.mail_reports(now)
        analyzed = self.analyze(now)
        self.rounds += 1
        return {"woken": woken, "relayed": relayed, "payments": payments, "predictions": predictions,
                "reports": mailed, "analyzed": analyzed}

    def analyze(self, now: datetime) -> bool:
        """SQLite: gather the query planner's figures (`ANALYZE`) when the scheduler starts and every
        ANALYZE_SECONDS. Without them, at 100,000 orders SQLite picks poor plans for the lists and analytics (the
        orders list 106 ms instead of 25, the production board 96 instead of 46, a year's rating 155 instead of 11);
        a sampled ANALYZE (analysis_limit) still got the board and the rating wrong, and the full one took 1.5 s there.
        PostgreSQL's autovacuum keeps its own."""
        if db.engine.dialect.name != "sqlite" or (self.next_analyze is not None and now < self.next_analyze):
            return False
        self.next_analyze = now + timedelta(seconds=ANALYZE_SECONDS)
        try:
            with unit_of_work():
                db.session.execute(text("ANALYZE"))
        except Exception:  # noqa: BLE001 - the figures are an optimisation: the timers must go on
            log.exception("gathering the query planner's figures failed; trying again in %s s", ANALYZE_SECONDS)
            discard()
            return False
        return True

    def mail_reports(self, now: datetime) -> int:
        """A reports.send job for each saved report whose mailing is due (an indexed look at next_run_at)."""
        try:
            return saved_reports.send_due(now)
        except Exception:  # noqa: BLE001 - a broken report must not hold up the timers: next round tries again
            log.exception("writing the due report mailings failed")
            discard()
            return 0

    def sleep_seconds(self, now: datetime | None = None) -> float:
        now = now or clock.now()
        # A job claimed after this round does not wake us, and its worker may die at once: looking again
        # within one heartbeat hands its job out again within seconds of its lease running out.
        longest = min(self.max_sleep, heartbeat_seconds())
        if self.predicted_after is not None:
            return 0.0  # a refresh of the predictions is half done
        due = [d for d in (next_timer(), next_due(), self.next_poll, self.next_prediction, saved_reports.next_due())
               if d is not None]
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
                discard()
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
