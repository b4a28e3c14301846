"""`flask worker`: an rq worker that keeps one warm app — process specs, templates and the database
pool survive from job to job instead of being rebuilt in a fresh fork for every job — and that outlives
a Redis restart: when rq gives up on a lost connection, a new worker registers once Redis answers again."""
from __future__ import annotations

import logging
import signal
import threading

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker, Worker

from app.extensions import db
from app.queue import queue_names

log = logging.getLogger(__name__)
RECONNECT_MAX_WAIT = 5.0  # seconds between tries while Redis is away: back within seconds of its return


class WarmWorker(SimpleWorker):
    """Runs each job in the worker process itself, inside the app context the CLI pushed."""

    max_connection_wait_time = RECONNECT_MAX_WAIT  # rq's own wait while idle (its default grows to a minute)


class ForkingWorker(Worker):
    """One fork per job (a crash or leak dies with the job); the fork must not share the parent's
    database connections, so its pool is discarded before the job runs."""

    max_connection_wait_time = RECONNECT_MAX_WAIT

    def main_work_horse(self, *args, **kwargs):
        db.engine.dispose(close=False)
        return super().main_work_horse(*args, **kwargs)


def run_worker(*, burst: bool = False, fork: bool = False, name: str | None = None) -> bool:
    """Work the app's queue until stopped (SIGINT/SIGTERM) or, with `burst`, once until it is empty.

    rq quits its loop on a Redis error met outside its wait for the next job (e.g. while recording a
    finished job); the jobs themselves are safe in the outbox, so the worker waits for Redis with a
    backoff and starts over instead of exiting.
    """
    # rq blocks on BLPOP for long stretches: its connection must not carry the web's short socket timeout.
    connection = Redis.from_url(current_app.config["REDIS_URL"])
    queues = [Queue(name, connection=connection) for name in queue_names()]  # in order: the bulk one when idle
    worker_class = ForkingWorker if fork else WarmWorker
    stop = threading.Event()
    worked, wait = False, 1.0
    while True:
        worker = None
        try:
            worker = worker_class(queues, connection=connection, name=name)
            worked = worker.work(burst=burst, logging_level=logging.getLevelName(logging.INFO),
                                 with_scheduler=False) or worked
        except RedisError as exc:
            if burst:
                raise  # a one-off drain fails loudly instead of waiting for Redis
            log.warning("worker: Redis lost: %s", exc)
        if burst or worker is not None and worker._shutdown_requested_date is not None or stop.is_set():
            return worked  # the queue is drained, or SIGINT/SIGTERM asked for a (warm) shutdown
        # rq's signal handlers belong to the worker that quit; a signal now ends the wait and the process.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        _stop_listening(worker)
        log.warning("worker: starting over in %.0f s (once Redis answers)", wait)
        while not stop.wait(wait) and not _redis_answers(connection):
            wait = min(wait * 2, RECONNECT_MAX_WAIT)
        if stop.is_set():
            return worked
        wait = 1.0
        if worker is not None:
            _unregister(worker)  # a Redis that kept its data still lists the quit worker (its name may be reused)


def _redis_answers(connection: Redis) -> bool:
    try:
        return bool(connection.ping())
    except RedisError:
        return False


def _stop_listening(worker) -> None:
    """Stop the pubsub thread of a worker that quit (rq's teardown could not, Redis being away)."""
    thread = getattr(worker, "pubsub_thread", None)
    if thread is not None:
        thread.stop()
        thread.join(timeout=1)
    pubsub = getattr(worker, "pubsub", None)
    if pubsub is not None:
        pubsub.close()


def _unregister(worker) -> None:
    try:
        worker.register_death()
    except RedisError:
        pass  # gone again: its registration expires on its own
