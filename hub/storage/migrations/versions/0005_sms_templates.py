"""SMS templates (issue 17): template id and parameters on the outbox, short responder links

Revision ID: c17a
Revises: 0004
Create Date: 2026-12-06 00:30:00

Follows 0004 (sms_inbound, which the Aliyun and Tencent pushes use too); if another revision lands
first, re-chain `down_revision`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'c17a'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('template', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('params', sa.JSON(), nullable=True))
    op.create_table('short_links',
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('expires_at', sa.Float(), nullable=False),
    sa.Column('alert_id', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_short_links'))
    )
    with op.batch_alter_table('short_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_short_links_alert_id'), ['alert_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_short_links_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('short_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_short_links_expires_at'))
        batch_op.drop_index(batch_op.f('ix_short_links_alert_id'))
    op.drop_table('short_links')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_column('params')
        batch_op.drop_column('template')
