"""Registry changes log: which residents and devices a write changed, for every hub to adopt

Revision ID: regchg_0012
Revises: state_0006
Create Date: 2026-12-06 06:00:00

Every write to the registry (import, workspace edit, absence) appends a row; each hub tails the
log and adopts only those entries instead of reloading the whole registry every 30 s
(issue 18 item 5). Re-chain `down_revision` if another revision lands first.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'regchg_0012'
down_revision: str | None = 'state_0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('registry_changes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('residents', sa.JSON(), nullable=False),
    sa.Column('devices', sa.JSON(), nullable=False),
    sa.Column('full', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registry_changes'))
    )


def downgrade() -> None:
    op.drop_table('registry_changes')
