"""Analytics: the director's figures on orders, stages, money and the flow, and the lifecycle as a heatmap."""
from flask import Blueprint

bp = Blueprint("analytics", __name__, url_prefix="/analytics")

from app.analytics import routes  # noqa: E402,F401 - the routes register on bp
