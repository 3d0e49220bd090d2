"""security (issue 16): inbound SMS ids acted on once; indexes the retention purges use

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05 23:59:00

- `sms_inbound` (provider, sid): each inbound SMS acts at most once (finding 1);
- indexes on the times the retention job purges by (finding 14).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sms_inbound',
    sa.Column('provider', sa.String(length=16), nullable=False),
    sa.Column('sid', sa.String(length=64), nullable=False),
    sa.Column('received_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('provider', 'sid', name=op.f('pk_sms_inbound'))
    )
    with op.batch_alter_table('sms_inbound', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sms_inbound_received_at'), ['received_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sms_inbound', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sms_inbound_received_at'))
    op.drop_table('sms_inbound')
