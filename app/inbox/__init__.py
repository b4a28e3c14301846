"""The employees' task inbox: my tasks and my roles' queue."""
from flask import Blueprint

bp = Blueprint("inbox", __name__)

from app.inbox import routes  # noqa: E402,F401
