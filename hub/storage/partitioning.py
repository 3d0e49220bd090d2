"""PostgreSQL: the `events` table partitioned by channel, then by day (docs/SCALE_OUT.md).

    events              PARTITION BY LIST (channel)
    ├── events_gps      FOR VALUES IN ('gps')  PARTITION BY RANGE (day)
    │   ├── events_gps_20261126   one UTC day      (dropped whole by retention)
    │   └── events_gps_default    any other day    (row deletes by retention)
    └── events_rest     DEFAULT                PARTITION BY RANGE (day)
        ├── events_rest_202611    one UTC month    (kept: only locations expire)
        └── events_rest_default   any other day

`day` is the UTC day of the device's own ts (of the receive time when the message had none):
a function of the dedup key (device, seq, ts), so the unique key (device, seq, ts, channel,
day) that PostgreSQL demands (it must hold the partition keys) is as exact as (device, seq,
ts) for a redelivery, which has the same topic and ts. SQLite keeps the plain table.

Partitions are created ahead (today .. today + AHEAD_DAYS) by the retention job, at hub start
and by `pingan db upgrade`; a row for a day without one lands in the DEFAULT partition and is
moved into the day's partition when that is created (PostgreSQL refuses to create a partition
whose rows sit in the DEFAULT one). DDL runs under an advisory lock, with a short lock timeout
so that ingestion never waits long behind it (a timed out step is retried at the next run).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError

log = logging.getLogger("pingan.partitioning")

DAY_S = 86400
AHEAD_DAYS = 2
BACK_DAYS = 400  # a conversion gives days older than this (and any odd day) to DEFAULT
LOCK_KEY = 0x70696E67616E  # pg_advisory_lock key of partition maintenance ("pingan")
LOCK_TIMEOUT = "2s"  # DDL waiting longer than this for a table lock gives up (ingestion waits behind it)
GPS_DAY = re.compile(r"^events_gps_(\d{8})$")
REST_MONTH = re.compile(r"^events_rest_(\d{6})$")
CONVERTED_SUFFIX = "_plain"


def day_of(device_ts: float | None, received_at: float) -> int:
    """The partition day of a message: UTC day of its device ts, else of its receive time."""
    return int((device_ts if device_ts is not None else received_at) // DAY_S)


def day_date(day: int) -> date:
    return date(1970, 1, 1) + timedelta(days=day)


def date_day(d: date) -> int:
    return (d - date(1970, 1, 1)).days


def gps_name(day: int) -> str:
    return f"events_gps_{day_date(day):%Y%m%d}"


def _gps_day(name: str) -> int:
    found = GPS_DAY.match(name)
    assert found, name
    return date_day(datetime.strptime(found.group(1), "%Y%m%d").replace(tzinfo=UTC).date())


def month_bounds(day: int) -> tuple[int, int]:
    """[first day, first day of the next month) of the month holding `day`."""
    d = day_date(day)
    first = d.replace(day=1)
    after = (first + timedelta(days=32)).replace(day=1)
    return date_day(first), date_day(after)


def rest_name(day: int) -> str:
    return f"events_rest_{day_date(day):%Y%m}"


def is_partition_table(name: str) -> bool:
    """Tables of the layout below `events` (Alembic's autogenerate must not see them)."""
    return name in ("events_gps", "events_gps_default", "events_rest", "events_rest_default") or bool(
        GPS_DAY.match(name) or REST_MONTH.match(name)
    )


# --- what is there ------------------------------------------------------------------------


def is_partitioned(conn: Connection) -> bool:
    if conn.dialect.name != "postgresql":
        return False
    return bool(conn.scalar(text(
        "SELECT EXISTS (SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
        "WHERE c.relname = 'events' AND c.relnamespace = current_schema()::regnamespace)"
    )))


def _children(conn: Connection, parent: str) -> set[str]:
    return set(conn.scalars(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = CAST(:parent AS regclass)"
    ), {"parent": parent}))


def _tables_like(conn: Connection, pattern: str) -> set[str]:
    return set(conn.scalars(text(
        "SELECT relname FROM pg_class WHERE relkind IN ('r', 'p') AND relname ~ :pattern "
        "AND relnamespace = current_schema()::regnamespace"
    ), {"pattern": pattern}))


# --- creating -----------------------------------------------------------------------------


def convert_events(conn: Connection, now: float) -> int:
    """Turn a plain `events` table (revision 0001, or `create_all`) into the partitioned layout,
    keeping every row and the id sequence; returns the number of rows moved. In the caller's
    transaction; a no-op when already partitioned (or not PostgreSQL)."""
    if conn.dialect.name != "postgresql" or is_partitioned(conn):
        return 0
    old = "events" + CONVERTED_SUFFIX
    conn.execute(text("ALTER TABLE events ADD COLUMN IF NOT EXISTS day INTEGER"))
    conn.execute(text(f"ALTER TABLE events RENAME TO {old}"))
    _drop_indexes_and_constraints(conn, old)
    sequence = conn.scalar(text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": old})
    conn.execute(text(f"CREATE TABLE events (LIKE {old} INCLUDING DEFAULTS) PARTITION BY LIST (channel)"))
    if sequence:
        conn.execute(text(f"ALTER SEQUENCE {sequence} OWNED BY events.id"))
    _create_layout(conn)
    today = int(now // DAY_S)
    days = conn.execute(text(
        f"SELECT DISTINCT channel = 'gps', COALESCE(day, FLOOR(COALESCE(device_ts, received_at) / {DAY_S})::int) "
        f"FROM {old}"
    )).all()
    wanted_gps = {d for gps, d in days if gps and today - BACK_DAYS <= d <= today + AHEAD_DAYS}
    wanted_rest = {d for gps, d in days if not gps and today - BACK_DAYS <= d <= today + AHEAD_DAYS}
    for day in sorted(wanted_gps | set(range(today, today + AHEAD_DAYS + 1))):
        _create_gps_day(conn, day)
    for first in sorted({month_bounds(d)[0] for d in wanted_rest | set(range(today, today + AHEAD_DAYS + 1))}):
        _create_rest_month(conn, first)
    columns = [c for c in conn.scalars(text(
        "SELECT attname FROM pg_attribute WHERE attrelid = CAST(:t AS regclass) AND attnum > 0 AND NOT attisdropped "
        "ORDER BY attnum"), {"t": old}) if c != "day"]
    listed = ", ".join(f'"{c}"' for c in columns)
    moved = conn.execute(text(
        f"INSERT INTO events ({listed}, day) SELECT {listed}, "
        f"COALESCE(day, FLOOR(COALESCE(device_ts, received_at) / {DAY_S})::int) FROM {old}"
    )).rowcount
    conn.execute(text(f"DROP TABLE {old}"))
    log.info("events converted to the partitioned layout rows=%d", moved)
    return int(moved or 0)


def _drop_indexes_and_constraints(conn: Connection, table: str) -> None:
    """Free the names (pk_events, uq_events_dedup, ix_events_*) for the new table."""
    for (name,) in conn.execute(text(
        "SELECT conname FROM pg_constraint WHERE conrelid = CAST(:t AS regclass) AND contype IN ('p', 'u')"
    ), {"t": table}):
        conn.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
    for (name,) in conn.execute(text("SELECT indexname FROM pg_indexes WHERE tablename = :t"), {"t": table}):
        conn.execute(text(f'DROP INDEX "{name}"'))


# The partition keys must be in every unique key; `day` follows (device, seq, ts).
LAYOUT_DDL = (
    "ALTER TABLE events ALTER COLUMN day SET NOT NULL",
    "ALTER TABLE events ADD CONSTRAINT pk_events PRIMARY KEY (id, channel, day)",
    "ALTER TABLE events ADD CONSTRAINT uq_events_dedup UNIQUE (device_id, seq, device_ts, channel, day)",
    "CREATE INDEX ix_events_unruled ON events (partition, at, id) WHERE NOT ruled",
    "CREATE TABLE events_gps PARTITION OF events FOR VALUES IN ('gps') PARTITION BY RANGE (day)",
    "CREATE TABLE events_gps_default PARTITION OF events_gps DEFAULT",
    "CREATE TABLE events_rest PARTITION OF events DEFAULT PARTITION BY RANGE (day)",
    "CREATE TABLE events_rest_default PARTITION OF events_rest DEFAULT",
    # Retention scrubs coordinates of non-GPS events: ingestion stores none there, so this
    # index stays empty and spares the daily job a scan of every event ever kept.
    "CREATE INDEX ix_events_rest_located ON events_rest (id) WHERE lat IS NOT NULL OR lon IS NOT NULL",
)


def _create_layout(conn: Connection) -> None:
    for statement in LAYOUT_DDL:
        conn.execute(text(statement))


def _create_gps_day(conn: Connection, day: int) -> bool:
    return _create_partition(conn, "events_gps", gps_name(day), day, day + 1)


def _create_rest_month(conn: Connection, day: int) -> bool:
    first, after = month_bounds(day)
    return _create_partition(conn, "events_rest", rest_name(first), first, after)


def _create_partition(conn: Connection, parent: str, name: str, lo: int, hi: int) -> bool:
    """Create `name` for days [lo, hi) unless it exists, first moving the DEFAULT partition's
    rows of those days into it (PostgreSQL refuses the partition while they sit there)."""
    if conn.scalar(text("SELECT to_regclass(:n)"), {"n": name}) is not None:
        return False
    default = parent + "_default"
    # Taken first and held to commit: nothing enters the DEFAULT partition while we move.
    conn.execute(text(f"LOCK TABLE {parent} IN ACCESS EXCLUSIVE MODE"))
    stray = conn.scalar(text(f"SELECT EXISTS (SELECT 1 FROM {default} WHERE day >= :lo AND day < :hi)"),
                        {"lo": lo, "hi": hi})
    if stray:
        conn.execute(text(f"CREATE TEMP TABLE _stray (LIKE {default}) ON COMMIT DROP"))
        conn.execute(text(f"WITH d AS (DELETE FROM {default} WHERE day >= :lo AND day < :hi RETURNING *) "
                          "INSERT INTO _stray SELECT * FROM d"), {"lo": lo, "hi": hi})
    conn.execute(text(f"CREATE TABLE {name} PARTITION OF {parent} FOR VALUES FROM ({lo}) TO ({hi})"))
    if stray:
        conn.execute(text(f"INSERT INTO {parent} SELECT * FROM _stray"))
        conn.execute(text("DROP TABLE _stray"))
    log.info("partition created name=%s moved_from_default=%s", name, bool(stray))
    return True


# --- maintenance (the retention job, hub start, db upgrade) ----------------------------------


@contextmanager
def maintenance(engine: Engine) -> Iterator[Connection | None]:
    """A connection holding the partition maintenance lock (other hubs wait for it), or None
    when `events` is not partitioned (SQLite; a PostgreSQL schema made by `create_all` alone)."""
    with engine.connect() as conn:
        if not is_partitioned(conn):
            conn.rollback()
            yield None
            return
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": LOCK_KEY})
        conn.commit()
        try:
            yield conn
        finally:
            conn.rollback()
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
            conn.commit()


def ensure_partitions(conn: Connection, now: float, ahead_days: int = AHEAD_DAYS) -> list[str]:
    """Create the partitions of today .. today + ahead_days (GPS days, rest months), one
    transaction each; returns the names created. A step that times out waiting for its lock
    is logged and left to the next run (the rows meanwhile go to DEFAULT)."""
    today = int(now // DAY_S)
    days = range(today, today + ahead_days + 1)
    steps = [(gps_name(d), lambda c, d=d: _create_gps_day(c, d)) for d in days]
    steps += [(rest_name(f), lambda c, f=f: _create_rest_month(c, f)) for f in sorted({month_bounds(d)[0] for d in days})]
    created = []
    for name, step in steps:
        if _ddl(conn, step, name):
            created.append(name)
    return created


@contextmanager
def _transaction(conn: Connection) -> Iterator[None]:
    """A transaction of its own (ending the one a catalog read began)."""
    if conn.in_transaction():
        conn.commit()
    with conn.begin():
        yield


def _ddl(conn: Connection, step: Callable[[Connection], bool], what: str) -> bool:
    """Run `step(conn)` in its own transaction with a short lock timeout; False if it did nothing."""
    try:
        with _transaction(conn):
            conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
            return step(conn)
    except OperationalError as exc:
        log.warning("partition maintenance step %s skipped, next run retries: %s", what, exc.orig)
        return False


def _detach_gps(conn: Connection, name: str) -> bool:
    conn.execute(text(f"ALTER TABLE events_gps DETACH PARTITION {name}"))
    return True


@dataclass
class Dropped:
    name: str
    rows: int


def drop_expired_gps(conn: Connection, cutoff: float) -> list[Dropped]:
    """Drop the GPS day partitions whose whole day is before `cutoff` (attached, or detached by
    a run that stopped half-way): DETACH (a short lock of events_gps), count, DROP.

    Not DETACH ... CONCURRENTLY: PostgreSQL refuses it with a DEFAULT partition, and inside a
    transaction; a plain DETACH holds the parent's lock for milliseconds, bounded by the lock timeout."""
    last_expired = int(cutoff // DAY_S) - 1  # the cutoff's own day keeps its rows until the next run
    attached = _children(conn, "events_gps")
    dropped = []
    for name in sorted(_tables_like(conn, GPS_DAY.pattern)):
        if _gps_day(name) > last_expired:
            continue
        if name in attached and not _ddl(conn, functools.partial(_detach_gps, name=name), f"detach {name}"):
            continue
        with _transaction(conn):  # the table is out of events: counting it blocks nobody
            rows = int(conn.scalar(text(f"SELECT count(*) FROM {name}")) or 0)
            conn.execute(text(f"DROP TABLE {name}"))
        dropped.append(Dropped(name, rows))
        log.info("partition dropped name=%s rows=%d", name, rows)
    return dropped


def unconvert_events(conn: Connection) -> None:
    """Back to the plain table of revision 0001 (Alembic downgrade), keeping the rows."""
    if not is_partitioned(conn):
        return
    old = "events_partitioned"
    conn.execute(text(f"ALTER TABLE events RENAME TO {old}"))
    _drop_indexes_and_constraints(conn, old)
    conn.execute(text("DROP INDEX IF EXISTS ix_events_rest_located"))
    sequence = conn.scalar(text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": old})
    conn.execute(text(f"CREATE TABLE events (LIKE {old} INCLUDING DEFAULTS)"))
    if sequence:
        conn.execute(text(f"ALTER SEQUENCE {sequence} OWNED BY events.id"))
    for statement in (
        "ALTER TABLE events ADD CONSTRAINT pk_events PRIMARY KEY (id)",
        "ALTER TABLE events ADD CONSTRAINT uq_events_dedup UNIQUE (device_id, seq, device_ts)",
        "CREATE INDEX ix_events_device_at ON events (device_id, received_at)",
        "CREATE INDEX ix_events_unruled ON events (partition, at, id) WHERE NOT ruled",
        f"INSERT INTO events SELECT * FROM {old} ORDER BY id ON CONFLICT DO NOTHING",
        f"DROP TABLE {old}",
    ):
        conn.execute(text(statement))


def drop_detached(conn: Connection) -> None:
    """Drop day/month tables outside `events` (left by an interrupted run, or by `drop_all`)."""
    for name in _tables_like(conn, GPS_DAY.pattern) | _tables_like(conn, REST_MONTH.pattern):
        conn.execute(text(f"DROP TABLE IF EXISTS {name}"))
