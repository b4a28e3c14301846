"""a component counted up reads its order's status FOR SHARE (PostgreSQL): an order cancelled while its first
component was being added no longer stays counted as an active order waiting for components

Revision ID: b9d1f3a5c7e0
Revises: a8c0e2f4b6d9
Create Date: 2026-12-02 18:35:00

"""
from alembic import op
from sqlalchemy import text

from app.models.component_counts import install_component_counts, postgresql_statements

# revision identifiers, used by Alembic.
revision = 'b9d1f3a5c7e0'
down_revision = 'a8c0e2f4b6d9'
branch_labels = None
depends_on = None


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        install_component_counts(bind)  # the triggers' function remade, and every order's counts afresh (a row
        # the race left marked active is put right)


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for statement in postgresql_statements(share_order=False):
            bind.execute(text(statement))
