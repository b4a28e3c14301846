"""order status link keys (revocable, rotatable customer links)

Revision ID: b3c81d2e5f40
Revises: fa7a610a8652
Create Date: 2026-11-28 16:05:00

"""
import secrets

import sqlalchemy as sa
from alembic import op

revision = 'b3c81d2e5f40'
down_revision = 'fa7a610a8652'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status_key', sa.String(length=32), nullable=True))
    # Links given out before this revision carried no key: existing orders get a fresh one (old links stop).
    bind = op.get_bind()
    orders = sa.table('orders', sa.column('id', sa.Integer), sa.column('status_key', sa.String))
    for (order_id,) in bind.execute(sa.select(orders.c.id)).all():
        bind.execute(orders.update().where(orders.c.id == order_id).values(status_key=secrets.token_urlsafe(16)))


def downgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('status_key')
