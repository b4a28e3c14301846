"""The admins' area: incidents of background work, the wording of notifications, partners, held e-mail, users."""
from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from app.admin import mail_quarantine, partners, routes, users  # noqa: E402,F401
