"""the boards' open-task index carries each task's order and SLA level: the late tasks and the workshop tasks of
orders waiting for components are read from the index alone, not from 1,000–2,000 task rows each

Revision ID: a8c0e2f4b6d9
Revises: f7b9d1e3a5c8
Create Date: 2026-12-02 15:50:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a8c0e2f4b6d9'
down_revision = 'f7b9d1e3a5c8'
branch_labels = None
depends_on = None

COLUMNS = ['state', 'lane', 'stage', 'assignee_id', 'created_at', 'due_at']


def upgrade():
    op.drop_index('ix_human_tasks_open_board', table_name='human_tasks')
    op.create_index('ix_human_tasks_open_board', 'human_tasks', [*COLUMNS, 'order_id', 'sla_level'], unique=False)
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ANALYZE human_tasks")  # the wider index's figures, or the planner may pass it by


def downgrade():
    op.drop_index('ix_human_tasks_open_board', table_name='human_tasks')
    op.create_index('ix_human_tasks_open_board', 'human_tasks', COLUMNS, unique=False)
