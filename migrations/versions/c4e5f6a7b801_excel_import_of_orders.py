"""excel import of orders: order_imports, orders.external_ref and orders.import_id

Revision ID: c4e5f6a7b801
Revises: 64e80d80b754
Create Date: 2026-12-01 23:50:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

import app.models.base


# revision identifiers, used by Alembic.
revision = 'c4e5f6a7b801'
down_revision = '64e80d80b754'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade():
    op.create_table('order_imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('file_name', sa.String(length=255), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('valid', sa.Integer(), nullable=False),
    sa.Column('created', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('errors', JSON, nullable=True),
    sa.Column('payloads', JSON, nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('started', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_order_imports_uploaded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_imports'))
    )
    with op.batch_alter_table('order_imports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_imports_sha256'), ['sha256'], unique=False)

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('external_ref', sa.String(length=60), nullable=True))
        batch_op.create_index(batch_op.f('ix_orders_external_ref'), ['external_ref'], unique=True)
        batch_op.add_column(sa.Column('import_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_orders_import_id'), ['import_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_orders_import_id_order_imports'), 'order_imports', ['import_id'],
                                    ['id'])


def downgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_orders_import_id_order_imports'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_orders_import_id'))
        batch_op.drop_column('import_id')
        batch_op.drop_index(batch_op.f('ix_orders_external_ref'))
        batch_op.drop_column('external_ref')

    with op.batch_alter_table('order_imports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_imports_sha256'))

    op.drop_table('order_imports')
