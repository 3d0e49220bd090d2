"""Workspace (issue 19): residents and devices can be retired (kept for their history)

Revision ID: wsa_0010
Revises: reasons_a1
Create Date: 2026-12-06 02:40:00

A retired resident or device leaves the rules (not in the engine's registry snapshot) and the
board's lists, and keeps its events, alerts and audit. Re-chain `down_revision` at merge when
another revision lands first.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'wsa_0010'
down_revision: str | None = 'reasons_a1'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ('residents', 'devices'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('retired_at', sa.Float(), nullable=True))


def downgrade() -> None:
    for table in ('residents', 'devices'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('retired_at')
