"""Test apps built once per distinct setting and handed out pristine to every test that asks for one.

Building an app compiles every URL rule (~0.2 s); a test gets one that is as if just built: its settings as
they were built (a test may change `app.config`), an empty instance folder, the rate-limit counters
cleared and empty tables. A test asking twice for the same settings gets two apps, as before.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from flask import Flask

from tests.support.api import truncate_all


class AppPool:
    def __init__(self, database_url: str, redis_url: str, root: Path) -> None:
        self.base = {"SQLALCHEMY_DATABASE_URI": database_url, "TESTING": True, "JOBS_INLINE": True,
                     "REDIS_URL": redis_url, "SECRET_KEY": "test-secret"}
        self.root = root
        self.idle: dict[tuple, list[tuple[Flask, dict]]] = {}
        self.lent: list[tuple[tuple, tuple[Flask, dict]]] = []
        self.built = 0

    def take(self, **overrides) -> Flask:
        from app.extensions import db, limiter

        key = tuple(sorted((name, repr(value)) for name, value in overrides.items()))
        spare = self.idle.get(key) or []
        entry = spare.pop() if spare else self._build(overrides)
        self.lent.append((key, entry))
        app, settings = entry
        app.config.clear()
        app.config.update(settings)
        folder = Path(settings["INSTANCE_PATH"])
        assert self.root in folder.parents  # only ever the pool's own folders
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        limiter.reset()  # one limiter (and one store of counters) serves every app in the process
        with app.app_context():
            truncate_all(db)
        return app

    def release(self) -> None:
        """The test is over: its apps go back to the pool, their connections closed."""
        from app.extensions import db

        for key, entry in self.lent:
            with entry[0].app_context():
                db.session.remove()
                db.engine.dispose()
            self.idle.setdefault(key, []).append(entry)
        self.lent.clear()

    def dispose(self) -> None:
        self.release()
        self.idle.clear()

    def _build(self, overrides: dict) -> tuple[Flask, dict]:
        from app import create_app

        self.built += 1
        folder = self.root / f"app{self.built}"
        app = create_app({**self.base, "INSTANCE_PATH": str(folder), "UPLOADS_DIR": str(folder / "uploads"),
                          **overrides})
        return app, dict(app.config)
