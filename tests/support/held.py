"""One unit of work held open in a thread of its own while a test does something else meanwhile."""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from app.extensions import db
from app.usecases.uow import unit_of_work


@contextmanager
def held_open(app, work: Callable[[], object]) -> Iterator[None]:
    """Run `work` in a unit of work of its own thread and keep it open (its locks held, nothing committed) for the
    block; it commits when the block ends."""
    holding, release = threading.Event(), threading.Event()

    def run() -> None:
        with app.app_context():
            with unit_of_work():
                work()
                holding.set()
                release.wait(30)
            db.session.remove()

    thread = threading.Thread(target=run)
    thread.start()
    assert holding.wait(30)
    try:
        yield
    finally:
        release.set()
        thread.join(30)
