"""The partner portal: a point of sale's or an agent's own orders, settlements and statements."""
from flask import Blueprint

bp = Blueprint("partner", __name__, url_prefix="/partner")

from app.partner import routes  # noqa: E402,F401
