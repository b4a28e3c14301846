"""text-search indexes (FTS5 trigram on SQLite, pg_trgm GIN on PostgreSQL) and the boards' open-task index

Revision ID: e8a2b4c6d8f0
Revises: d7f1a2b3c4e5
Create Date: 2026-12-02 04:40:00

"""
from alembic import op

from app.models.search import SEARCHED, TRIGRAM_INDEXES, install_search_indexes


# revision identifiers, used by Alembic.
revision = 'e8a2b4c6d8f0'
down_revision = 'd7f1a2b3c4e5'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.create_index('ix_human_tasks_open_board',
                              ['state', 'lane', 'stage', 'assignee_id', 'created_at', 'due_at'], unique=False)
    install_search_indexes(op.get_bind())


def downgrade():
    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_human_tasks_open_board')
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for _table, fts, _columns in SEARCHED:
            for when in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER IF EXISTS {fts}_{when}")
            op.execute(f"DROP TABLE IF EXISTS {fts}")
    elif bind.dialect.name == "postgresql":
        for name in TRIGRAM_INDEXES:
            op.execute(f"DROP INDEX IF EXISTS {name}")
