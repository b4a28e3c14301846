"""Text-search indexes for the orders list's `q` (order number, address, customer name, phone: any substring).

SQLite: FTS5 trigram tables over orders (number, address) and customers (name, phone), external-content (they
store no copy of the text), kept up to date by triggers. PostgreSQL: pg_trgm GIN indexes on the same columns (the
plain ILIKE uses them), left out cleanly where the server lacks the extension. The same statements build them for
`create_all` (the tests, the bench) and in the migration. A SQLite migration that rebuilds `orders` or `customers`
(batch "move and copy") drops their triggers: it must call `install_search_indexes` again.
"""
from __future__ import annotations

from sqlalchemy import event, text

from app.extensions import db

# (table, FTS table, indexed columns)
SEARCHED = (("orders", "orders_fts", ("number", "address")), ("customers", "customers_fts", ("name", "phone")))
TRIGRAM_INDEXES = {"ix_orders_number_trgm": ("orders", "number"), "ix_orders_address_trgm": ("orders", "address"),
                   "ix_customers_name_trgm": ("customers", "name"), "ix_customers_phone_trgm": ("customers", "phone")}


def sqlite_statements(table: str, fts: str, columns: tuple[str, ...]) -> list[str]:
    """The FTS table rebuilt from its content table, and the three triggers that keep it."""
    cols = ", ".join(columns)
    new = ", ".join(f"new.{c}" for c in columns)
    old = ", ".join(f"old.{c}" for c in columns)
    forget = f"INSERT INTO {fts}({fts}, rowid, {cols}) VALUES ('delete', old.id, {old});"
    learn = f"INSERT INTO {fts}(rowid, {cols}) VALUES (new.id, {new});"
    return [
        *(f"DROP TRIGGER IF EXISTS {fts}_{when}" for when in ("insert", "delete", "update")),
        f"DROP TABLE IF EXISTS {fts}",
        f"CREATE VIRTUAL TABLE {fts} USING fts5({cols}, content='{table}', content_rowid='id', tokenize='trigram')",
        f"INSERT INTO {fts}({fts}) VALUES ('rebuild')",
        f"CREATE TRIGGER {fts}_insert AFTER INSERT ON {table} BEGIN {learn} END",
        f"CREATE TRIGGER {fts}_delete AFTER DELETE ON {table} BEGIN {forget} END",
        f"CREATE TRIGGER {fts}_update AFTER UPDATE OF {cols} ON {table} BEGIN {forget} {learn} END",
    ]


def install_search_indexes(connection) -> None:
    """Build (or rebuild) the text-search indexes on this connection's database."""
    if connection.dialect.name == "sqlite":
        for table, fts, columns in SEARCHED:
            for statement in sqlite_statements(table, fts, columns):
                connection.execute(text(statement))
    elif connection.dialect.name == "postgresql":
        if not has_trigrams(connection):
            return  # the search still works (a scan): nothing to fail on
        connection.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        for name, (table, column) in TRIGRAM_INDEXES.items():
            connection.execute(text(f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ({column} gin_trgm_ops)"))


def has_trigrams(connection) -> bool:
    """Whether this PostgreSQL server can have pg_trgm (installed already, or available to install)."""
    return connection.execute(text("SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_trgm'")).scalar() > 0


def is_search_table(name: str | None) -> bool:
    """An FTS table or one of its shadow tables (no model describes them: migrations' comparisons skip them)."""
    return bool(name) and any(name == fts or name.startswith(f"{fts}_") for _, fts, _ in SEARCHED)  # type: ignore[union-attr]


@event.listens_for(db.metadata, "after_create")
def _after_create(_metadata, connection, **_kw) -> None:
    install_search_indexes(connection)
