"""flaskr-style fixtures on real services: SQLite by default, PostgreSQL with BESPOKE_TEST_DB=postgresql."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.api import Api, seed
from tests.support.apps import AppPool
from tests.support.services import PostgresServer, RedisServer

ROOT = Path(__file__).resolve().parent.parent
BACKEND = os.environ.get("BESPOKE_TEST_DB", "sqlite")


@pytest.fixture(autouse=True)
def clock():
    """The app's clock: a test moves it (`clock.advance(hours=5)`) instead of sleeping; real time again after."""
    from app.clock import clock

    yield clock
    clock.reset()


@pytest.fixture(scope="session")
def redis_server():
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    if BACKEND == "postgresql":
        try:
            server = PostgresServer()
        except (FileNotFoundError, OSError) as exc:
            if os.environ.get("CI", "").lower() == "true":
                raise
            pytest.skip(f"PostgreSQL not available here: {exc}")
        yield server.create_database("bespoke_test")
        server.stop()
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


@pytest.fixture(scope="session")
def _schema(database_url):
    from app import create_app
    from app.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "TESTING": True})
    with app.app_context():
        db.drop_all()
        db.create_all()
        db.session.remove()
        db.engine.dispose()
    return database_url


@pytest.fixture(scope="session")
def _apps(_schema, redis_server, tmp_path_factory):
    """Apps built once per distinct setting and handed out pristine to each test (building one compiles every
    URL rule: ~0.2 s a test otherwise)."""
    apps = AppPool(_schema, redis_server.url, tmp_path_factory.mktemp("apps"))
    yield apps
    apps.dispose()


@pytest.fixture
def app(_apps):
    app = _apps.take(SLA_HOUR_SECONDS=3600.0)
    yield app
    _apps.release()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make_app(_apps):
    """An app with extra settings (short timers …), seeded like `api`."""

    def factory(**overrides):
        app = _apps.take(**overrides)
        seed(app)
        return app

    yield factory
    _apps.release()


@pytest.fixture
def api(app, client):
    seed(app)
    return Api(app, client)


@pytest.fixture
def smtp(tmp_path):
    """A local SMTP server that keeps what it is sent (reports' mailings)."""
    from tests.support.smtp_server import CapturingSMTP

    server = CapturingSMTP(tmp_path).start()
    yield server
    server.stop()
