"""REST API under /api/v1: JSON in and out, bearer tokens."""
from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from app.api import auth, customer, incidents, messages, openapi, orders, partner, processes, tasks  # noqa: E402,F401
