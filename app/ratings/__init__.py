"""Employee ratings by KPI: the table per role for a period, and the admins' form for the weights."""
from flask import Blueprint

bp = Blueprint("ratings", __name__, url_prefix="/ratings")

from app.ratings import routes  # noqa: E402,F401 - the routes register on bp
