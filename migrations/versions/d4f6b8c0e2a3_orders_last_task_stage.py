"""orders.last_task_stage: the stage of the order's newest task row (where a cancelled order stopped), set from the
task rows so far

Revision ID: d4f6b8c0e2a3
Revises: c2e4a6b8d0f1
Create Date: 2026-12-02 11:40:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'd4f6b8c0e2a3'
down_revision = 'c2e4a6b8d0f1'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_task_stage', sa.String(length=120), nullable=True))
    from app.services.daily_stats import last_task_stages  # what a flush that inserts task rows keeps

    last_task_stages(op.get_bind())


def downgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('last_task_stage')
