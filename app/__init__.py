"""Bespoke: the lifecycle of made-to-measure orders on BPMN."""
from __future__ import annotations

import os

from flask import Flask

from app.config import Config
from app.extensions import db, login_manager, migrate


def create_app(config: dict | None = None) -> Flask:
    """Bind extensions, register blueprints; no I/O beyond reading settings."""
    app = Flask(__name__, template_folder="../templates", static_folder="../static",
                instance_path=Config().INSTANCE_PATH)
    app.config.update(Config().as_dict())
    if config:
        app.config.update(config)
    os.makedirs(app.instance_path, exist_ok=True)  # as flaskr does: SQLite lives there

    db.init_app(app)
    migrate.init_app(app, db, directory=str(app.root_path + "/../migrations"))
    login_manager.init_app(app)

    from app import engine, errors
    from app.models import User

    @login_manager.user_loader
    def _load_user(user_id: str):
        return db.session.get(User, int(user_id))

    errors.init_app(app)
    engine.init_app(app)

    from app.api import bp as api_bp
    from app.cli import init_app as init_cli

    app.register_blueprint(api_bp)
    init_cli(app)
    return app
