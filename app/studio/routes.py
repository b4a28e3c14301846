"""Studio pages: the process list and the modeler."""
from __future__ import annotations

from flask import render_template
from sqlalchemy import select

from app.extensions import db
from app.models import ProcessDefinition
from app.studio import bp
from app.usecases import versions
from app.usecases.deploy import active_version
from app.web import allowed


@bp.get("/")
@allowed("studio.view")
def index():
    """Every process with its versions: number, who deployed it, when, comment, running instances, the active one."""
    found = db.session.execute(select(ProcessDefinition).order_by(ProcessDefinition.process_id,
                                                                  ProcessDefinition.version.desc())).scalars().all()
    processes: dict[str, list] = {}
    for version in found:
        processes.setdefault(version.process_id, []).append(version)
    return render_template("studio/index.html", processes=processes,
                           running={pid: versions.running_instances(pid) for pid in processes},
                           active={pid: active_version(vs) for pid, vs in processes.items()})
