"""customer cards of partners: the partner whose intake a customer record holds

Revision ID: a7c3e5f9b214
Revises: d5e13f4a7b62
Create Date: 2026-12-01 09:20:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'a7c3e5f9b214'
down_revision = 'd5e13f4a7b62'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('partner_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_customers_partner_id'), ['partner_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_customers_partner_id_partners'), 'partners', ['partner_id'], ['id'])


def downgrade():
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_customers_partner_id_partners'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_customers_partner_id'))
        batch_op.drop_column('partner_id')
