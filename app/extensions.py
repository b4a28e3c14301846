"""Extensions created unbound; create_app() binds them. Also SQLite's connection set-up and its writers' queue."""
from __future__ import annotations

import fcntl
import os
import sqlite3
import threading

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import Pool

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING))
migrate = Migrate()
login_manager = LoginManager()
babel = Babel()
csrf = CSRFProtect()
# Limits only where a route asks for one (the customer status links); storage from RATELIMIT_STORAGE_URI.
limiter = Limiter(key_func=get_remote_address)

WRITE_OPTION = "bespoke_write"
BUSY_TIMEOUT_MS = 15000  # how long a writer waits for another before «database is locked»
QUEUE_FD = "bespoke_writers_fd"  # the connection's own descriptor of the writers' lock file
QUEUED = "bespoke_writers_queued"  # the connection holds the writers' lock


@event.listens_for(Engine, "connect")
def _sqlite_connect(dbapi_connection, _record) -> None:
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        # Let SQLAlchemy's "begin" hook below issue BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        # SQLite's lower() folds ASCII only: «Петров» would not find «петров» (ilike and the report builder's
        # «contains» compare lower() with lower()). Python's folds every alphabet, as PostgreSQL's does.
        dbapi_connection.create_function("lower", 1, _lower, deterministic=True)


def _lower(value):
    return value.lower() if isinstance(value, str) else value


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn) -> None:
    if conn.dialect.name == "sqlite":
        # A unit of work that will write takes SQLite's write lock up front, so two
        # writers queue on the lock instead of one failing on a stale snapshot.
        if not conn.get_execution_options().get(WRITE_OPTION):
            conn.exec_driver_sql("BEGIN")
            return
        _queue_up(conn)
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _leave_queue(conn.info)
            raise


def _queue_up(conn) -> None:
    """Wait for this database's other writers in the kernel's queue (flock on `<database>.writers`).

    SQLite's own wait for its write lock (busy_timeout) is a poll that sleeps up to 100 ms between
    tries: a writer that lets the lock go and takes it again at once (the scheduler waking timer after
    timer, an import's batches) wins every time, and the others fail with «database is locked» after
    15 s. A blocked flock is handed on the moment the holder lets go, so writers take turns. The wait is
    as long as SQLite's busy timeout at most, then fails as SQLite would.
    """
    path = conn.engine.url.database
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    fd = conn.info.get(QUEUE_FD)
    if fd is None:
        fd = conn.info[QUEUE_FD] = _open_queue(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # nobody else writing: no wait
    except BlockingIOError:
        os.close(conn.info.pop(QUEUE_FD))
        conn.info[QUEUE_FD] = _wait_in_queue(path)
    conn.info[QUEUED] = True


def _open_queue(path: str) -> int:
    return os.open(f"{path}.writers", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


def _wait_in_queue(path: str) -> int:
    """A blocking flock has no timeout: a thread waits in the queue on a descriptor of its own and hands it over
    holding the lock — or, when it gets the lock after we gave up, lets it go and closes it, so a writer stuck
    elsewhere costs this one an error, never a hang. Returns the descriptor that holds the lock."""
    got, guard, state = threading.Event(), threading.Lock(), {"abandoned": False}
    fd = _open_queue(path)

    def wait() -> None:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with guard:
            if state["abandoned"]:
                os.close(fd)  # closing the last descriptor of a lock lets it go
            else:
                got.set()

    threading.Thread(target=wait, name="sqlite-writers-queue", daemon=True).start()
    if got.wait(BUSY_TIMEOUT_MS / 1000):
        return fd
    with guard:
        if got.is_set():
            return fd
        state["abandoned"] = True
    raise OperationalError("BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked"))


def _leave_queue(info: dict) -> None:
    if info.pop(QUEUED, False):
        fcntl.flock(info[QUEUE_FD], fcntl.LOCK_UN)


@event.listens_for(Engine, "commit")
@event.listens_for(Engine, "rollback")
def _sqlite_end(conn) -> None:
    if conn.dialect.name == "sqlite":
        _leave_queue(conn.info)


@event.listens_for(Pool, "checkin")
def _sqlite_checkin(_dbapi_connection, record) -> None:
    if record is not None:
        _leave_queue(record.info)  # a connection returned without its transaction's end being seen


@event.listens_for(Pool, "close")
def _sqlite_close(_dbapi_connection, record) -> None:
    _leave_queue(record.info)
    fd = record.info.pop(QUEUE_FD, None)
    if fd is not None:
        os.close(fd)


def plain(statement, params: dict | None = None):
    """Run a statement of plain rows (no ORM objects in or out) on the session's connection: what
    `db.session.execute` does for it — the autoflush first, unless the session holds it off — without the ORM's
    handling of the statement and its result, which costs more than a short query on a hot path (a completion)."""
    session = db.session()
    if session.autoflush:
        session.flush()
    return session.connection().execute(statement, params)


def begin_write() -> None:
    """Open the session's transaction as a writer (must come before any query)."""
    if not db.session().in_transaction():
        db.session.connection(execution_options={WRITE_OPTION: True})
