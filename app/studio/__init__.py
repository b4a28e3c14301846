"""The process studio: analysts model processes, forms and decisions; admins manage versions and instances."""
from flask import Blueprint

bp = Blueprint("studio", __name__, url_prefix="/studio")

from app.studio import routes  # noqa: E402,F401,I001
from app.studio import modeler  # noqa: E402,F401,I001
