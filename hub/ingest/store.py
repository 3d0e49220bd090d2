"""SQL for the event stream: dedup inserts of events, device_state upserts, quarantine rows.

Written for speed (tens of thousands of rows a second): rows are tuples handed to the driver,
skipping SQLAlchemy's per-row parameter processing — on SQLite the driver's prepared
statements; on PostgreSQL events by one binary COPY straight into `events` under a savepoint
(a stored duplicate sends the batch through a staging table and `INSERT ... SELECT ... ON
CONFLICT` instead), device state by a binary COPY into a staging table then one `INSERT ...
SELECT`, one `INSERT ... SELECT FROM unnest(column arrays)` for other upserts. Dedup is exact
either way. Owns no transaction: the batch writer opens one and passes the session in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sqlalchemy import Table, insert, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import TextClause

from alerts.rules.critical import CRITICAL_EVENTS
from devices import DeviceMessage, Event, Gps, Heartbeat, Rejection, Status
from hub.storage.models import Device, Quarantine
from hub.storage.partitioning import DAY_S

QUARANTINE: Table = Quarantine.__table__  # type: ignore[assignment]
TOPIC_MAX = 512
NOT_ACTIVITY = frozenset({"tamper"})  # the protocol: activity is any event other than tamper

DedupKey = tuple[str, int | None, float | None]


def dedup_key(msg: DeviceMessage) -> DedupKey:
    return (msg.device_id, msg.seq, msg.device_ts)


CHANNEL_OF = {Heartbeat: "heartbeat", Event: "event", Gps: "gps", Status: "status"}


def event_values(msg: DeviceMessage) -> tuple[Any, ...]:
    """The event row in EVENT_COLUMNS order (a tuple: rows go to the driver as they are)."""
    p = msg.payload
    kind = type(p)
    gps = kind is Gps
    return (
        msg.device_id,
        CHANNEL_OF[kind],
        p.type if kind is Event else p.state if kind is Status else None,  # type: ignore[union-attr]
        msg.seq,
        msg.device_ts,
        msg.received_at,
        msg.at,
        # 1/0, as SQLite stores a bool: the sqlite3 module binds an int as it is, a bool through
        # its adapters (hub/storage/db.py); PostgreSQL's array literal reads either as t/f.
        1 if msg.late else 0,
        1 if msg.skewed else 0,
        p.lat if gps else None,  # type: ignore[union-attr]
        p.lon if gps else None,  # type: ignore[union-attr]
        p.acc if gps else None,  # type: ignore[union-attr]
        p.battery if gps or kind is Heartbeat else None,  # type: ignore[union-attr]
        # JSON forbids raw control characters, but PostgreSQL text refuses NUL outright: be certain.
        msg.raw.decode("utf-8", "replace").replace("\x00", "\\u0000"),
        # the partition key on PostgreSQL (hub/storage/partitioning.py day_of, inlined: hot path)
        int((msg.device_ts if msg.device_ts is not None else msg.received_at) // DAY_S),
    )


def event_row(msg: DeviceMessage) -> dict[str, Any]:
    return dict(zip(EVENT_COLUMNS, event_values(msg), strict=True))


def quarantine_row(rej: Rejection) -> dict[str, Any]:
    return {
        "topic": _text(rej.topic)[:TOPIC_MAX],
        "device_id": rej.device_id,
        "reason": rej.reason[:32],
        "message": _text(rej.message)[:2000],
        "raw": rej.raw,
        "received_at": rej.received_at,
    }


def _text(s: str) -> str:
    return s.replace("\x00", "\\0")


EVENT_COLUMNS = ("device_id", "channel", "type", "seq", "device_ts", "received_at", "at", "late", "skewed",
                 "lat", "lon", "acc", "battery", "payload", "day")
PG_ARRAY_TYPES = ("varchar", "varchar", "varchar", "bigint", "float8", "float8", "float8", "boolean", "boolean",
                  "float8", "float8", "float8", "integer", "text", "integer")
# Scale-out (hub/rules/partitions.py): events also carry their rules partition, not ruled yet.
PARTITIONED_COLUMNS = (*EVENT_COLUMNS, "partition", "ruled")
PG_PARTITIONED_TYPES = (*PG_ARRAY_TYPES, "integer", "boolean")

# On PostgreSQL the rows go by binary COPY into a temporary staging table of the connection
# (created on first use, emptied at every commit, never logged), then one INSERT ... SELECT
# moves them on in the order they were given (`n`: arrival order for events, device order for
# the state upsert — a stable lock order). Against the earlier `INSERT ... SELECT FROM
# unnest(column arrays)`: psycopg writes the rows in C instead of this module building one array
# literal per column in Python, and the server reads binary values instead of parsing text
# arrays (docs/BENCHMARKS.md, "Session 13").
@dataclass(frozen=True, slots=True)
class PgStaged:
    """A statement fed by binary COPY through a temporary staging table."""

    create: str  # the staging table, if it is not there yet
    copy: str
    types: tuple[str, ...]  # of the copied columns, `n` last
    move: str  # INSERT ... SELECT ... FROM the staging table ORDER BY n

    @classmethod
    def of(cls, stage: str, stage_columns: Sequence[str], stage_types: Sequence[str], columns: Sequence[str],
           into: str, lengths: Mapping[str, int] | None = None) -> PgStaged:
        """`into` is `INSERT INTO {table} ({names}) SELECT {names} FROM {stage} ORDER BY n ...` to
        fill in. `lengths` bounds varchar columns of the staging table: a table with no column
        that could need TOAST gets no TOAST table, and each commit truncates one relation
        instead of three (the emptying at commit costs ~0.3 ms a relation)."""
        kinds = dict(zip(stage_columns, stage_types, strict=True))
        bounded = lengths or {}
        names = ", ".join(columns)
        return cls(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} ("
            + ", ".join(f"{c} {t}({bounded[c]})" if c in bounded else f"{c} {t}" for c, t in kinds.items())
            + ", n integer) ON COMMIT DELETE ROWS",
            f"COPY {stage} ({names}, n) FROM STDIN (FORMAT BINARY)",
            (*(kinds[c] for c in columns), "integer"),
            into.format(names=names, stage=stage),
        )


def pg_staged(session: Session, statement: PgStaged, rows: Sequence[tuple[Any, ...]]) -> list[Any]:
    """Run `statement` for `rows` (tuples in its columns' order) in the session's transaction;
    the rows its RETURNING gives, if any."""
    cursor = _driver_cursor(session)
    try:
        cursor.execute(statement.create)
        with cursor.copy(statement.copy) as stage:
            stage.set_types(statement.types)
            write = stage.write_row
            for n, row in enumerate(rows):
                write((*row, n))
        cursor.execute(statement.move)
        return cursor.fetchall() if cursor.description is not None else []
    finally:
        cursor.close()


# The conflict target names the dedup constraint (the same name in the plain and the partitioned
# layout): without one, PostgreSQL checks every unique index (the primary key too) before each row.
_INTO_EVENTS = ("INSERT INTO events ({names}) SELECT {names} FROM {stage} ORDER BY n "
                "ON CONFLICT ON CONSTRAINT uq_events_dedup DO NOTHING RETURNING device_id, seq, device_ts")
PG_COPY_EVENTS = PgStaged.of("pingan_events_stage", PARTITIONED_COLUMNS, PG_PARTITIONED_TYPES, EVENT_COLUMNS,
                             _INTO_EVENTS)
PG_COPY_PARTITIONED_EVENTS = PgStaged.of("pingan_events_stage", PARTITIONED_COLUMNS, PG_PARTITIONED_TYPES,
                                         PARTITIONED_COLUMNS, _INTO_EVENTS)


# The events of a batch are first copied straight into `events` under a savepoint: nearly always
# none is stored yet (a duplicate is a QoS 1 redelivery of a message committed but not acked), and
# one binary COPY costs the server less than half of COPY into the staging table plus `INSERT ...
# SELECT ... ON CONFLICT` (docs/BENCHMARKS.md, "Session 15: the PostgreSQL writer's waits"). A
# stored duplicate (the dedup constraint refuses the COPY; another hub's uncommitted row of the same
# key makes it wait for that hub's outcome, as ON CONFLICT does) rolls back to the savepoint and
# the batch takes the staging path, which skips it. Duplicates within the batch are gone already.
# A batch holding an alarm event skips the attempt: with the critical lane (hub/ingest/service.py)
# the lane has usually stored that event already, and the main session's copy of it is a duplicate.
_UNIQUE_VIOLATION = "23505"
ALARM_TYPES = frozenset(CRITICAL_EVENTS)  # the events the critical lane stores (hub/ingest/batch.py ALARM_EVENTS)


def pg_copy_events(session: Session, names: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> bool:
    """COPY `rows` (in `names`' order, arrival order) into events; False, and nothing stored, if
    one of them was a stored duplicate."""
    types = PG_PARTITIONED_TYPES[: len(names)]
    cursor = _driver_cursor(session)
    try:
        cursor.execute("SAVEPOINT pingan_events_copy")
        try:
            with cursor.copy(f"COPY events ({', '.join(names)}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(types)
                write = copy.write_row
                for row in rows:
                    write(row)
        except Exception as exc:
            if getattr(exc, "sqlstate", None) != _UNIQUE_VIOLATION:
                raise
            cursor.execute("ROLLBACK TO SAVEPOINT pingan_events_copy")
            return False
        cursor.execute("RELEASE SAVEPOINT pingan_events_copy")
        return True
    finally:
        cursor.close()


def pg_array_literals(names: Sequence[str], types: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> dict[str, str]:
    """Each column as one PostgreSQL array literal (`{1.5,NULL,"a\\"b"}`), cast server-side.

    psycopg dumps a Python list value by value in Python (~1/3 of the writer's time on
    PostgreSQL); one string per column is a single text parameter, built with str.join."""
    out: dict[str, str] = {}
    for name, pg_type, column in zip(names, types, zip(*rows, strict=True), strict=True):
        if pg_type in ("varchar", "text", "json"):
            items = ["NULL" if v is None else '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in column]
        elif pg_type == "boolean":
            items = ["NULL" if v is None else "t" if v else "f" for v in column]
        else:  # numbers: repr is exact for floats and ints
            items = ["NULL" if v is None else repr(v) for v in column]
        out[name] = "{" + ",".join(items) + "}"
    return out


def insert_events(
    session: Session, messages: Sequence[DeviceMessage], partitions: Mapping[str, int] | None = None
) -> set[DedupKey]:
    """Insert events, skipping (device, seq, ts) already stored; return the keys really inserted.

    With `partitions` (device id -> rules partition, several hubs) each row is stored with its
    partition and `ruled` false, for the partition's owner to consume; without, the columns keep
    their defaults (the rules run in this transaction).

    Rows are tuples handed to the driver: SQLAlchemy's per-row parameter processing was ~45 % of
    the writer's time on SQLite."""
    if not messages:
        return set()
    rows = [event_values(m) for m in messages]
    names: tuple[str, ...] = EVENT_COLUMNS
    if partitions is not None:
        names = PARTITIONED_COLUMNS
        rows = [(*row, partitions[row[0]], 0) for row in rows]  # ruled: false
    if session.get_bind().dialect.name == "postgresql":
        if not any(row[2] in ALARM_TYPES for row in rows) and pg_copy_events(session, names, rows):
            return {(row[0], row[3], row[4]) for row in rows}  # every row went in
        statement = PG_COPY_EVENTS if partitions is None else PG_COPY_PARTITIONED_EVENTS
        return set(pg_staged(session, statement, rows))  # RETURNING device_id, seq, device_ts: the keys
    # SQLite: one prepared statement run per row (sqlite3 caches it; a few µs each); its rowcount
    # says whether the row went in or was a duplicate, which executemany cannot tell.
    sql = f"INSERT INTO events ({', '.join(names)}) VALUES ({', '.join('?' * len(names))}) ON CONFLICT DO NOTHING"
    cursor = _driver_cursor(session)
    inserted: set[DedupKey] = set()
    try:
        for row in rows:
            cursor.execute(sql, row)
            if cursor.rowcount == 1:
                inserted.add((row[0], row[3], row[4]))
    finally:
        cursor.close()
    return inserted


def _driver_cursor(session: Session) -> Any:
    """A DB-API cursor on the session's connection, inside its transaction."""
    return session.connection().connection.cursor()


def insert_quarantine(session: Session, rejections: Sequence[Rejection]) -> None:
    if rejections:
        session.execute(insert(QUARANTINE), [quarantine_row(r) for r in rejections])


def known_devices(session: Session, ids: Iterable[str] | None = None) -> set[str]:
    """Device ids registered in the devices table (all, or those among `ids`)."""
    stmt = select(Device.id)
    if ids is not None:
        wanted = sorted(set(ids))
        if not wanted:
            return set()
        stmt = stmt.where(Device.id.in_(wanted))
    return set(session.scalars(stmt))


@dataclass(slots=True)
class StateDelta:
    """What one batch teaches about one device, folded before a single upsert."""

    device_id: str
    last_seen_at: float | None = None
    last_activity_at: float | None = None
    battery: int | None = None
    rssi: int | None = None
    fw: str | None = None
    health_at: float | None = None  # `at` of the newest non-late message that set battery/rssi/fw
    online: bool | None = None
    status_at: float | None = None
    last_lat: float | None = None
    last_lon: float | None = None
    last_acc: float | None = None
    last_fix_at: float | None = None
    last_seq: int | None = None
    seq_at: float | None = None
    skew_count: int = 0
    late_count: int = 0

    def add(self, msg: DeviceMessage) -> None:
        # Hot path (every stored message): exact type tests and locals; `seq` is read once.
        p, kind, at = msg.payload, type(msg.payload), msg.at
        if self.last_seen_at is None or msg.received_at > self.last_seen_at:
            self.last_seen_at = msg.received_at
        if msg.skewed:
            self.skew_count += 1
        if msg.late:
            self.late_count += 1
        seq = getattr(p, "seq", None)
        if seq is not None and (self.seq_at is None or at >= self.seq_at):
            self.last_seq, self.seq_at = seq, at
        if kind is Event:
            if p.type not in NOT_ACTIVITY:  # type: ignore[union-attr]
                self.last_activity_at = _newest(self.last_activity_at, at)
        elif kind is Status:
            if self.status_at is None or msg.received_at >= self.status_at:
                self.online, self.status_at = p.state == "online", msg.received_at  # type: ignore[union-attr]
        elif kind is Gps and (self.last_fix_at is None or at >= self.last_fix_at):
            self.last_lat, self.last_lon, self.last_acc, self.last_fix_at = p.lat, p.lon, p.acc, at  # type: ignore[union-attr]
        # Buffered (late) messages describe the past: they must not overwrite current battery or firmware.
        if (kind is Heartbeat or kind is Gps) and not msg.late and (self.health_at is None or at >= self.health_at):
            self.health_at = at
            self.battery = p.battery if p.battery is not None else self.battery  # type: ignore[union-attr]
            if kind is Heartbeat:
                self.rssi = p.rssi if p.rssi is not None else self.rssi  # type: ignore[union-attr]
                self.fw = p.fw if p.fw is not None else self.fw  # type: ignore[union-attr]

    def values(self) -> tuple[Any, ...]:
        """The row in STATE_COLUMNS order."""
        return (
            self.device_id, self.last_seen_at, self.last_activity_at, self.online, self.status_at, self.battery,
            self.rssi, self.fw, self.last_lat, self.last_lon, self.last_acc, self.last_fix_at, self.last_seq,
            self.skew_count, self.late_count,
        )

    def row(self) -> dict[str, Any]:
        return dict(zip(STATE_COLUMNS, self.values(), strict=True))


def _newest(a: float | None, b: float) -> float:
    return b if a is None or b > a else a


def fold_state(messages: Iterable[DeviceMessage]) -> list[StateDelta]:
    deltas: dict[str, StateDelta] = {}
    for msg in messages:
        delta = deltas.get(msg.device_id)
        if delta is None:
            delta = deltas[msg.device_id] = StateDelta(msg.device_id)
        delta.add(msg)
    return [deltas[k] for k in sorted(deltas)]  # sorted: a stable lock order across concurrent hubs


def state_rows(messages: Iterable[DeviceMessage]) -> list[tuple[Any, ...]]:
    """`[d.values() for d in fold_state(messages)]`, cheaper: a device with a single message in
    the batch (nearly every device when many devices send, as in a backlog) gets its row straight
    from that message (`_single_row`), without a StateDelta; the others fold as before."""
    first: dict[str, DeviceMessage] = {}
    folded: dict[str, StateDelta] = {}
    for msg in messages:
        device = msg.device_id
        delta = folded.get(device)
        if delta is not None:
            delta.add(msg)
        elif (earlier := first.setdefault(device, msg)) is not msg:
            delta = folded[device] = StateDelta(device)
            delta.add(earlier)
            delta.add(msg)
    rows = [_single_row(msg) if device not in folded else folded[device].values() for device, msg in first.items()]
    rows.sort(key=_DEVICE)  # a stable lock order across concurrent hubs, as fold_state
    return rows


_DEVICE = itemgetter(0)


def _single_row(msg: DeviceMessage) -> tuple[Any, ...]:
    """What `StateDelta(msg.device_id).add(msg)` then `.values()` gives, for one message
    (tests/ingest/test_state_rows.py holds the two together)."""
    p, kind, at = msg.payload, type(msg.payload), msg.at
    activity = online = status_at = battery = rssi = fw = lat = lon = acc = fix_at = None
    if kind is Heartbeat:
        if not msg.late:  # buffered (late) messages never set current battery or firmware
            battery, rssi, fw = p.battery, p.rssi, p.fw  # type: ignore[union-attr]
    elif kind is Event:
        if p.type not in NOT_ACTIVITY:  # type: ignore[union-attr]
            activity = at
    elif kind is Gps:
        lat, lon, acc, fix_at = p.lat, p.lon, p.acc, at  # type: ignore[union-attr]
        if not msg.late:
            battery = p.battery  # type: ignore[union-attr]
    elif kind is Status:
        online, status_at = p.state == "online", msg.received_at  # type: ignore[union-attr]
    return (msg.device_id, msg.received_at, activity, online, status_at, battery, rssi, fw, lat, lon, acc, fix_at,
            msg.seq, 1 if msg.skewed else 0, 1 if msg.late else 0)


STATE_COLUMNS = ("device_id", "last_seen_at", "last_activity_at", "online", "status_at", "battery", "rssi", "fw",
                 "last_lat", "last_lon", "last_acc", "last_fix_at", "last_seq", "skew_count", "late_count")
PG_STATE_TYPES = ("varchar", "float8", "float8", "boolean", "float8", "integer", "integer", "varchar",
                  "float8", "float8", "float8", "float8", "bigint", "integer", "integer")
_OLD, _NEW = "device_state", "excluded"


def _later(col: str) -> str:
    return (f"{col} = CASE WHEN {_OLD}.{col} IS NULL OR {_NEW}.{col} > {_OLD}.{col} "
            f"THEN {_NEW}.{col} ELSE {_OLD}.{col} END")


def _when_newer(cols: Sequence[str], at: str) -> list[str]:
    newer = f"{_NEW}.{at} IS NOT NULL AND ({_OLD}.{at} IS NULL OR {_NEW}.{at} >= {_OLD}.{at})"
    return [f"{c} = CASE WHEN {newer} THEN {_NEW}.{c} ELSE {_OLD}.{c} END" for c in cols]


# The merge, written once for both databases: times only move forward (late data never rewinds
# them), the status and the fix follow their own newest time, health values keep the old one
# when the batch had none, counters add up.
STATE_MERGE = ", ".join([
    _later("last_seen_at"),
    _later("last_activity_at"),
    *_when_newer(("online", "status_at"), "status_at"),
    *(f"{c} = COALESCE({_NEW}.{c}, {_OLD}.{c})" for c in ("battery", "rssi", "fw", "last_seq")),
    *_when_newer(("last_lat", "last_lon", "last_acc", "last_fix_at"), "last_fix_at"),
    *(f"{c} = COALESCE({_OLD}.{c}, 0) + {_NEW}.{c}" for c in ("skew_count", "late_count")),
])


def driver_upsert(table: str, columns: Sequence[str], pg_types: Sequence[str], merge: str) -> tuple[str, TextClause]:
    """An `INSERT ... ON CONFLICT (first column) DO UPDATE SET merge` for `upsert_rows`: SQLite's
    prepared form and PostgreSQL's over `unnest(column arrays)`."""
    names, key = ", ".join(columns), columns[0]
    sqlite_sql = (f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))}) "
                  f"ON CONFLICT ({key}) DO UPDATE SET {merge}")
    pg_sql = text(
        f"INSERT INTO {table} ({names}) SELECT * FROM unnest("
        + ", ".join(f"CAST(:{c} AS {t}[])" for c, t in zip(columns, pg_types, strict=True))
        + f") ON CONFLICT ({key}) DO UPDATE SET {merge}"
    )
    return sqlite_sql, pg_sql


def upsert_rows(session: Session, statement: tuple[str, TextClause], columns: Sequence[str],
                pg_types: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    """Run a `driver_upsert` statement for `rows` (tuples in `columns` order, one per key), in
    the session's transaction, past SQLAlchemy's per-row parameter processing: PostgreSQL gets
    one array literal per column (psycopg dumps each value in Python otherwise), SQLite the
    driver's executemany."""
    if not rows:
        return
    sqlite_sql, pg_sql = statement
    if session.get_bind().dialect.name == "postgresql":
        session.execute(pg_sql, pg_array_literals(columns, pg_types, rows))
        return
    cursor = _driver_cursor(session)
    try:
        cursor.executemany(sqlite_sql, rows)
    finally:
        cursor.close()


UPSERT_STATE = driver_upsert("device_state", STATE_COLUMNS, PG_STATE_TYPES, STATE_MERGE)
PG_COPY_STATE = PgStaged.of("pingan_state_stage", STATE_COLUMNS, PG_STATE_TYPES, STATE_COLUMNS,
                            "INSERT INTO device_state ({names}) SELECT {names} FROM {stage} ORDER BY n "
                            f"ON CONFLICT (device_id) DO UPDATE SET {STATE_MERGE}",
                            {"device_id": 64, "fw": 32})  # the lengths of device_state's columns


def upsert_state(session: Session, deltas: Sequence[StateDelta]) -> None:
    """Merge each delta into device_state (see STATE_MERGE); one statement per batch (on
    PostgreSQL fed by COPY, like the events). Deltas are one per device, so no row is hit twice."""
    upsert_state_rows(session, [d.values() for d in deltas])


def upsert_state_rows(session: Session, rows: Sequence[tuple[Any, ...]]) -> None:
    """`upsert_state` of the deltas' rows (`StateDelta.values()`, `state_rows`)."""
    if rows and session.get_bind().dialect.name == "postgresql":
        pg_staged(session, PG_COPY_STATE, rows)
        return
    upsert_rows(session, UPSERT_STATE, STATE_COLUMNS, PG_STATE_TYPES, rows)


__all__ = [
    "DedupKey",
    "StateDelta",
    "dedup_key",
    "driver_upsert",
    "fold_state",
    "insert_events",
    "insert_quarantine",
    "known_devices",
    "pg_staged",
    "state_rows",
    "upsert_rows",
    "upsert_state",
    "upsert_state_rows",
]
