"""The analytics' daily rows: completed tasks counted per day their orders came in, so a year's figures sum a few
thousand rows instead of reading a million tasks (app/services/daily_stats.py keeps them), and the same per month."""
from __future__ import annotations

from datetime import date

from sqlalchemy import Column, Date, Integer, PrimaryKeyConstraint, String, Table

from app.extensions import db

# Upper bounds (working hours) of the time-in-stage histogram's buckets; the last one is open.
HOUR_BUCKETS = (0.25, 0.5, 1, 1.5, 2, 3, 4, 6, 8, 12, 16, 24, 36, 54, 81, 122, 183, 275)
BUCKET_COLUMNS = tuple(f"h{index:02d}" for index in range(len(HOUR_BUCKETS) + 1))
KEY_COLUMNS = ("day", "kind", "stage", "bpmn_id", "lane", "month")
COUNT_COLUMNS = ("tasks", "orders", "with_due", "on_time", "late_orders", *BUCKET_COLUMNS)

# One row per (the company day the orders were created, their kind, the task's stage, BPMN id and lane, the company
# month the tasks were completed in): `orders` and `late_orders` count an order once per stage — in the row of its
# first completed (first late) task there — so they add up over days like the other counts.
# `task_months` holds the same rows summed per month the orders were created in (`day`: the month's first day), so a
# period reads its whole months there and only its edge days here (app/services/analytics.py).


def _task_table(name: str) -> Table:
    return Table(
        name, db.metadata,
        Column("day", Date, nullable=False),
        Column("kind", String(20), nullable=False),
        Column("stage", String(120), nullable=False),
        Column("bpmn_id", String(100), nullable=False),
        Column("lane", String(40), nullable=False),
        Column("month", Date, nullable=False),
        *(Column(name, Integer, nullable=False, default=0, server_default="0") for name in COUNT_COLUMNS),
        PrimaryKeyConstraint(*KEY_COLUMNS, name=f"pk_{name}"),
    )


task_days = _task_table("task_days")
task_months = _task_table("task_months")

# The flow between tasks: one row per (the company day the orders were created, their kind, the task an order had
# just before — "" for its first —, the task, its lane). `tasks` counts the tasks opened so (a transition when
# `prev_bpmn_id` is set); `pair_orders` the orders that went prev → task for the first time, `loops` the tasks an
# order had had before (came back to), `loop_orders` the orders that came back to it the first time; `name` is the
# task's name as last opened. Counted when a task opens (app/services/daily_stats.py), so a period sums days;
# `flow_months` the same per month the orders were created in.
FLOW_KEY_COLUMNS = ("day", "kind", "prev_bpmn_id", "bpmn_id", "lane")
FLOW_COUNT_COLUMNS = ("tasks", "pair_orders", "loops", "loop_orders")


def _flow_table(name: str) -> Table:
    return Table(
        name, db.metadata,
        Column("day", Date, nullable=False),
        Column("kind", String(20), nullable=False),
        Column("prev_bpmn_id", String(100), nullable=False),
        Column("bpmn_id", String(100), nullable=False),
        Column("lane", String(40), nullable=False),
        Column("name", String(200), nullable=False, default="", server_default=""),
        *(Column(name, Integer, nullable=False, default=0, server_default="0") for name in FLOW_COUNT_COLUMNS),
        PrimaryKeyConstraint(*FLOW_KEY_COLUMNS, name=f"pk_{name}"),
    )


flow_days = _flow_table("flow_days")
flow_months = _flow_table("flow_months")

# The rating's rows: one per (the company day a person completed tasks, that person, the task's lane, the day they
# last completed a task of the same order in that lane before — NO_EARLIER for the first, or a task of no order).
# `tasks`, `with_due`, `on_time` count the tasks completed so; `reworked` those a later task of the same step of the
# same order came back to (added when it opens); `orders` the orders they worked that day (each once), so the orders
# worked in a period are the rows' `orders` within it whose `since` lies before it (app/services/rating_stats.py).
NO_EARLIER = date(1, 1, 1)
RATING_KEY_COLUMNS = ("day", "user_id", "lane", "since")
RATING_COUNT_COLUMNS = ("tasks", "with_due", "on_time", "reworked", "orders")
rating_days = Table(
    "rating_days", db.metadata,
    Column("day", Date, nullable=False),
    Column("user_id", Integer, nullable=False),
    Column("lane", String(40), nullable=False),
    Column("since", Date, nullable=False),
    *(Column(name, Integer, nullable=False, default=0, server_default="0") for name in RATING_COUNT_COLUMNS),
    PrimaryKeyConstraint(*RATING_KEY_COLUMNS, name="pk_rating_days"),
)
