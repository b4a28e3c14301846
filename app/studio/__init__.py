"""The process studio: analysts model processes, forms and decisions; admins manage versions and instances."""
from flask import Blueprint

bp = Blueprint("studio", __name__, url_prefix="/studio")

from app.studio import (  # noqa: E402,F401
    forms,
    instances,
    modeler,
    new_process,
    routes,
    settings,
    versions,
)
