"""A process's settings: which role works each lane of its diagram, and which roles may start it (audited).

Lanes are read from the active version's diagram (sub-processes' lanes too). A lane named by a role code works as
that role unless mapped; a mapped lane works as its role; any other lane («Process Initiator», or one nobody
mapped) belongs to the instance's starter (and admins). The order lifecycle's lanes are role codes and an order
starts it: neither can be changed.

When a lane's role changes, the open tasks of that process drawn in the lane move with it (`HumanTask.lane`):
- mapped to a role: the person holding the task keeps it only if they have the new role (who claimed it, or the
  starter it fell to while the lane had no role); anyone else lets go of it and it waits in the new role's queue;
- left unmapped: it goes to the instance's starter, as a new task of that lane would;
- a task whose people the process named (lane owners, `TaskCandidate`) keeps them: only its role changes.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy import update as update_rows

from app import policy
from app.engine.definitions import lane_names
from app.errors import NotFound, ValidationError
from app.extensions import db
from app.models import (
    LANE_ROLES,
    ROLES,
    HumanTask,
    ProcessDefinition,
    ProcessDraft,
    ProcessInstance,
    ProcessSettings,
    User,
)
from app.services import audit
from app.usecases.deploy import validate
from app.usecases.drafts import draft_files, draft_of
from app.usecases.process import ORDER_PROCESS, active_definition
from app.usecases.uow import unit_of_work

# Roles a lane may be mapped to and that may be allowed to start a process: the staff's (customers and partners
# have no inbox of processes).
ASSIGNABLE_ROLES = tuple(code for code in ROLES if code in policy.STAFF)


@dataclass(frozen=True)
class Lane:
    name: str  # as drawn in the diagram
    role: str | None  # the role that works it; None: the instance's starter
    how: str  # "role code" (named by one), "mapped" (the settings map it) or "starter"

    @property
    def mapped(self) -> bool:
        return self.how == "mapped"


@dataclass(frozen=True)
class Settings:
    process_id: str
    name: str
    version: int
    lanes: list[Lane]
    start_roles: list[str]

    @property
    def fixed(self) -> bool:
        """The order lifecycle: its lanes are role codes and orders start it."""
        return self.process_id == ORDER_PROCESS


def role_label(code: str) -> str:
    """A role's name in the reader's language."""
    ru, en = ROLES.get(code, (code, code))
    return en if str(get_locale()) == "en" else ru


def roles() -> list[dict]:
    """[{code, label}] of the roles a lane may go to (and a process may let start it)."""
    return [{"code": code, "label": role_label(code)} for code in ASSIGNABLE_ROLES]


def _row(process_id: str) -> ProcessSettings | None:
    return db.session.execute(select(ProcessSettings).where(ProcessSettings.process_id == process_id)
                              ).scalar_one_or_none()


def _lanes(definition: ProcessDefinition, mapping: dict[str, str]) -> list[Lane]:
    lanes = []
    for name in lane_names(definition.bpmn_xml):
        if name in mapping:
            lanes.append(Lane(name, mapping[name], "mapped"))
        elif name in LANE_ROLES:
            lanes.append(Lane(name, name, "role code"))
        else:
            lanes.append(Lane(name, None, "starter"))
    return lanes


def settings_of(process_id: str) -> Settings:
    """The process's lanes (of its active version) with the role each goes to, and who may start it.

    NotFound when the process was never deployed."""
    if not _deployed(process_id):
        raise NotFound(_("Процесс «%(process)s» не опубликован", process=process_id), process_id=process_id)
    definition = active_definition(process_id)
    row = _row(process_id)
    mapping = dict(row.lane_roles or {}) if row is not None else {}
    return Settings(process_id, definition.name or process_id, definition.version, _lanes(definition, mapping),
                    list(row.start_roles or []) if row is not None else [])


def _deployed(process_id: str) -> bool:
    return db.session.execute(select(ProcessDefinition.id).where(ProcessDefinition.process_id == process_id)
                              .limit(1)).first() is not None


def _check(current: Settings, lane_roles: dict, start_roles: list | None) -> None:
    """Refuse, naming the field, a lane the diagram does not have, an unknown role, or any change to the
    order lifecycle's lanes and starters."""
    problems: dict[str, str] = {}
    drawn = {lane.name for lane in current.lanes}
    for lane, role in lane_roles.items():
        key = f"lane_roles.{lane}"
        if lane not in drawn:
            problems[key] = _("В схеме процесса нет дорожки «%(lane)s»", lane=lane)
        elif role is not None and (not isinstance(role, str) or role not in ASSIGNABLE_ROLES):
            problems[key] = _("Неизвестная роль «%(role)s»", role=role)
        elif current.fixed and role is not None:
            problems[key] = _("Дорожки процесса заказа — коды ролей, их нельзя переназначить")
    for role in start_roles or []:
        if not isinstance(role, str) or role not in ASSIGNABLE_ROLES:
            problems["start_roles"] = _("Неизвестная роль «%(role)s»", role=role)
    if current.fixed and start_roles:
        problems["start_roles"] = _("Процесс заказа запускает создание заказа: роли для запуска ему не назначают")
    if problems:
        raise ValidationError("; ".join(f"{k}: {v}" for k, v in problems.items()), fields=problems)


@unit_of_work()
def update(process_id: str, lane_roles: dict, start_roles: list | None, actor: User) -> Settings:
    """Map lanes to roles (a lane → None unmaps it; lanes not named keep their role) and, when `start_roles` is
    given, replace who may start the process; the open tasks of a remapped lane move (see the module's rules)."""
    policy.ensure(actor, "processes.settings", process_id)
    if not isinstance(lane_roles, dict):
        raise ValidationError(_("lane_roles должен быть объектом"), fields={"lane_roles": "an object"})
    if start_roles is not None and not isinstance(start_roles, list):
        raise ValidationError(_("start_roles должен быть списком"), fields={"start_roles": "a list"})
    current = settings_of(process_id)
    _check(current, lane_roles, start_roles)
    row = _row(process_id)
    if row is None:
        row = ProcessSettings(process_id=process_id, lane_roles={}, start_roles=[])
        db.session.add(row)
    before = {lane.name: lane.role for lane in current.lanes}
    mapping = dict(row.lane_roles or {})
    for lane, role in lane_roles.items():
        if role is None:
            mapping.pop(lane, None)
        else:
            mapping[lane] = role
    if mapping != (row.lane_roles or {}):
        audit.record(None, "process", actor, field="lane_roles", old=row.lane_roles or {}, new=mapping,
                     entity="process", entity_id=process_id)
        row.lane_roles = mapping
    if start_roles is not None:
        wanted = [code for code in ASSIGNABLE_ROLES if code in set(start_roles)]
        if wanted != list(row.start_roles or []):
            audit.record(None, "process", actor, field="start_roles", old=row.start_roles or [], new=wanted,
                         entity="process", entity_id=process_id)
            row.start_roles = wanted
    row.updated_by_id = actor.id
    db.session.flush()
    after = settings_of(process_id)
    for lane in after.lanes:
        if lane.role != before.get(lane.name):
            _move_open_tasks(process_id, lane.name, lane.role or "", actor)
    _revalidate_draft(process_id)
    return after


def _revalidate_draft(process_id: str) -> None:
    """The studio's problem list of the draft follows the mapping (a mapped lane is no longer a warning); the
    draft's token stays, so an editor open on it saves on without a conflict."""
    draft = draft_of(process_id)
    if draft is None:
        return
    problems = validate(*draft_files(draft), process_id=process_id)
    db.session.execute(update_rows(ProcessDraft).where(ProcessDraft.id == draft.id)
                       .values(problems=problems, updated_at=ProcessDraft.updated_at)
                       .execution_options(synchronize_session=False))
    db.session.expire(draft, ["problems"])


def _move_open_tasks(process_id: str, lane: str, role: str, actor: User) -> None:
    tasks = db.session.execute(
        select(HumanTask).join(HumanTask.instance).join(ProcessInstance.definition)
        .where(ProcessDefinition.process_id == process_id, HumanTask.state == "open", HumanTask.lane_name == lane)
    ).scalars().all()
    for task in tasks:
        if task.lane == role:
            continue
        old_role, old_assignee = task.lane, task.assignee_id
        task.lane = role
        if not policy.candidates(task):
            task.assignee_id = _keeper(task, role)
        audit.record(task.order_id, "task", actor, field="lane", old=old_role or None, new=role or None,
                     entity="task", entity_id=task.id, instance_id=task.instance_id,
                     details={"lane": lane, "assignee_before": old_assignee, "assignee": task.assignee_id})


def _keeper(task: HumanTask, role: str) -> int | None:
    """Who holds the task once its lane works as `role` ("" : the starter's)."""
    if not role:
        return task.instance.started_by_id
    holder = db.session.get(User, task.assignee_id) if task.assignee_id else None
    return holder.id if holder is not None and holder.has_role(role) else None
