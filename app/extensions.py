"""Extensions created unbound; create_app() binds them. Also SQLite's connection set-up and its writers' queue."""
from __future__ import annotations

import fcntl
import os

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
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
QUEUE_FD = "bespoke_writers_fd"  # the connection's own descriptor of the writers' lock file
QUEUED = "bespoke_writers_queued"  # the connection holds the writers' lock


@event.listens_for(Engine, "connect")
def _sqlite_connect(dbapi_connection, _record) -> None:
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        # Let SQLAlchemy's "begin" hook below issue BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=15000")
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
    15 s. A blocked flock is handed on the moment the holder lets go, so writers take turns.
    """
    path = conn.engine.url.database
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    fd = conn.info.get(QUEUE_FD)
    if fd is None:
        fd = conn.info[QUEUE_FD] = os.open(f"{path}.writers", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    conn.info[QUEUED] = True


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


def begin_write() -> None:
    """Open the session's transaction as a writer (must come before any query)."""
    if not db.session().in_transaction():
        db.session.connection(execution_options={WRITE_OPTION: True})
