"""Each order's components counted by status beside the order — arrived, still needed, ordered — kept by the database
itself (triggers), so the workshops' boards add up and list the active orders' figures instead of joining them with
their 200,000 components (PostgreSQL 15–20 ms, SQLite 7–19 ms at 100,000 orders).

Triggers, not the code that writes components: every path keeps the figures right — the ORM's order edits and
steps, Core bulk inserts (the bench, imports), an order's status changing or the order deleted. The same statements
serve `create_all` (the tests, the bench) and the migrations. A SQLite migration that rebuilds `orders` or
`components` (batch "move and copy") drops their triggers: it must call `install_component_counts` again.
"""
from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Index, Integer, event, text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import Model

ARRIVED = ("received", "in_workshop")  # a component's statuses once it is at the warehouse or the workshop
# column → the component statuses it counts
COUNTED = {"arrived": ARRIVED, "needed": ("needed",), "ordered": ("ordered",)}
# the active orders still waiting for a component: the rows of the partial index the boards read (its condition and
# the query's must be the same text for SQLite to use it)
WAITING = "active AND needed + ordered > 0"
_ACTIVE = ("UPDATE order_component_counts SET active = (new.status = 'active') "
           "WHERE order_id = new.id AND active <> (new.status = 'active')")


class OrderComponentCount(Model):
    """How many of an order's components have arrived, are still needed and are ordered, and whether the order is
    active (all kept by triggers)."""

    __tablename__ = "order_component_counts"
    __table_args__ = (Index("ix_order_component_counts_active", "active", "arrived"),
                      Index("ix_order_component_counts_waiting", "order_id", "needed", "ordered",
                            sqlite_where=text(WAITING), postgresql_where=text(WAITING)))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True,
                                          autoincrement=False)
    active: Mapped[bool] = mapped_column(Boolean)
    arrived: Mapped[int] = mapped_column(Integer, default=0)
    needed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    ordered: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


def _in(statuses) -> str:
    return "(" + ", ".join(f"'{status}'" for status in statuses) + ")"


def _ones(row: str, columns) -> list[str]:
    """Per column, 1 when the component `row` (new or old) has one of its statuses."""
    return [f"CASE WHEN {row}.status IN {_in(COUNTED[column])} THEN 1 ELSE 0 END" for column in columns]


def _statuses(columns) -> str:
    return _in(status for column in columns for status in COUNTED[column])


def _count_up(columns, lock: str = "") -> str:
    """The new component counted in its order's row (made on the order's first counted component), the order's
    status read with `lock`."""
    return (f"INSERT INTO order_component_counts (order_id, active, {', '.join(columns)}) "
            f"SELECT id, status = 'active', {', '.join(_ones('new', columns))} FROM orders "
            f"WHERE id = new.order_id AND new.status IN {_statuses(columns)}{lock} "
            "ON CONFLICT (order_id) DO UPDATE SET "
            + ", ".join(f"{column} = order_component_counts.{column} + excluded.{column}" for column in columns))


def _count_down(columns) -> str:
    """The old component taken off its order's row."""
    ones = zip(columns, _ones("old", columns), strict=True)
    return ("UPDATE order_component_counts SET " + ", ".join(f"{column} = {column} - {one}" for column, one in ones)
            + f" WHERE order_id = old.order_id AND old.status IN {_statuses(columns)}")


def sqlite_statements(columns=tuple(COUNTED)) -> list[str]:
    counted = _statuses(columns)
    return [
        *(f"DROP TRIGGER IF EXISTS component_counts_{when}"
          for when in ("insert", "delete", "update", "order_status", "order_delete")),
        f"CREATE TRIGGER component_counts_insert AFTER INSERT ON components WHEN new.status IN {counted} "
        f"BEGIN {_count_up(columns)}; END",
        f"CREATE TRIGGER component_counts_delete AFTER DELETE ON components WHEN old.status IN {counted} "
        f"BEGIN {_count_down(columns)}; END",
        "CREATE TRIGGER component_counts_update AFTER UPDATE OF status, order_id ON components BEGIN "
        f"{_count_down(columns)}; {_count_up(columns)}; END",
        f"CREATE TRIGGER component_counts_order_status AFTER UPDATE OF status ON orders BEGIN {_ACTIVE}; END",
        "CREATE TRIGGER component_counts_order_delete AFTER DELETE ON orders "
        "BEGIN DELETE FROM order_component_counts WHERE order_id = old.id; END",
    ]


def postgresql_statements(columns=tuple(COUNTED), *, share_order: bool = True) -> list[str]:
    """`share_order`: a component counted up reads its order's status FOR SHARE. Without it, an order cancelled
    while its first component was being added (either first, both uncommitted) kept a row marked active: the
    cancel's update found no row to mark (not yet committed), and the insert had read the status before the
    cancel. Now whichever comes second waits for the first's commit and sees what it wrote (SQLite has one writer
    at a time)."""
    lock = " FOR SHARE" if share_order else ""
    return [
        "CREATE OR REPLACE FUNCTION component_counts_of_components() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF TG_OP IN ('DELETE', 'UPDATE') THEN {_count_down(columns)}; END IF; "
        f"IF TG_OP IN ('INSERT', 'UPDATE') THEN {_count_up(columns, lock)}; END IF; "
        "RETURN NULL; END $$",
        "CREATE OR REPLACE FUNCTION component_counts_of_orders() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"{_ACTIVE}; RETURN NULL; END $$",
        "DROP TRIGGER IF EXISTS component_counts ON components",
        "CREATE TRIGGER component_counts AFTER INSERT OR DELETE OR UPDATE OF status, order_id ON components "
        "FOR EACH ROW EXECUTE FUNCTION component_counts_of_components()",
        "DROP TRIGGER IF EXISTS component_counts ON orders",
        "CREATE TRIGGER component_counts AFTER UPDATE OF status ON orders "
        "FOR EACH ROW EXECUTE FUNCTION component_counts_of_orders()",
    ]


def install_component_counts(connection, columns=tuple(COUNTED)) -> None:
    """The triggers (re)made, and every order's counts worked out afresh from its components. `columns`: the
    counts kept (a migration before the needed and ordered ones existed keeps `arrived` alone)."""
    dialect = connection.dialect.name
    for statement in sqlite_statements(columns) if dialect == "sqlite" else postgresql_statements(columns):
        connection.execute(text(statement))
    connection.execute(text("DELETE FROM order_component_counts"))
    connection.execute(text(
        f"INSERT INTO order_component_counts (order_id, active, {', '.join(columns)}) "
        f"SELECT orders.id, orders.status = 'active', "
        + ", ".join(f"sum({one})" for one in _ones("components", columns))
        + " FROM components JOIN orders ON orders.id = components.order_id "
        f"WHERE components.status IN {_statuses(columns)} GROUP BY orders.id, orders.status"))


@event.listens_for(db.metadata, "after_create")
def _after_create(_metadata, connection, **_kw) -> None:
    install_component_counts(connection)
