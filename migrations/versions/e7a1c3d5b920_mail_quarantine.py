"""mail quarantine: e-mail about an order from an unverified sender waits for a person

Revision ID: e7a1c3d5b920
Revises: a7c3e5f9b214
Create Date: 2026-12-01 09:10:00

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = 'e7a1c3d5b920'
down_revision = 'a7c3e5f9b214'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'mail_quarantine',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('inbound_id', sa.Integer(), nullable=False),
        sa.Column('order_id', sa.Integer(), nullable=True),
        sa.Column('intent', sa.String(length=10), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('authentication', sa.Text(), nullable=False),
        sa.Column('envelope_to', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'),
                  nullable=True),
        sa.Column('raw', sa.LargeBinary(), nullable=False),
        sa.Column('held_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['inbound_id'], ['inbound_messages.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('inbound_id'),
    )


def downgrade():
    op.drop_table('mail_quarantine')
