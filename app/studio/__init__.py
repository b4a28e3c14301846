"""The process studio: analysts model processes, forms and decisions; admins manage versions and instances."""
from flask import Blueprint

bp = Blueprint("studio", __name__, url_prefix="/studio")

from app.studio import routes, versions  # noqa: E402,F401
