"""Engine state per unit (issue 18): `engine_units` replaces the full snapshot in `engine_state`

Revision ID: state_0006
Revises: wsa_0010
Create Date: 2026-12-06 02:40:00

The old snapshot rows (`engine_state` keys `engine`, `engine:<p>`) are upgraded by the hub on
its first start (hub/rules/runtime.py `HubCore._load`): splitting them into units needs the
registry, which the migration does not read. Re-chain `down_revision` if another revision
lands first.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'state_0006'
down_revision: str | None = 'wsa_0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('engine_units',
    sa.Column('scope', sa.String(length=64), nullable=False),
    sa.Column('unit', sa.String(length=200), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('scope', 'unit', name=op.f('pk_engine_units'))
    )


def downgrade() -> None:
    op.drop_table('engine_units')
