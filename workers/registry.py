"""Operator name → job function: the service tasks a diagram may call."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from app.models import Order, OutboxJob


@dataclass
class JobContext:
    job: OutboxJob
    order: Order | None
    params: dict


def _operators() -> dict[str, Callable[[JobContext], Any]]:
    from workers import documents, notify, onec

    return {"documents.render": documents.render, "notify": notify.send, "onec.sync": onec.sync}


OPERATOR_NAMES = frozenset({"documents.render", "notify", "onec.sync"})


def operator(name: str) -> Callable[[JobContext], Any]:
    return _operators()[name]
