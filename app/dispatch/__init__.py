"""Dispatch pages: the calendar of visits with the unplanned queue (calendar.py), the same visits as a list and
a Gantt of orders (views.py), the load chart (load.py), and the free jobs crews take themselves (jobs.py)."""
from flask import Blueprint

bp = Blueprint("dispatch", __name__)

from app.dispatch import calendar, jobs, load, views  # noqa: E402,F401 - the routes register on bp
