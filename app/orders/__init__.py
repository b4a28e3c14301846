"""The orders area of the employees' UI."""
from flask import Blueprint

bp = Blueprint("orders", __name__)

from app.orders import imports, payments, routes, status_link  # noqa: E402,F401
