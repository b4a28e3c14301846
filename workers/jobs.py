"""The rq entry point: `workers.jobs.run` is the name the app enqueues; the run itself is a use case."""
from __future__ import annotations

from typing import Callable, TypeVar

from flask import Flask, has_app_context

from app.usecases.jobs import execute_job

T = TypeVar("T")
_app: Flask | None = None


def run(job_id: int) -> str:
    """rq job: takes an id, runs inside the worker's app (or one created once per process)."""
    return in_app(execute_job, job_id)


def in_app(fn: Callable[..., T], *args) -> T:
    """Call `fn` inside the worker's app context, or inside an app created once per process."""
    if has_app_context():
        return fn(*args)
    global _app
    if _app is None:
        from app import create_app

        _app = create_app()
    with _app.app_context():
        return fn(*args)
