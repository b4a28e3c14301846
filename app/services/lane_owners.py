"""spiff-arena's lane owners: the people a process names for a lane's tasks.

A spiff-arena process sets `lane_owners = {"Lane name": ["login1", "login2"]}` in a script before the lane's tasks;
those people become the task's candidates (`TaskCandidate`): they see it in their queue and may take and complete
it, nobody else of the lane's role may (admins still can, `app.policy`). One owner gets the task assigned. Logins
nobody has are ignored and noted in the task's history. Stages only; the caller's unit of work commits.
"""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import NewTask, TaskCandidate, User
from app.services import audit

LANE_OWNERS = "lane_owners"  # the task data variable spiff-arena's processes set


def named_logins(data: dict, lane: str | None) -> list[str]:
    """The logins `lane_owners` in the task's data names for its lane, in the order given, without repeats."""
    owners = (data or {}).get(LANE_OWNERS)
    if not lane or not isinstance(owners, dict):
        return []
    logins = owners.get(lane)
    if isinstance(logins, str):
        logins = [logins]
    if not isinstance(logins, list):
        return []
    return list(dict.fromkeys(str(login).strip() for login in logins if str(login).strip()))


def known_users(logins: list[str]) -> dict[str, int]:
    """login → user id of the active accounts among `logins`."""
    if not logins:
        return {}
    rows = db.session.execute(select(User.login, User.id).where(User.login.in_(logins), User.active.is_(True)))
    return {login: user_id for login, user_id in rows}


def name_candidates(task: NewTask, logins: list[str], known: dict[str, int], actor) -> None:
    """Record the task's candidates (the known logins) and, in its history, who was named and who is unknown."""
    for login in logins:
        if login in known:
            db.session.add(TaskCandidate(human_task_id=task.id, user_id=known[login]))
    unknown = [login for login in logins if login not in known]
    named = ", ".join(login for login in logins if login in known)
    audit.record(task.order_id, "task", actor, field="candidates", new=named,
                 entity="task", entity_id=task.id, instance_id=task.instance_id,
                 details={"lane": task.lane_name, "owners": logins, "unknown": unknown})
