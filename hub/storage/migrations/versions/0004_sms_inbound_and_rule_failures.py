"""security (issue 16, hub side): inbound SMS ids acted on once; events a rule raised on

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 23:59:00

- `sms_inbound` (provider, sid): each inbound SMS acts at most once (finding 1);
- `rule_failures`: stored events a rule raised on, skipped by the engine (finding 17).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
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

    op.create_table('rule_failures',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=True),
    sa.Column('device_ts', sa.Float(), nullable=True),
    sa.Column('received_at', sa.Float(), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rule_failures')),
    sa.UniqueConstraint('key', name=op.f('uq_rule_failures_key'))
    )
    with op.batch_alter_table('rule_failures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rule_failures_device_id'), ['device_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('rule_failures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rule_failures_device_id'))
    op.drop_table('rule_failures')
    with op.batch_alter_table('sms_inbound', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sms_inbound_received_at'))
    op.drop_table('sms_inbound')
