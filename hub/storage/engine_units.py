"""The rules engine's state in `engine_units`: one compact JSON row per unit, written in the
decision's transaction for only the units it changed, read back in one query at start-up.

See hub/storage/models.py `EngineUnit` and docs/SCALE_OUT.md ("Engine state per unit")."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import msgspec
from sqlalchemy import Table, delete, select
from sqlalchemy.orm import Session

from hub.storage import models as m

META = "@meta"  # the row of the engine's time, counters and event watermark (not a unit)
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


# The upsert as the driver runs it, past SQLAlchemy's per-row parameter processing (on SQLite ~14,000 of
# write_units' ~48,000 instructions a unit; docs/BENCHMARKS.md "Session 15: the drain's CPU").
_SQLITE_UPSERT = "INSERT INTO engine_units (scope, unit, data) VALUES (?, ?, ?) ON CONFLICT (scope, unit) DO UPDATE SET data = excluded.data"
# PostgreSQL: one statement of two text[] literals, in the given order (psycopg's executemany runs row by
# row in Python, and a list parameter is dumped value by value: hub/ingest/store.py `pg_array_literals`)
_PG_UPSERT = ("INSERT INTO engine_units (scope, unit, data) SELECT %s, u, d FROM unnest(%s::text[], %s::text[]) "
              "WITH ORDINALITY AS t(u, d, n) ORDER BY n ON CONFLICT (scope, unit) DO UPDATE SET data = excluded.data")


def write_units(session: Session, scope: str, changed: Mapping[str, dict[str, Any] | None]) -> int:
    """Upsert the changed units' rows (None: delete the row) in `session`; returns the bytes of
    JSON written. Sorted: a stable lock order across hubs sharing a database."""
    rows = [(scope, unit, _encode(data).decode()) for unit, data in sorted(changed.items()) if data is not None]
    gone = sorted(unit for unit, data in changed.items() if data is None)
    if rows:
        cursor = session.connection().connection.cursor()  # the session's connection, in its transaction
        try:
            if session.get_bind().dialect.name == "postgresql":
                cursor.execute(_PG_UPSERT, (scope, _pg_text_array([row[1] for row in rows]), _pg_text_array([row[2] for row in rows])))
            else:
                cursor.executemany(_SQLITE_UPSERT, rows)
        finally:
            cursor.close()
    if gone:
        table: Table = m.EngineUnit.__table__  # type: ignore[assignment]
        session.execute(delete(table).where(table.c.scope == scope, table.c.unit.in_(gone)))
    return sum(len(row[2]) for row in rows)


def _pg_text_array(values: list[str]) -> str:
    """A PostgreSQL text[] literal: each value quoted, its backslashes and double quotes escaped."""
    return "{" + ",".join(['"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values]) + "}"


def read_meta(session: Session, scope: str) -> dict[str, Any] | None:
    data = session.scalar(select(m.EngineUnit.data).where(m.EngineUnit.scope == scope, m.EngineUnit.unit == META))
    return None if data is None else _decode(data)


def read_units(session: Session, scope: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every unit row of `scope` (not the meta row), decoded, in one streamed query."""
    table: Table = m.EngineUnit.__table__  # type: ignore[assignment]
    query = select(table.c.unit, table.c.data).where(table.c.scope == scope, table.c.unit != META)
    result = session.execute(query.execution_options(yield_per=10_000))
    for unit, data in result:
        yield unit, _decode(data)


def forget_units(session: Session, units: list[str]) -> int:
    """Delete these units' rows in every scope (privacy erasure); returns how many."""
    table: Table = m.EngineUnit.__table__  # type: ignore[assignment]
    return int(session.execute(delete(table).where(table.c.unit.in_(units))).rowcount or 0)  # type: ignore[attr-defined]
