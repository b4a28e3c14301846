"""the rating's daily rows (rating_days): each person's completed tasks, returns and orders worked per day, counted
from the task rows so far

Revision ID: c2e4a6b8d0f1
Revises: c1e3a5b7d9f2
Create Date: 2026-12-02 11:30:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c2e4a6b8d0f1'
down_revision = 'c1e3a5b7d9f2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'rating_days',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('lane', sa.String(length=40), nullable=False),
        sa.Column('since', sa.Date(), nullable=False),
        *(sa.Column(name, sa.Integer(), server_default='0', nullable=False)
          for name in ("tasks", "with_due", "on_time", "reworked", "orders")),
        sa.PrimaryKeyConstraint('day', 'user_id', 'lane', 'since', name='pk_rating_days'),
    )
    from app.services.rating_stats import backfill  # the same counting as a flush's, over every task

    backfill(op.get_bind())


def downgrade():
    op.drop_table('rating_days')
