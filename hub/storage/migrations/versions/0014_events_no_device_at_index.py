"""events: drop ix_events_device_at (device_id, received_at)

Revision ID: evix_0014
Revises: dsff_0013
Create Date: 2026-12-07 03:00:00

Every read of events by device filters on device_id, then on `at` (not `received_at`): the
dedup key uq_events_dedup (device_id, seq, device_ts[, channel, day]) leads with device_id and
serves them as well. Ingestion no longer pays a third index entry per event (~1.3 µs of
PostgreSQL's CPU each, docs/BENCHMARKS.md "Session 13"). On a partitioned `events` dropping the
parent's index drops each partition's. Re-chain `down_revision` if another revision lands first.
"""

from collections.abc import Sequence

from alembic import op

revision: str = 'evix_0014'
down_revision: str | None = 'dsff_0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_events_device_at", table_name="events", if_exists=True)


def downgrade() -> None:
    op.create_index("ix_events_device_at", "events", ["device_id", "received_at"], unique=False)
