"""`flask worker`: an rq worker that keeps one warm app — process specs, templates and the database
pool survive from job to job instead of being rebuilt in a fresh fork for every job."""
from __future__ import annotations

import logging

from flask import current_app
from redis import Redis
from rq import Queue, SimpleWorker, Worker

from app.extensions import db


class WarmWorker(SimpleWorker):
    """Runs each job in the worker process itself, inside the app context the CLI pushed."""


class ForkingWorker(Worker):
    """One fork per job (a crash or leak dies with the job); the fork must not share the parent's
    database connections, so its pool is discarded before the job runs."""

    def main_work_horse(self, *args, **kwargs):
        db.engine.dispose(close=False)
        return super().main_work_horse(*args, **kwargs)


def run_worker(*, burst: bool = False, fork: bool = False, name: str | None = None) -> bool:
    # rq blocks on BLPOP for long stretches: its connection must not carry the web's short socket timeout.
    connection = Redis.from_url(current_app.config["REDIS_URL"])
    queue = Queue(current_app.config["RQ_QUEUE"], connection=connection)
    worker_class = ForkingWorker if fork else WarmWorker
    worker = worker_class([queue], connection=connection, name=name)
    return worker.work(burst=burst, logging_level=logging.getLevelName(logging.INFO), with_scheduler=False)
