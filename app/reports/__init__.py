"""The report builder: sources, columns, filters and groups chosen on a form; tables, charts, Excel, saved reports."""
from flask import Blueprint

bp = Blueprint("reports", __name__, url_prefix="/reports")

from app.reports import routes  # noqa: E402,F401 - the routes register on bp
