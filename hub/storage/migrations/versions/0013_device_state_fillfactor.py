"""device_state: fillfactor 50 on PostgreSQL, so that ingestion's updates stay on their page

Revision ID: dsff_0013
Revises: regchg_0012
Create Date: 2026-12-07 03:00:00

Each ingestion batch updates the row of every device it saw; with room left on the page the
new version is a HOT update (no new index entry). Applies to pages written from now on; a
`VACUUM FULL device_state` in a quiet hour rewrites the old ones. SQLite: nothing to do.
Re-chain `down_revision` if another revision lands first.
"""

from collections.abc import Sequence

from alembic import op

revision: str = 'dsff_0013'
down_revision: str | None = 'regchg_0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE device_state SET (fillfactor = 50)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE device_state RESET (fillfactor)")
