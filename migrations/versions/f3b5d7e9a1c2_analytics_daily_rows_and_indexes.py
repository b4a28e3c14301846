"""the analytics' daily rows of completed tasks (task_days), counted from the tasks already completed; the
indexes its cohort counts and the rating read

Revision ID: f3b5d7e9a1c2
Revises: e8a2b4c6d8f0
Create Date: 2026-12-02 05:10:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'f3b5d7e9a1c2'
down_revision = 'e8a2b4c6d8f0'
branch_labels = None
depends_on = None

BUCKETS = 19  # app.models.analytics.BUCKET_COLUMNS
COUNTS = ("tasks", "orders", "with_due", "on_time", "late_orders", *(f"h{index:02d}" for index in range(BUCKETS)))


def upgrade():
    op.create_table(
        'task_days',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('stage', sa.String(length=120), nullable=False),
        sa.Column('bpmn_id', sa.String(length=100), nullable=False),
        sa.Column('lane', sa.String(length=40), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        *(sa.Column(name, sa.Integer(), server_default='0', nullable=False) for name in COUNTS),
        sa.PrimaryKeyConstraint('day', 'kind', 'stage', 'bpmn_id', 'lane', 'month', name='pk_task_days'),
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_analytics', ['created_at', 'kind', 'channel', 'partner_id', 'status',
                                                      'customer_id', 'completed_at', 'price'], unique=False)
    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.create_index('ix_human_tasks_rating', ['state', 'completed_at', 'lane', 'completed_by_id',
                                                        'order_id', 'due_at', 'bpmn_id'], unique=False)
        batch_op.create_index('ix_human_tasks_order_step', ['order_id', 'bpmn_id', 'created_at'], unique=False)
    from app.services.daily_stats import backfill  # the same counting as a completion's, over every task so far

    backfill(op.get_bind())


def downgrade():
    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_human_tasks_order_step')
        batch_op.drop_index('ix_human_tasks_rating')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_analytics')
    op.drop_table('task_days')
