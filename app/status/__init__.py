"""The customer's status page behind the signed link in every customer message (no account needed)."""
from flask import Blueprint

bp = Blueprint("status", __name__, url_prefix="/s")

from app.status import routes  # noqa: E402,F401
