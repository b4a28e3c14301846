"""The engine adapter: the only package that imports SpiffWorkflow.

It parses and validates diagrams, runs, dumps and loads workflows and describes what a step left
waiting (tasks, service calls, timers, milestones). It knows nothing of orders, users or HTTP: the use
cases (`app/usecases/process.py`) load an instance, let the adapter run it and project the result.
"""
from __future__ import annotations

from typing import Callable, Iterable

from flask import Flask, current_app

from app.engine.runtime import ProcessEngine
from app.engine.specs import AsyncServiceTask


def engine() -> ProcessEngine:
    """The app's engine, built once by `init_app`."""
    return current_app.extensions["bespoke.engine"]


def init_app(app: Flask, functions: dict[str, Callable], detached: Iterable[str]) -> None:
    """Build the parser/serializer/script engine once and keep it in app.extensions.

    `functions` are what diagram scripts may call besides the sandbox's built-ins; `detached` names the
    operators whose result no process waits for (their service task moves on at once).
    """
    app.extensions["bespoke.engine"] = ProcessEngine(functions)
    AsyncServiceTask.detached_operators = frozenset(detached)
