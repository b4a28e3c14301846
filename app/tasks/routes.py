"""Task pages (the form renderer lands here)."""
from flask import abort
from flask_login import login_required

from app.tasks import bp


@bp.get("/tasks/<int:task_id>")
@login_required
def show(task_id: int):
    abort(404)
