"""customer message language: the customer chooses it on the status page

Revision ID: d5e13f4a7b62
Revises: c4d92e3f6a51
Create Date: 2026-11-28 17:06:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'd5e13f4a7b62'
down_revision = 'c4d92e3f6a51'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locale', sa.String(length=8), server_default='ru', nullable=False))


def downgrade():
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_column('locale')
