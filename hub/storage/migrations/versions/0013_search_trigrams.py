"""Trigram indexes for the workspace's search on PostgreSQL

Revision ID: trgm_0013
Revises: regchg_0012
Create Date: 2026-12-06 08:40:00

`GET /api/residents?q=`, the residents page and the board search residents by id, name,
address and a contact's phone with `ILIKE '%text%'`: a scan of every resident, which grows with
the city (issue 18 item 5). GIN indexes of trigrams (extension pg_trgm, shipped with PostgreSQL
and trusted: the database owner may create it) answer it from the index. Nothing on SQLite.
"""

from collections.abc import Sequence

from alembic import op

revision: str = 'trgm_0013'
down_revision: str | None = 'regchg_0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (("residents", "id"), ("residents", "name"), ("residents", "address"), ("contacts", "phone"))


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for table, column in INDEXES:
        op.create_index(f"ix_{table}_{column}_trgm", table, [column], postgresql_using="gin",
                        postgresql_ops={column: "gin_trgm_ops"})


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    for table, column in INDEXES:
        op.drop_index(f"ix_{table}_{column}_trgm", table_name=table)
