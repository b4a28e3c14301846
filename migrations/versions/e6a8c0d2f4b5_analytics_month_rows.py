"""the analytics' month rows (task_months, flow_months): the daily rows summed per month the orders were created
in, so a period reads its whole months there and its edge days from the daily rows

Revision ID: e6a8c0d2f4b5
Revises: d4f6b8c0e2a3
Create Date: 2026-12-02 11:50:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'e6a8c0d2f4b5'
down_revision = 'd4f6b8c0e2a3'
branch_labels = None
depends_on = None

HOUR_BUCKETS = 19  # h00 … h18, as task_days


def upgrade():
    op.create_table(
        'task_months',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('stage', sa.String(length=120), nullable=False),
        sa.Column('bpmn_id', sa.String(length=100), nullable=False),
        sa.Column('lane', sa.String(length=40), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        *(sa.Column(name, sa.Integer(), server_default='0', nullable=False)
          for name in ("tasks", "orders", "with_due", "on_time", "late_orders",
                       *(f"h{index:02d}" for index in range(HOUR_BUCKETS)))),
        sa.PrimaryKeyConstraint('day', 'kind', 'stage', 'bpmn_id', 'lane', 'month', name='pk_task_months'),
    )
    op.create_table(
        'flow_months',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('prev_bpmn_id', sa.String(length=100), nullable=False),
        sa.Column('bpmn_id', sa.String(length=100), nullable=False),
        sa.Column('lane', sa.String(length=40), nullable=False),
        sa.Column('name', sa.String(length=200), server_default='', nullable=False),
        *(sa.Column(name, sa.Integer(), server_default='0', nullable=False)
          for name in ("tasks", "pair_orders", "loops", "loop_orders")),
        sa.PrimaryKeyConstraint('day', 'kind', 'prev_bpmn_id', 'bpmn_id', 'lane', name='pk_flow_months'),
    )
    from app.services.daily_stats import months_from_days  # the day rows summed, as each count adds to both

    months_from_days(op.get_bind())


def downgrade():
    op.drop_table('flow_months')
    op.drop_table('task_months')
