"""claim photos: the attachments a customer sent with a claim

Revision ID: c4d92e3f6a51
Revises: b3c81d2e5f40
Create Date: 2026-11-28 16:05:00

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = 'c4d92e3f6a51'
down_revision = 'b3c81d2e5f40'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.add_column(sa.Column('photos', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True))


def downgrade():
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.drop_column('photos')
