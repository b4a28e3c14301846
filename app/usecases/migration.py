"""Moving running orders from one version of a process to another: a dry run per order, then a background job.

The dry run loads each selected order's workflow, asks the engine adapter whether it can move (its open tasks exist
in the target version, what it has passed still loads there) and tries the move in memory. The real run is a
`ProcessMigration` with one item per order, handed to a worker as one outbox job (`process.migrate`); the job moves
each order in its own unit of work: the workflow is migrated (timers keep their due times, so SLA deadlines hold),
the instance points to the target version, the open tasks are projected again and the order's history records it.
An order that cannot move, or whose move fails, stays where it was and its item says why; the job goes on.
"""
from __future__ import annotations

import logging

from sqlalchemy import func, select

from app import clock
from app.engine import engine
from app.engine.versions import migrate, migration_problems
from app.errors import ValidationError
from app.extensions import db
from app.models import (
    HumanTask,
    Order,
    ProcessDefinition,
    ProcessInstance,
    ProcessMigration,
    ProcessMigrationItem,
    User,
)
from app.services import audit
from app.services.outbox import add_job
from app.usecases.process import SUSPENDED, step
from app.usecases.uow import unit_of_work
from app.usecases.versions import OPEN_STATUSES, version_of, version_specs

log = logging.getLogger(__name__)
JOB_OPERATOR = "process.migrate"


def waiting_stages(process_id: str, version: int) -> list[str]:
    """The stages where orders running on this version wait (the "by stage" choice)."""
    definition = version_of(process_id, version)
    return sorted(s for s in db.session.execute(
        select(Order.stage).join(ProcessInstance, ProcessInstance.order_id == Order.id)
        .where(ProcessInstance.definition_id == definition.id, ProcessInstance.status.in_(OPEN_STATUSES))
        .distinct()).scalars() if s)


def _selected(source: ProcessDefinition, selection: dict) -> list[tuple[str, Order | None]]:
    """(order number, order or None when there is no such order) for the selection."""
    if selection.get("orders") is not None:
        numbers = list(dict.fromkeys(selection["orders"]))
        found = {o.number: o for o in db.session.execute(select(Order).where(Order.number.in_(numbers))).scalars()}
        return [(number, found.get(number)) for number in numbers]
    query = (select(Order).join(ProcessInstance, ProcessInstance.order_id == Order.id)
             .where(ProcessInstance.definition_id == source.id, ProcessInstance.status.in_(OPEN_STATUSES))
             .order_by(Order.id))
    if selection.get("stage"):
        query = query.where(Order.stage == selection["stage"])
    return [(o.number, o) for o in db.session.execute(query).scalars()]


def _not_movable(order: Order | None, source: ProcessDefinition) -> str | None:
    """Why the order is not a candidate at all (not found, not on the source version, finished), or None."""
    if order is None:
        return "заказ не найден"
    instance = order.instance
    if instance is None or instance.definition.process_id != source.process_id:
        return f"заказ не на процессе «{source.process_id}»"
    if instance.definition_id != source.id:
        return f"заказ не на v{source.version} (на v{instance.definition.version})"
    if instance.status not in OPEN_STATUSES:
        return "процесс заказа уже завершён"
    if instance.status == SUSPENDED:  # it does not move at all until resumed (`process.ensure_moves`)
        return "процесс заказа приостановлен: возобновите его, чтобы перенести"
    return None


def check_order(instance: ProcessInstance, target: ProcessDefinition) -> str | None:
    """Why this instance cannot move to `target`, in Russian, or None: the move is tried in memory, nothing saved."""
    eng = engine()
    new = version_specs(target)
    workflow = eng.load(version_specs(instance.definition), instance.state)
    problems = migration_problems(eng.serializer.registry, workflow, new, f"v{target.version}")
    if problems:
        return "; ".join(problems)
    try:
        migrate(eng.serializer.registry, workflow, new)
        eng.run(workflow)
        eng.load(new, eng.dump(workflow))
    except Exception as exc:  # noqa: BLE001 - whatever the engine says is the reason shown for this order
        return f"перенос не удался: {exc}"
    return None


def _versions(process_id: str, from_version: int, to_version: int) -> tuple[ProcessDefinition, ProcessDefinition]:
    if from_version == to_version:
        raise ValidationError("Версии «откуда» и «куда» совпадают",
                              fields={"to_version": "должна отличаться от from_version"})
    return version_of(process_id, from_version), version_of(process_id, to_version)


def dry_run(process_id: str, from_version: int, to_version: int, selection: dict) -> list[dict]:
    """Per selected order: {"order_number", "ok", "reason"} — nothing changes."""
    source, target = _versions(process_id, from_version, to_version)
    items = []
    for number, order in _selected(source, selection):
        reason = _not_movable(order, source)
        if reason is None and order is not None and order.instance is not None:
            reason = check_order(order.instance, target)
        items.append({"order_number": number, "ok": reason is None, "reason": reason})
    return items


def start_migration(process_id: str, from_version: int, to_version: int, selection: dict,
                    actor: User) -> tuple[ProcessMigration, list[dict], int]:
    """Record the migration with one item per selected order and hand it to a worker: (migration, the dry run's
    items, the outbox job's id).

    Orders that are not candidates (not found, on another version, finished) are listed as failed at once.
    """
    items = dry_run(process_id, from_version, to_version, selection)
    source = version_of(process_id, from_version)
    orders = dict(_selected(source, selection))
    if not any(orders.values()):
        raise ValidationError("Нет заказов для переноса", fields={"orders": "ни одного заказа не выбрано"})
    migration = ProcessMigration(process_id=process_id, from_version=from_version, to_version=to_version,
                                 selection=selection, status="queued", requested_by=actor)
    db.session.add(migration)
    for item in items:
        order = orders.get(item["order_number"])
        if order is None:
            continue
        reason = _not_movable(order, source)
        migration.items.append(ProcessMigrationItem(order_id=order.id, state="failed" if reason else "pending",
                                                    reason=reason))
    migration.total = len(migration.items)
    migration.failed = sum(1 for i in migration.items if i.state == "failed")
    db.session.flush()
    job = add_job(JOB_OPERATOR, {"migration_id": migration.id})
    audit.record(None, "migrate", actor, entity="process", entity_id=migration.id, field=process_id,
                 old=f"v{from_version}", new=f"v{to_version}", details={"orders": migration.total, "job": job.id})
    return migration, items, job.id


def _project_moved(instance: ProcessInstance, view) -> None:
    """The open tasks as the target version describes them (name, lane, form, due time); claims kept in the lane."""
    rows = {t.task_guid: t for t in db.session.execute(
        select(HumanTask).where(HumanTask.instance_id == instance.id, HumanTask.state == "open")).scalars()}
    for task in view.ready:
        row = rows.get(task.guid)
        if row is None:
            continue
        if row.lane != task.lane:  # a claim made in the old lane does not carry over
            row.assignee_id = None if not task.assignee else db.session.execute(
                select(User.id).where(User.login == task.assignee)).scalar_one_or_none()
        row.name, row.stage, row.lane = task.name, task.stage, task.lane
        row.form_schema, row.form_ui_schema = task.form, task.ui_form
        row.due_at = task.due_at


def migrate_order(instance: ProcessInstance, target: ProcessDefinition, actor: User | str | None) -> str | None:
    """Move one instance to `target` in the current unit of work; the reason when it cannot (nothing changed)."""
    eng = engine()
    new = version_specs(target)
    source = instance.definition
    problems: list[str] = []

    def act(workflow):
        problems.extend(migration_problems(eng.serializer.registry, workflow, new, f"v{target.version}"))
        if problems:
            return False
        migrate(eng.serializer.registry, workflow, new)
        eng.load(new, eng.dump(workflow))  # what is saved must load with the new version's specs
        instance.definition = target

    view = step(instance, act, actor)
    if view is None:
        return "; ".join(problems)
    _project_moved(instance, view)
    audit.record(instance.order_id, "migrate", actor, entity="process", entity_id=instance.id, field="version",
                 old=f"v{source.version}", new=f"v{target.version}", details={"process_id": target.process_id})
    return None


def _counts(migration: ProcessMigration) -> None:
    states = dict(db.session.execute(select(ProcessMigrationItem.state, func.count())
                                     .where(ProcessMigrationItem.migration_id == migration.id)
                                     .group_by(ProcessMigrationItem.state)).all())
    migration.moved, migration.failed = states.get("moved", 0), states.get("failed", 0)


def _move_item(item_id: int) -> None:
    item = db.session.get(ProcessMigrationItem, item_id, with_for_update=True)
    if item is None or item.state != "pending":
        return  # done by an earlier run of the same job
    migration = item.migration
    source = version_of(migration.process_id, migration.from_version)
    target = version_of(migration.process_id, migration.to_version)
    reason = _not_movable(item.order, source)
    if reason is None:
        reason = migrate_order(item.order.instance, target, migration.requested_by or "migration")
    item.state, item.reason = ("failed", reason) if reason else ("moved", None)
    _counts(migration)


def run_migration(migration_id: int) -> dict:
    """Move every pending order of the migration, each in its own unit of work; a failure stays with its order."""
    with unit_of_work(fresh=True):
        migration = db.session.get_one(ProcessMigration, migration_id)
        migration.status = "running"
        pending = [i.id for i in migration.items if i.state == "pending"]
    for item_id in pending:
        try:
            with unit_of_work(fresh=True):
                _move_item(item_id)
        except Exception as exc:  # noqa: BLE001 - one order's failure must not stop the others
            log.warning("migration %s: item %s failed: %s", migration_id, item_id, exc)
            with unit_of_work(fresh=True):
                item = db.session.get_one(ProcessMigrationItem, item_id)
                item.state, item.reason = "failed", f"перенос не удался: {exc}"[:2000]
                _counts(item.migration)
    with unit_of_work(fresh=True):
        migration = db.session.get_one(ProcessMigration, migration_id)
        _counts(migration)
        migration.status, migration.finished_at = "done", clock.now()
        return {"moved": migration.moved, "failed": migration.failed}


def run_job(ctx) -> dict:
    """The `process.migrate` operator: the worker's entry into `run_migration`."""
    return run_migration(int(ctx.params["migration_id"]))
