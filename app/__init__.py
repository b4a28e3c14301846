"""Bespoke: the lifecycle of made-to-measure orders on BPMN."""
from __future__ import annotations

import os

from flask import Flask

from app.config import Config
from app.extensions import csrf, db, limiter, login_manager, migrate


def create_app(config: dict | None = None) -> Flask:
    """Bind extensions, register blueprints; no I/O beyond reading settings."""
    app = Flask(__name__, template_folder="../templates", static_folder="../static",
                instance_path=Config().INSTANCE_PATH)
    app.config.update(Config().as_dict())
    if config:
        app.config.update(config)
    secure = app.config.get("COOKIE_SECURE")
    app.config["SESSION_COOKIE_SECURE"] = app.config["REMEMBER_COOKIE_SECURE"] = (
        app.config["PREFERRED_URL_SCHEME"] == "https" if secure is None else bool(secure))
    os.makedirs(app.instance_path, exist_ok=True)  # as flaskr does: SQLite lives there

    from app import bounds

    bounds.init_app(app)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(app.root_path + "/../migrations"))
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "strong"
    csrf.init_app(app)
    limiter.init_app(app)

    from app import assets, engine, errors, i18n, web
    from app.models.users import signed_in_user

    @login_manager.user_loader
    def _load_user(session_id: str):
        # The id carries the password hash's tail: changing the password ends other sessions.
        user_id, _, stamp = session_id.partition(":")
        user = signed_in_user(int(user_id)) if user_id.isdigit() else None
        return user if user is not None and user.session_stamp == stamp else None

    errors.init_app(app)
    from app.operators.registry import DETACHED

    engine.init_app(app, _diagram_functions(app), DETACHED)
    i18n.init_app(app)
    assets.init_app(app)
    web.init_app(app)

    from app.admin import bp as admin_bp
    from app.analytics import bp as analytics_bp
    from app.api import bp as api_bp
    from app.auth import bp as auth_bp
    from app.boards import bp as boards_bp
    from app.cli import init_app as init_cli
    from app.dispatch import bp as dispatch_bp
    from app.inbox import bp as inbox_bp
    from app.orders import bp as orders_bp
    from app.partner import bp as partner_bp
    from app.ratings import bp as ratings_bp
    from app.reports import bp as reports_bp
    from app.runs import bp as runs_bp
    from app.status import bp as status_bp
    from app.studio import bp as studio_bp
    from app.tasks import bp as tasks_bp

    csrf.exempt(api_bp)  # the API takes bearer tokens only (app/api/auth.py), never the session cookie
    for blueprint in (api_bp, auth_bp, inbox_bp, tasks_bp, orders_bp, admin_bp, partner_bp, status_bp,
                      studio_bp, runs_bp, dispatch_bp, boards_bp, analytics_bp,
                      ratings_bp, reports_bp):
        app.register_blueprint(blueprint)

    def _incident_count() -> int:
        from app.admin.routes import incident_count

        return incident_count()

    @app.context_processor
    def _template_globals():
        from flask_babel import get_locale

        return {"current_locale": str(get_locale()), "has_endpoint": lambda name: name in app.view_functions,
                "incident_count": _incident_count}

    @app.get("/")
    @web.allowed("public")
    def home():
        from flask import redirect, url_for

        return redirect(url_for("inbox.index"))

    init_cli(app)
    return app


def _diagram_functions(app: Flask) -> dict:
    """What the lifecycle's scripts call: `sla_due(hours, fraction)` and `setting(name)`."""
    from app.services.calendar import BusinessCalendar, sla_deadline

    settings = {"FEEDBACK_TIMEOUT": app.config["FEEDBACK_TIMEOUT"]}
    config = {**app.config, "_calendar": BusinessCalendar.from_config(app.config)}

    def sla_due(hours: float, fraction: float = 1.0) -> str:
        """Deadline for `fraction` of a stage's SLA (`hours` working hours), as ISO text for a timer."""
        return sla_deadline(config, hours, fraction).isoformat()

    def setting(name: str) -> str:
        return settings[name]

    return {"sla_due": sla_due, "setting": setting}
