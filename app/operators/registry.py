"""Operator name → job function: the service tasks a diagram may call, and the contract they follow.

An operator is `fn(ctx: JobContext) -> dict` (a JSON-able result that becomes the service task's
result). It runs *outside* any write transaction, so a slow gateway never holds the database's
write lock: it reads through `ctx.order` / `db.session`, and writes in short units of work opened
with `with ctx.write():`. It must be idempotent per job — the same job may run again after a
crash — so it records what it did (keyed by `ctx.job_id`) before or together with its side effect
and checks that record first. A failure it understands raises `OperatorError`; `permanent=True`
(a bad API key, an invalid number) skips the remaining retries and opens an incident at once. Data a
person typed that the operator cannot work with raises `app.errors.OperatorInputError`: not retried, the
order goes back to that person when the diagram has an error boundary for it (see app/usecases/jobs.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ContextManager

from app.extensions import db
from app.models import Order
from app.usecases.uow import unit_of_work


class OperatorError(Exception):
    """A failure the operator understood, worded for the admin who will see it as an incident."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent


@dataclass
class JobContext:
    job_id: int
    operator: str
    order_id: int | None
    params: dict
    attempt: int = 1  # 1 on the first run
    new_jobs: list[int] = field(default_factory=list)

    @property
    def order(self) -> Order | None:
        return db.session.get(Order, self.order_id) if self.order_id else None

    def write(self) -> ContextManager[None]:
        """A short unit of work on a fresh snapshot: commits on success, rolls back on error; its jobs go out after."""
        return unit_of_work(fresh=True)


@dataclass(frozen=True)
class OperatorSpec:
    fn: str  # "module:function", imported on first use
    max_attempts: int = 3
    backoff_base: int = 2  # seconds; the n-th retry waits backoff_base ** n
    lease_seconds: int = 300  # a run longer than this is presumed dead and handed out again


OPERATORS: dict[str, OperatorSpec] = {
    "documents.render": OperatorSpec("app.operators.documents:render", 3, 2, 300),
    "notify": OperatorSpec("app.operators.notify:send", 5, 2, 120),
    "sms.send": OperatorSpec("app.operators.sms:send", 5, 3, 120),
    "email.send": OperatorSpec("app.operators.email:send", 5, 3, 180),
    "onec.sync": OperatorSpec("app.operators.onec:sync", 6, 4, 300),
    "http": OperatorSpec("app.operators.http:call", 4, 2, 120),  # any outside HTTP API (its timeout is ≤ 60 s)
    "sla.escalate": OperatorSpec("app.usecases.timers:escalate", 5, 2, 120),
    # The platform's own jobs, not for diagrams: moving running orders to another version (one order at a time).
    "process.migrate": OperatorSpec("app.usecases.migration:run_job", 3, 2, 600),
    # A saved report's scheduled mailing (written by the scheduler when due).
    "reports.send": OperatorSpec("app.operators.reports:send", 4, 3, 300),
    # An Excel import of orders: 500 rows per commit; then each batch's processes, one order per commit.
    "imports.orders": OperatorSpec("app.usecases.imports:run_job", 3, 2, 1800),
    "imports.start": OperatorSpec("app.usecases.imports:start_job", 5, 2, 600),
    # A partner's reconciliation act drawn into the PDF cache when its page is opened, ahead of the download.
    "statements.prerender": OperatorSpec("app.operators.statements:prerender", 1, 2, 300),
}
PLATFORM_JOBS = frozenset({"process.migrate", "reports.send", "imports.orders", "imports.start",
                           "statements.prerender"})
# Long batches, taken from the bulk queue only when nothing else waits (app.queue).
BULK_JOBS = frozenset({"process.migrate", "imports.orders", "imports.start", "statements.prerender"})
OPERATOR_NAMES = frozenset(OPERATORS) - PLATFORM_JOBS  # what a service task in a diagram may name
# Operators whose result no diagram reads: their service task completes when the job is written.
DETACHED = frozenset({"notify", "sla.escalate"})
_loaded: dict[str, Callable[[JobContext], Any]] = {}


def operator(name: str) -> Callable[[JobContext], Any]:
    fn = _loaded.get(name)
    if fn is None:
        import importlib

        module, attr = OPERATORS[name].fn.split(":")
        fn = _loaded[name] = getattr(importlib.import_module(module), attr)
    return fn
