"""index of components by status (the workshops' boards: the components still needed or ordered)

Revision ID: b9d1e3f5a7c2
Revises: a4c6e8f0b2d4
Create Date: 2026-12-02 11:30:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'b9d1e3f5a7c2'
down_revision = 'a4c6e8f0b2d4'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('components', schema=None) as batch_op:
        batch_op.create_index('ix_components_status', ['status', 'order_id'], unique=False)
    # The planner's figures for the new index: without them SQLite, holding figures for the table's other index,
    # keeps walking that one (the production board at 100,000 orders: 101 ms instead of 48).
    op.execute("ANALYZE components")


def downgrade():
    with op.batch_alter_table('components', schema=None) as batch_op:
        batch_op.drop_index('ix_components_status')
