"""the analytics' flow rows (flow_days): task → next task and the loops per day the orders were created, counted
from the tasks opened so far

Revision ID: a4c6e8f0b2d4
Revises: f3b5d7e9a1c2
Create Date: 2026-12-02 08:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a4c6e8f0b2d4'
down_revision = 'f3b5d7e9a1c2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'flow_days',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('prev_bpmn_id', sa.String(length=100), nullable=False),
        sa.Column('bpmn_id', sa.String(length=100), nullable=False),
        sa.Column('lane', sa.String(length=40), nullable=False),
        sa.Column('name', sa.String(length=200), server_default='', nullable=False),
        *(sa.Column(name, sa.Integer(), server_default='0', nullable=False)
          for name in ("tasks", "pair_orders", "loops", "loop_orders")),
        sa.PrimaryKeyConstraint('day', 'kind', 'prev_bpmn_id', 'bpmn_id', 'lane', name='pk_flow_days'),
    )
    from app.services.daily_stats import backfill_flow  # the same counting as a task's opening, over every task

    backfill_flow(op.get_bind())


def downgrade():
    op.drop_table('flow_days')
