"""events: partition key column `day`; on PostgreSQL partitioned by channel, then by day

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 16:30:00

SQLite keeps the plain table and only gains the column. On PostgreSQL the plain table becomes
the partitioned layout of hub/storage/partitioning.py, every row kept (docs/SCALE_OUT.md).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from hub.clock import SystemClock
from hub.storage.partitioning import DAY_S, convert_events, unconvert_events

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        convert_events(bind, SystemClock().now())  # adds and fills `day` as it moves the rows
        return
    if "day" not in {c["name"] for c in sa.inspect(bind).get_columns("events")}:
        # SQLite adds a NOT NULL column only with a default; filled right after.
        op.add_column("events", sa.Column("day", sa.Integer(), nullable=False, server_default="0"))
    op.execute(f"UPDATE events SET day = CAST(COALESCE(device_ts, received_at) / {DAY_S} AS INTEGER)")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        unconvert_events(bind)
    with op.batch_alter_table("events") as batch_op:
        batch_op.drop_column("day")
