"""Channels (issue 17): every outbox row says its channel, sms | voice | group

Revision ID: channels_a
Revises: shft
Create Date: 2026-12-06 02:50:00

Existing rows are texts: the column defaults to 'sms'. If another revision lands first,
re-chain `down_revision`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'channels_a'
down_revision: str | None = 'shft'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel', sa.String(length=8), server_default='sms', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_column('channel')
