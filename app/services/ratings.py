"""The employee rating: KPIs of each person's completed tasks in a period, normalised to 0–100, weighted into a
score and ranked within the role (the formula is docs/RATING.md).

A person is rated in a role for the tasks of that role's lane they completed (`HumanTask.completed_by_id`) in the
period; the orders they worked are those tasks' orders. Every figure is one aggregate grouped by (person, role):
three queries whatever the number of people or tasks — the counts summed from the daily rows (`rating_days`,
app/services/rating_stats.py), the claims and the ratings from their few orders' tasks.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import and_, func, select

from app.extensions import db
from app.models import Claim, Feedback, HumanTask, RatingWeight, Role, User
from app.policy import CUSTOMERS, MANAGEMENT, headed_lanes
from app.services import rating_stats
from app.services.periods import within

KPIS = ("on_time", "throughput", "rework", "claims", "ratings")
DEFAULT_WEIGHTS = {"on_time": 30.0, "throughput": 20.0, "rework": 20.0, "claims": 15.0, "ratings": 15.0}
THROUGHPUT_AT_MEDIAN = 50.0  # the role's median person scores this; twice the median or more scores 100


@dataclass
class Row:
    """One person's KPIs in one role for the period; components are 0–100, None when there is nothing to measure."""

    user: User
    role: str
    tasks: int = 0
    with_due: int = 0
    on_time: int = 0
    reworked: int = 0
    orders: int = 0
    claims: int = 0
    ratings: int = 0
    rating_mean: float | None = None
    components: dict[str, float | None] = field(default_factory=dict)
    score: float | None = None
    place: int | None = None


@dataclass
class RoleTable:
    role: str
    name: str
    weights: dict[str, float]
    median_tasks: float
    people: int  # everyone rated in the role, also those the viewer does not see
    rows: list[Row]


# -- weights --------------------------------------------------------------------------------------------------

def weights() -> dict[str, dict[str, float]]:
    """Every role's stored weights (role → kpi → weight); a role missing here uses DEFAULT_WEIGHTS."""
    stored: dict[str, dict[str, float]] = {}
    for row in db.session.execute(select(RatingWeight)).scalars():
        stored.setdefault(row.role, dict(DEFAULT_WEIGHTS))[row.kpi] = row.weight
    return stored


def weights_of(role: str, stored: dict[str, dict[str, float]] | None = None) -> dict[str, float]:
    stored = weights() if stored is None else stored
    return dict(stored.get(role, DEFAULT_WEIGHTS))


def rated_roles() -> list[Role]:
    """The roles a rating is kept for: the staff's roles that work a lane of the process (not the customer's)."""
    return list(db.session.execute(select(Role).where(Role.is_lane.is_(True), Role.code.not_in(CUSTOMERS))
                                   .order_by(Role.name)).scalars())


def parse_weights(form, roles: list[str]) -> tuple[dict[str, dict[str, float]], dict[str, str]]:
    """The weights typed in the admin form (fields `<role>.<kpi>`) and the errors by field name (or by role); a
    role with none of its fields in the form is left as it is."""
    parsed: dict[str, dict[str, float]] = {}
    errors: dict[str, str] = {}
    for role in roles:
        if not any(f"{role}.{kpi}" in form for kpi in KPIS):
            continue
        parsed[role] = {}
        for kpi in KPIS:
            name = f"{role}.{kpi}"
            raw = (form.get(name) or "").strip().replace(",", ".")
            try:
                value = float(raw)
            except ValueError:
                errors[name] = "number"
                continue
            if value != value or value in (float("inf"), float("-inf")) or value < 0 or value > 1000:
                errors[name] = "range"
                continue
            parsed[role][kpi] = value
        if len(parsed[role]) == len(KPIS) and not any(parsed[role].values()):
            errors[role] = "zero"
    return parsed, errors


def store_weights(parsed: dict[str, dict[str, float]]) -> None:
    """Stage the roles' weights (the caller's unit of work commits)."""
    existing = {(row.role, row.kpi): row for row in db.session.execute(
        select(RatingWeight).where(RatingWeight.role.in_(list(parsed)))).scalars()}
    for role, values in parsed.items():
        for kpi, value in values.items():
            row = existing.get((role, kpi))
            if row is None:
                db.session.add(RatingWeight(role=role, kpi=kpi, weight=value))
            else:
                row.weight = value


# -- the figures ----------------------------------------------------------------------------------------------

def _period(first: date | None, last: date | None):
    """The tasks completed by a person, in a lane, within the company's days first..last (either end open)."""
    conditions = [HumanTask.state == "completed", HumanTask.completed_by_id.is_not(None),
                  HumanTask.lane.not_in(["", *sorted(CUSTOMERS)])]  # the customer's own tasks rate nobody
    return and_(*conditions, *within(HumanTask.completed_at, first, last))


def _rows(first: date | None, last: date | None) -> dict[tuple[int, str], Row]:
    done = _period(first, last)
    # The period's daily rows (app/services/rating_stats.py): a year is a few thousand rows, not 400,000 tasks
    # read twice (the counts with the orders worked, and whether a later task came back to each).
    counts = db.session.execute(rating_stats.summed(first, last, ["", *sorted(CUSTOMERS)])).all()
    if not counts:
        return {}
    people = {user.id: user for user in db.session.execute(
        select(User).where(User.id.in_({row[0] for row in counts}))).scalars()}
    rows = {(user_id, lane): Row(user=people[user_id], role=lane, tasks=int(tasks), with_due=int(with_due),
                                 on_time=int(on_time), reworked=int(reworked), orders=int(orders))
            for user_id, lane, tasks, with_due, on_time, reworked, orders in counts}

    def worked(*among):
        """Each (person, lane, order) they worked in the period once, of the orders `among`: the claims' and
        ratings' few orders are looked up by order, not found among every task of the period."""
        return (select(HumanTask.completed_by_id.label("user_id"), HumanTask.lane.label("lane"),
                       HumanTask.order_id.label("order_id"))
                .where(done, HumanTask.order_id.is_not(None), *among).distinct().subquery())

    claimed = worked(HumanTask.order_id.in_(select(Claim.order_id)))
    by = (claimed.c.user_id, claimed.c.lane)
    for user_id, lane, claims in db.session.execute(
            select(*by, func.count(Claim.id)).join(Claim, Claim.order_id == claimed.c.order_id).group_by(*by)):
        rows[(user_id, lane)].claims = claims
    rated_orders = worked(HumanTask.order_id.in_(select(Feedback.order_id).where(Feedback.rating.is_not(None))))
    by = (rated_orders.c.user_id, rated_orders.c.lane)
    for user_id, lane, mean, rated in db.session.execute(
            select(*by, func.avg(Feedback.rating), func.count(Feedback.rating))
            .join(Feedback, Feedback.order_id == rated_orders.c.order_id)
            .where(Feedback.rating.is_not(None)).group_by(*by)):
        rows[(user_id, lane)].rating_mean, rows[(user_id, lane)].ratings = float(mean), rated
    return rows


def components(row: Row, median_tasks: float) -> dict[str, float | None]:
    """The row's KPIs on a 0–100 scale, higher is better (docs/RATING.md, «Нормировка»)."""
    return {
        "on_time": 100 * row.on_time / row.with_due if row.with_due else None,
        "throughput": min(100.0, THROUGHPUT_AT_MEDIAN * row.tasks / median_tasks) if median_tasks else None,
        "rework": 100 * (1 - row.reworked / row.tasks) if row.tasks else None,
        "claims": 100 * (1 - min(1.0, row.claims / row.orders)) if row.orders else None,
        "ratings": 100 * (row.rating_mean - 1) / 4 if row.rating_mean is not None else None,
    }


def score(parts: dict[str, float | None], weights: dict[str, float]) -> float | None:
    """The weighted mean of the components there are (a missing one's weight is left out), to 0.1."""
    counted = [(weights.get(kpi, 0.0), value) for kpi, value in parts.items() if value is not None]
    total = sum(weight for weight, _ in counted)
    if not total:
        return None
    return round(sum(weight * value for weight, value in counted) / total, 1)


def rank(rows: list[Row]) -> None:
    """Places by score, best first; equal scores share a place (1, 1, 3); no score, no place."""
    scored = sorted((row for row in rows if row.score is not None), key=lambda row: -(row.score or 0))
    for index, row in enumerate(scored):
        row.place = scored[index - 1].place if index and scored[index - 1].score == row.score else index + 1
    rows.sort(key=lambda row: (row.place is None, row.place or 0, row.user.name))


def rating(first: date | None, last: date | None) -> list[RoleTable]:
    """Every rated person's row, by role, ranked within it."""
    stored = weights()
    names = {role.code: role.name for role in db.session.execute(select(Role)).scalars()}
    by_role: dict[str, list[Row]] = {}
    for row in _rows(first, last).values():
        by_role.setdefault(row.role, []).append(row)
    tables = []
    for role, rows in by_role.items():
        median = float(statistics.median(row.tasks for row in rows))
        role_weights = weights_of(role, stored)
        for row in rows:
            row.components = components(row, median)
            row.score = score(row.components, role_weights)
        rank(rows)
        tables.append(RoleTable(role=role, name=names.get(role, role), weights=role_weights, median_tasks=median,
                                people=len(rows), rows=rows))
    return sorted(tables, key=lambda table: table.name)


def visible(tables: list[RoleTable], viewer: User) -> list[RoleTable]:
    """What `viewer` may see: the director and admins everything, a head their departments' roles in full, anyone
    their own rows (with their place among all the role's people) and nobody else's."""
    if viewer.role_codes & MANAGEMENT:
        return tables
    headed = headed_lanes(viewer)
    shown = []
    for table in tables:
        rows = table.rows if table.role in headed else [row for row in table.rows if row.user.id == viewer.id]
        if rows:
            shown.append(RoleTable(role=table.role, name=table.name, weights=table.weights,
                                   median_tasks=table.median_tasks, people=table.people, rows=rows))
    return shown

