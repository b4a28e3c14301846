"""REST API under /api/v1: JSON in and out, bearer tokens."""
from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from app.api import (  # noqa: E402,F401
    auth,
    customer,
    dispatch,
    imports,
    incidents,
    instances,
    jobs,
    messages,
    openapi,
    orders,
    partner,
    process_settings,
    processes,
    reports,
    request_checks,
    signals,
    tasks,
)
