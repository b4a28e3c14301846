"""each order's arrived components counted beside it by triggers (the workshops' boards add up the active orders')

Revision ID: c1e3a5b7d9f2
Revises: b9d1e3f5a7c2
Create Date: 2026-12-02 11:40:00

"""
import sqlalchemy as sa
from alembic import op

from app.models.component_counts import install_component_counts

# revision identifiers, used by Alembic.
revision = 'c1e3a5b7d9f2'
down_revision = 'b9d1e3f5a7c2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'order_component_counts',
        sa.Column('order_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('arrived', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_component_counts_order_id_orders'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('order_id', name=op.f('pk_order_component_counts')),
    )
    with op.batch_alter_table('order_component_counts', schema=None) as batch_op:
        batch_op.create_index('ix_order_component_counts_active', ['active', 'arrived'], unique=False)
    # the triggers, and every order's count from its components: `arrived` alone, the table as this revision makes
    # it (a later one adds the needed and ordered counts)
    install_component_counts(op.get_bind(), ("arrived",))


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for when in ("insert", "delete", "update", "order_status", "order_delete"):
            op.execute(f"DROP TRIGGER IF EXISTS component_counts_{when}")
    else:
        op.execute("DROP TRIGGER IF EXISTS component_counts ON components")
        op.execute("DROP TRIGGER IF EXISTS component_counts ON orders")
        op.execute("DROP FUNCTION IF EXISTS component_counts_of_components()")
        op.execute("DROP FUNCTION IF EXISTS component_counts_of_orders()")
    with op.batch_alter_table('order_component_counts', schema=None) as batch_op:
        batch_op.drop_index('ix_order_component_counts_active')
    op.drop_table('order_component_counts')
