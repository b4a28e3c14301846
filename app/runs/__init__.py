"""«Процессы»: deployed processes to start, the instances one may see, one instance's page."""
from flask import Blueprint

bp = Blueprint("runs", __name__)

from app.runs import routes  # noqa: E402,F401
