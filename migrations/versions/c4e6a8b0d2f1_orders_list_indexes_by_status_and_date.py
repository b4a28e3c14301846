"""the orders list of one status sorted by the promised or predicted date reads its page from an index; the index
of a customer's orders carries their ids (a search by a name reads no order row for them on PostgreSQL)

Revision ID: c4e6a8b0d2f1
Revises: b9d1f3a5c7e0
Create Date: 2026-12-03 06:50:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c4e6a8b0d2f1'
down_revision = 'b9d1f3a5c7e0'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_status_promised', ['status', 'promised_date', 'id'], unique=False)
        batch_op.create_index('ix_orders_status_predicted', ['status', 'predicted_on', 'id'], unique=False)
        batch_op.drop_index('ix_orders_customer_id')
        batch_op.create_index('ix_orders_customer_id', ['customer_id', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_customer_id')
        batch_op.create_index('ix_orders_customer_id', ['customer_id'], unique=False)
        batch_op.drop_index('ix_orders_status_predicted')
        batch_op.drop_index('ix_orders_status_promised')
