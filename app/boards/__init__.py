"""Department boards: work in progress, overdue and at-risk tasks, SLA compliance, components in the workshops."""
from flask import Blueprint

bp = Blueprint("boards", __name__, url_prefix="/boards")

from app.boards import routes  # noqa: E402,F401 - the routes register on bp
