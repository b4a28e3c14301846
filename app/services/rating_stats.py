"""The rating's daily rows (`rating_days`): counted by the flush that completes or opens a task (whoever does it),
rebuilt from the task rows by `backfill` (the migration that made the table runs it).

A task completed by a person adds 1 to the row of (the company day it was completed, the person, its lane, the day
they last completed a task of its order in that lane before that day): to `tasks`, to `with_due` / `on_time` when it
had a deadline, to `orders` when it is the first such task of its order that day. It adds 1 to `reworked` once a
task of the same step (BPMN id) of its order opens at or after its completion — when the later of the two is
flushed. So a period's figures sum its days' rows, and its orders worked are the `orders` of the rows whose `since`
lies before the period (an order worked on several of its days is counted on the first of them only).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from itertools import groupby
from operator import attrgetter
from typing import Any, NamedTuple

from sqlalchemy import case, delete, event, func, insert, inspect, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from app.models import HumanTask
from app.models.analytics import NO_EARLIER, RATING_COUNT_COLUMNS, RATING_KEY_COLUMNS, rating_days
from app.services import daily_stats
from app.services.calendar import company_tz

RatingKey = tuple[date, int, str, date]


class Task(NamedTuple):
    """What the counting reads of a task row."""

    id: int
    order_id: int | None
    bpmn_id: str
    lane: str
    state: str
    created_at: datetime
    completed_at: datetime | None
    due_at: datetime | None
    completed_by_id: int | None


COLUMNS = tuple(HumanTask.__table__.c[name] for name in Task._fields)


class RatingTally:
    """Rows being counted: key → column → how many."""

    def __init__(self) -> None:
        self.rows: dict[RatingKey, dict[str, int]] = defaultdict(lambda: dict.fromkeys(RATING_COUNT_COLUMNS, 0))
        self.tz = company_tz()

    def day(self, moment: datetime) -> date:
        return moment.astimezone(self.tz).date()

    def order(self, tasks: list[Task], completed: set[int] | None = None, opened: frozenset[int] = frozenset()
              ) -> None:
        """Count an order's tasks (all of them, or as they stand after a flush that completed `completed` and
        opened `opened`): the completions in `completed` (every one when None), the returns they brought."""
        done = sorted((task for task in tasks if task.state == "completed" and task.completed_by_id is not None
                       and task.completed_at is not None), key=attrgetter("completed_at", "id"))
        finished = {task.id: self.day(task.completed_at) for task in done if task.completed_at is not None}
        days: dict[tuple[int | None, str], list[date]] = defaultdict(list)  # (person, lane) → the days they worked
        for task in done:
            days[(task.completed_by_id, task.lane)].append(finished[task.id])
        seen: set[tuple[int | None, str, date]] = set()  # (person, lane, day) already counting the order
        for task in done:
            day, person = finished[task.id], (task.completed_by_id, task.lane)
            new = completed is None or task.id in completed
            since = NO_EARLIER if task.order_id is None else max(
                (other for other in days[person] if other < day), default=NO_EARLIER)
            key = (day, task.completed_by_id or 0, task.lane, since)
            if new:
                row = self.rows[key]
                row["tasks"] += 1
                if task.due_at is not None:
                    row["with_due"] += 1
                    row["on_time"] += task.completed_at is not None and task.completed_at <= task.due_at
                row["orders"] += task.order_id is not None and (*person, day) not in seen
            seen.add((*person, day))
            if task.order_id is not None and _reworked_now(task, tasks, new, opened):
                self.rows[key]["reworked"] += 1


def _reworked_now(task: Task, tasks: list[Task], new: bool, opened: frozenset[int]) -> bool:
    """Whether a task of the same step opened at or after `task`'s completion, and it was not so before this
    count: `task` was completed before it and such a task was already there (not among those `opened` now)."""
    later = [other for other in tasks if other.id != task.id and other.bpmn_id == task.bpmn_id
             and task.completed_at is not None and other.created_at >= task.completed_at]
    return bool(later) and (new or all(other.id in opened for other in later))


_UPSERTS: dict[str, Any] = {}


def _upsert_statement(dialect: str):
    """INSERT … ON CONFLICT adding the counts to the stored row's, built once per dialect."""
    statement = _UPSERTS.get(dialect)
    if statement is None:
        inserted = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(rating_days)
        statement = _UPSERTS[dialect] = inserted.on_conflict_do_update(
            index_elements=list(RATING_KEY_COLUMNS),
            set_={name: rating_days.c[name] + inserted.excluded[name] for name in RATING_COUNT_COLUMNS})
    return statement


def _completed_now(session: Session) -> list[HumanTask]:
    """Task rows the flush inserted completed or moved to completed."""
    rows = [row for row in session.new if isinstance(row, HumanTask) and row.state == "completed"]
    for row in session.dirty:
        if isinstance(row, HumanTask) and row.state == "completed" and "completed" in (
                inspect(row).attrs.state.history.added or ()):
            rows.append(row)
    return [row for row in rows if row.completed_by_id is not None and row.completed_at is not None]


@event.listens_for(Session, "after_flush")
def _tasks_flushed(session: Session, _context) -> None:
    """Every flush that completes or opens task rows counts them into the rating's rows, in the same transaction."""
    count(session, _completed_now(session),
          [row for row in session.new if isinstance(row, HumanTask) and row.order_id is not None])


def count(session: Session, completed: list, opened: list) -> None:
    """Count task rows just completed (by a person, with their completion time) and opened (of an order), already
    written in this transaction, into the rating's rows: the flush's listener above, and a step that wrote its task
    rows by statements of its own (`app.usecases.projection`). A row is a `HumanTask` or a `Task`. Counted now, as
    the rows stand; added to the stored rows at the commit, after the daily rows (`daily_stats.add_at_commit`: a
    person's row is shared by all their completions of the day, and adding to it locks it until the commit)."""
    if not completed and not opened:
        return
    tally = RatingTally()
    without_order = [row for row in completed if row.order_id is None]
    if without_order:
        tally.order([Task(*(getattr(row, name) for name in Task._fields)) for row in without_order],
                    {row.id for row in without_order})
    orders = {row.order_id for row in (*completed, *opened) if row.order_id is not None}
    if orders:
        tasks = [Task(*row) for row in session.connection().execute(
            select(*COLUMNS).where(HumanTask.order_id.in_(orders)).order_by(HumanTask.order_id))]
        completed_ids = {row.id for row in completed}
        opened_ids = frozenset(row.id for row in opened)
        for _order_id, group in groupby(tasks, key=attrgetter("order_id")):
            tally.order(list(group), completed_ids, opened_ids)
    daily_stats.add_at_commit(session, _add, tally.rows)


def _add(session: Session, rows: dict[tuple, dict[str, int]]) -> None:
    """Add counted rows to the stored ones, in the order of their keys (two commits adding to the same rows lock
    them in the same order)."""
    session.execute(_upsert_statement(session.get_bind().dialect.name),
                    [dict(zip(RATING_KEY_COLUMNS, key, strict=True)) | rows[key] for key in sorted(rows)])


def backfill(connection) -> int:
    """Rebuild every rating row from the task rows (over `connection`); returns the rows written."""
    tally = RatingTally()
    result = connection.execute(select(*COLUMNS).where(HumanTask.order_id.is_(None), HumanTask.state == "completed"))
    tally.order([Task(*row) for row in result])
    result = connection.execute(select(*COLUMNS).where(HumanTask.order_id.is_not(None))
                                .order_by(HumanTask.order_id).execution_options(yield_per=20_000))
    for _order_id, group in groupby((Task(*row) for row in result), key=attrgetter("order_id")):
        tally.order(list(group))
    connection.execute(delete(rating_days))
    rows = [dict(zip(RATING_KEY_COLUMNS, key, strict=True)) | counts for key, counts in tally.rows.items()]
    for start in range(0, len(rows), 5_000):
        connection.execute(insert(rating_days), rows[start:start + 5_000])
    return len(rows)


def summed(first: date | None, last: date | None, lanes: Iterable[str]):
    """Per (person, lane) of the period's rows (lanes not in `lanes` left out): tasks, with a deadline, on time,
    reworked, orders worked."""
    c = rating_days.c
    kept: list[ColumnElement[bool]] = [c.lane.not_in(list(lanes))]
    if first:
        kept.append(c.day >= first)
    if last:
        kept.append(c.day <= last)
    before = c.since < first if first else c.since == NO_EARLIER
    return (select(c.user_id, c.lane, func.sum(c.tasks), func.sum(c.with_due), func.sum(c.on_time),
                   func.sum(c.reworked), func.sum(case((before, c.orders), else_=0)))
            .where(*kept).group_by(c.user_id, c.lane))
