"""Alembic migrations build exactly the schema of the models, on SQLite and PostgreSQL; on
PostgreSQL `events` is the partitioned layout of hub/storage/partitioning.py, and revision 0002
converts a 0001 database keeping every row."""

import time

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, text

from alerts.reasons import legacy
from hub.storage import models as m
from hub.storage.alert_store import stored_notes, stored_reason
from hub.storage.db import create_schema, drop_schema, make_engine, make_sessions, upgrade
from hub.storage.models import Base
from hub.storage.partitioning import DAY_S, day_of, gps_name, is_partition_table, rest_name

HEAD = "evix_0014"


def _include_name(name: str | None, type_: str, _parents: object) -> bool:
    return not (type_ == "table" and name is not None and is_partition_table(name))


def _diff(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": _include_name})
        return list(compare_metadata(context, Base.metadata))


def _partitioned_layout_diff(diff: list[object]) -> list[object]:
    """The one difference PostgreSQL's partitioning forces, taken out of `diff`: the dedup key
    holds the partition keys channel and day (a function of the device ts) besides (device, seq, ts)."""
    def columns(op: object) -> tuple[str, ...]:
        return tuple(c.name for c in op[1].columns)  # type: ignore[index]

    expected = {
        ("remove_constraint", ("device_id", "seq", "device_ts", "channel", "day")),
        ("add_constraint", ("device_id", "seq", "device_ts")),
    }
    return [d for d in diff if (d[0], columns(d)) not in expected]  # type: ignore[index]


def _layout(engine: Engine) -> dict[str, str]:
    """Partitioned table -> its partition key, and each table's parent, from the catalog."""
    with engine.connect() as conn:
        keys = dict(conn.execute(text(
            "SELECT c.relname, pg_get_partkeydef(c.oid) FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid"
        )).all())
        parents = dict(conn.execute(text(
            "SELECT c.relname, p.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE c.relkind IN ('r', 'p')"
        )).all())
    return {**{f"key:{k}": v for k, v in keys.items()}, **{f"parent:{k}": v for k, v in parents.items()}}


def _assert_partitioned(engine: Engine, now: float) -> None:
    layout = _layout(engine)
    assert layout["key:events"] == "LIST (channel)"
    assert layout["key:events_gps"] == "RANGE (day)"
    assert layout["key:events_rest"] == "RANGE (day)"
    today = int(now // DAY_S)
    for day in range(today, today + 3):  # created ahead
        assert layout[f"parent:{gps_name(day)}"] == "events_gps"
        assert layout[f"parent:{rest_name(day)}"] == "events_rest"
    assert layout["parent:events_gps_default"] == "events_gps"
    assert layout["parent:events_rest_default"] == "events_rest"


def _assert_device_state_fillfactor(engine: Engine) -> None:
    """Half-empty pages for ingestion's HOT updates (models.py, migration dsff_0013)."""
    with engine.connect() as conn:
        options = conn.scalar(text("SELECT reloptions FROM pg_class WHERE relname = 'device_state'"))
    assert options == ["fillfactor=50"]


def test_migrations_match_models(db_url: str) -> None:
    engine = make_engine(db_url)
    drop_schema(engine)
    upgrade(db_url)
    diff = _diff(engine)
    if engine.dialect.name == "postgresql":
        assert len(diff) == 2, f"the dedup key of the partitioned events is not (device, seq, ts, channel, day): {diff}"
        diff = _partitioned_layout_diff(diff)
        _assert_partitioned(engine, time.time())
        _assert_device_state_fillfactor(engine)
    engine.dispose()
    assert diff == [], f"models and migrations drifted: {diff}"


def test_create_schema_builds_what_the_migrations_build(db_url: str) -> None:
    """Tests and benchmarks make their schema with `create_schema`: the same as `db upgrade`."""
    engine = make_engine(db_url)
    drop_schema(engine)
    now = time.time()
    create_schema(engine, now)
    diff = _diff(engine)
    if engine.dialect.name == "postgresql":
        diff = _partitioned_layout_diff(diff)
        _assert_partitioned(engine, now)
        _assert_device_state_fillfactor(engine)
    engine.dispose()
    assert diff == []


def test_upgrade_is_idempotent(db_url: str) -> None:
    engine = make_engine(db_url)
    drop_schema(engine)
    upgrade(db_url)
    upgrade(db_url)
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == HEAD
    engine.dispose()


ROWS_0001 = (  # (channel, seq, device_ts, received_at offset from now in days)
    ("gps", 1, 0.0, -1),  # 1970 device clock: DEFAULT on PostgreSQL
    ("gps", 2, None, -2),  # no ts: the day it was received
    ("gps", 3, "today", 0),
    ("heartbeat", 4, "today", 0),
    ("event", 5, "yesterday", 0),
    ("status", None, None, -500),  # older than any partition a conversion creates
)


def test_upgrade_from_0001_keeps_every_row(db_url: str) -> None:
    engine = make_engine(db_url)
    drop_schema(engine)
    upgrade(db_url, "0001")
    now = time.time()
    sent = []
    with engine.begin() as conn:
        for channel, seq, ts, days in ROWS_0001:
            device_ts = now if ts == "today" else now - DAY_S if ts == "yesterday" else ts
            received_at = now + days * DAY_S
            row = {"device_id": "tag-0001", "channel": channel, "seq": seq, "device_ts": device_ts,
                   "received_at": received_at, "at": received_at, "lat": 45.0 if channel == "gps" else None}
            conn.execute(text(
                "INSERT INTO events (device_id, channel, seq, device_ts, received_at, at, late, skewed, lat, payload) "
                "VALUES (:device_id, :channel, :seq, :device_ts, :received_at, :at, false, false, :lat, '{}')"
            ), row)
            sent.append(row)
    upgrade(db_url)
    with engine.connect() as conn:
        stored = conn.execute(text(
            "SELECT id, device_id, channel, seq, device_ts, received_at, day FROM events ORDER BY id")).all()
    assert [(r.channel, r.seq, r.device_ts, r.received_at) for r in stored] == [
        (s["channel"], s["seq"], s["device_ts"], s["received_at"]) for s in sent]
    assert [r.day for r in stored] == [day_of(s["device_ts"], s["received_at"]) for s in sent]
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            placed = dict(conn.execute(text("SELECT id, tableoid::regclass::text FROM events")).all())
        ids = [r.id for r in stored]
        today = int(now // DAY_S)
        assert [placed[i] for i in ids] == [
            "events_gps_default", gps_name(today - 2), gps_name(today), rest_name(today), rest_name(today - 1),
            "events_rest_default"]
    # the id sequence goes on after the moved rows; the ORM fills `day`
    with make_sessions(engine).begin() as session:
        fresh = m.Event(device_id="tag-0001", channel="gps", seq=9, device_ts=now, received_at=now, at=now,
                        late=False, skewed=False, payload="{}")
        session.add(fresh)
        session.flush()
        assert fresh.id > max(r.id for r in stored)
        assert fresh.day == int(now // DAY_S)
    engine.dispose()


def test_upgrade_keeps_an_old_alert_sentence_readable(db_url: str) -> None:
    """Rows written before reason codes hold an English sentence: after reasons_a1 they read as `legacy_text`."""
    engine = make_engine(db_url)
    drop_schema(engine)
    upgrade(db_url, "c17a")
    sentence = "tag tag-0001 420 m outside the safe zones (last inside 小区周边)"
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO alerts (id, code, kind, severity, state, resident_id, reason, late, opened_at, escalation_step) "
            "VALUES ('al-old', 'B3K9', 'geofence_exit', 'high', 'open', 'r-0001', :reason, false, 1764124800, 0)"
        ), {"reason": sentence})
    upgrade(db_url)
    with make_sessions(engine)() as session:
        row = session.get(m.Alert, "al-old")
        assert row is not None and row.reason_data is None
        assert stored_reason(row) == legacy(sentence) and stored_notes(row) == ()
    engine.dispose()
