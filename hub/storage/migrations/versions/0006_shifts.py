"""Operators' on-duty roster (issue 19, shifts)

Revision ID: shft
Revises: c17a
Create Date: 2026-12-06 02:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'shft'
down_revision: str | None = 'c17a'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('shifts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('responder_id', sa.String(length=64), nullable=False),
    sa.Column('starts_at', sa.Float(), nullable=False),
    sa.Column('ends_at', sa.Float(), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['responder_id'], ['responders.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_shifts_window', 'shifts', ['starts_at', 'ends_at'], unique=False)
    op.create_index(op.f('ix_shifts_responder_id'), 'shifts', ['responder_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_shifts_responder_id'), table_name='shifts')
    op.drop_index('ix_shifts_window', table_name='shifts')
    op.drop_table('shifts')
