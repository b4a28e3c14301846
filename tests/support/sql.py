"""The SQL statements a block of code ran, as the database received them (for tests that count or read them)."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import event

from app.extensions import db

COMMIT = "-- commit"


@contextmanager
def statements(app, *, with_parameters: bool = False, commits: bool = False) -> Iterator[list]:
    """Collects each statement run inside the block (with its parameters: (statement, parameters) pairs), and
    COMMIT where a commit came (`commits`)."""
    seen: list = []

    def record(_conn, _cursor, statement, parameters, _context, _many):
        seen.append((statement, parameters) if with_parameters else statement)

    def commit(_conn):
        seen.append(COMMIT)

    with app.app_context():
        engine = db.engine
    listeners = [("before_cursor_execute", record)] + [("commit", commit)] * commits
    for name, listener in listeners:
        event.listen(engine, name, listener)
    try:
        yield seen
    finally:
        for name, listener in listeners:
            event.remove(engine, name, listener)
