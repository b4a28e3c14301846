"""The seeded database, taken once per test session and put back before each test that starts from it.

Seeding for real (demo people, parsing and deploying the lifecycle) costs a few tenths of a second;
putting the same rows back into emptied tables costs a few milliseconds, on SQLite and PostgreSQL alike.
The rows keep their ids, so whatever is keyed by a definition's id and checksum stays valid.
"""
from __future__ import annotations

from sqlalchemy import func, select, text


class Snapshot:
    """Every row of every table, as the ORM types read them."""

    def __init__(self, db) -> None:
        self.tables = list(db.metadata.sorted_tables)
        with db.engine.connect() as conn:
            self.rows = {table.name: [dict(row) for row in conn.execute(table.select()).mappings()]
                         for table in self.tables}

    def restore(self, db) -> None:
        """Put the rows back into empty tables; sequences continue after them as they did after seeding."""
        with db.engine.begin() as conn:
            cyclic = []  # a department's head is a user of that department: set once both rows exist
            for table in self.tables:
                rows = self.rows[table.name]
                if not rows:
                    continue
                later = [fk.parent.name for fk in table.foreign_keys if fk.use_alter]
                conn.execute(table.insert(), [{**row, **dict.fromkeys(later)} for row in rows])
                cyclic += [(table, row, later) for row in rows if any(row[name] is not None for name in later)]
            for table, row, later in cyclic:
                key = [column == row[column.name] for column in table.primary_key.columns]
                conn.execute(table.update().where(*key).values({name: row[name] for name in later}))
            if conn.dialect.name == "postgresql":
                for table in self.tables:
                    if self.rows[table.name] and "id" in table.c and table.c.id.autoincrement is not False:
                        top = conn.execute(select(func.max(table.c.id))).scalar()
                        conn.execute(text("SELECT setval(pg_get_serial_sequence(:table, 'id'), :top)"),
                                     {"table": f'"{table.name}"', "top": top})
