"""Studio pages: the process list and the modeler."""
from __future__ import annotations

from flask import render_template
from flask_login import current_user
from sqlalchemy import func, select

from app.extensions import db
from app.models import ProcessDefinition, ProcessInstance
from app.studio import bp
from app.web import allowed


@bp.get("/")
@allowed("studio.view")
def index():
    """Every process with its versions: number, who deployed it, when, comment, running instances, the active one."""
    running = dict(db.session.execute(select(ProcessInstance.definition_id, func.count())
                                      .where(ProcessInstance.status.in_(("running", "suspended", "error")))
                                      .group_by(ProcessInstance.definition_id)).all())
    versions = db.session.execute(select(ProcessDefinition).order_by(ProcessDefinition.process_id,
                                                                     ProcessDefinition.version.desc())).scalars().all()
    processes: dict[str, list] = {}
    for version in versions:
        processes.setdefault(version.process_id, []).append(version)
    return render_template("studio/index.html", processes=processes, running=running, user=current_user)
