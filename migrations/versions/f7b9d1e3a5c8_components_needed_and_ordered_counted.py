"""each order's components still needed and ordered counted beside it too (the workshops' boards read the orders
waiting for components from a partial index, not every component joined with its order)

Revision ID: f7b9d1e3a5c8
Revises: e6a8c0d2f4b5
Create Date: 2026-12-02 15:40:00

"""
import sqlalchemy as sa
from alembic import op

from app.models.component_counts import WAITING, install_component_counts

# revision identifiers, used by Alembic.
revision = 'f7b9d1e3a5c8'
down_revision = 'e6a8c0d2f4b5'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('order_component_counts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('needed', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('ordered', sa.Integer(), server_default='0', nullable=False))
    op.create_index('ix_order_component_counts_waiting', 'order_component_counts', ['order_id', 'needed', 'ordered'],
                    unique=False, sqlite_where=sa.text(WAITING), postgresql_where=sa.text(WAITING))
    install_component_counts(op.get_bind())  # the triggers count all three; every order's counts made afresh
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ANALYZE order_component_counts")  # the new index's figures, or the planner may pass it by


def downgrade():
    op.drop_index('ix_order_component_counts_waiting', table_name='order_component_counts')
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":  # the batch's copy of the table is renamed: no trigger may name it meanwhile
        for when in ("insert", "delete", "update", "order_status", "order_delete"):
            op.execute(f"DROP TRIGGER IF EXISTS component_counts_{when}")
    with op.batch_alter_table('order_component_counts', schema=None) as batch_op:
        batch_op.drop_column('ordered')
        batch_op.drop_column('needed')
    install_component_counts(bind, ("arrived",))  # the triggers of the previous revision, its counts afresh
