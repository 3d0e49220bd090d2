"""Reason codes (issue 15): alerts keep why they opened as a code and values; person states too

Revision ID: reasons_a1
Revises: scop
Create Date: 2026-12-06 02:40:00

Old alert rows keep their English sentence in `reason` and get no `reason_data`: they read back
as the code `legacy_text` showing that sentence. If another revision lands first, re-chain
`down_revision`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'reasons_a1'
down_revision: str | None = 'scop'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reason_data', sa.JSON(), nullable=True))
    with op.batch_alter_table('resident_status', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reason_params', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('resident_status', schema=None) as batch_op:
        batch_op.drop_column('reason_params')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_column('reason_data')
