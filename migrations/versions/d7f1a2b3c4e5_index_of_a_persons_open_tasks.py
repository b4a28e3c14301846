"""index of a person's open tasks (the inbox's «mine» tab and its count at 100,000 orders)

Revision ID: d7f1a2b3c4e5
Revises: c4e5f6a7b801
Create Date: 2026-12-02 03:23:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'd7f1a2b3c4e5'
down_revision = 'c4e5f6a7b801'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.create_index('ix_human_tasks_open_assignee', ['state', 'assignee_id'], unique=False)


def downgrade():
    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_human_tasks_open_assignee')
