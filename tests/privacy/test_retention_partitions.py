"""Location retention on PostgreSQL with `events` partitioned by day (hub/storage/partitioning.py):
expired GPS days are dropped whole, DEFAULT rows deleted by receive time, everything else kept;
two hubs purging at once while ingestion writes lose nothing and count each row once."""

from __future__ import annotations

import json
import threading

from sqlalchemy import func, select, text

from hub.operations.retention import purge_location_history
from hub.storage import models as m
from hub.storage import partitioning
from hub.storage.db import make_engine, make_sessions, prepare_partitions, reset_schema

DAY = 86400.0
NOW = 1_790_000_000.0 + 3600.0  # 01:00 UTC (2026-09-21): the cutoff's day has an hour before it
DAYS = 90
CUTOFF = NOW - DAYS * DAY
CUTOFF_DAY = int(CUTOFF // DAY)


def _gps(seq: int, device_ts: float | None, received_at: float) -> m.Event:
    return m.Event(device_id="tag-0001", channel="gps", seq=seq, device_ts=device_ts, received_at=received_at,
                   at=received_at, lat=45.75, lon=126.64, acc=10.0, payload=json.dumps({"seq": seq, "lat": 45.75}))


def _heartbeat(seq: int, at: float) -> m.Event:
    return m.Event(device_id="tag-0001", channel="heartbeat", seq=seq, device_ts=at, received_at=at, at=at,
                   payload=json.dumps({"seq": seq}))


def _partitioned(pg_database: str) -> tuple[object, object]:
    engine = make_engine(pg_database, writer=True)
    reset_schema(engine, NOW)
    with partitioning.maintenance(engine) as conn:  # the partitions of the 100 days before NOW
        assert conn is not None, "events is not partitioned"
        partitioning.ensure_partitions(conn, NOW - 100 * DAY, ahead_days=103)
    return engine, make_sessions(engine)


def _seed(sessions) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """20 GPS fixes an hour apart on each of the 100 days before NOW, heartbeats, and GPS rows in
    DEFAULT (1970 device clock: one received before the cutoff, one after)."""
    rows = [_gps(day * 100 + k, NOW - day * DAY - k * 3600 - 1, NOW - day * DAY - k * 3600 - 1)
            for day in range(100) for k in range(20)]
    expired = sum(1 for r in rows if int(r.device_ts // DAY) < CUTOFF_DAY)
    with sessions.begin() as s:
        s.add_all(rows)
        s.add_all(_heartbeat(10_000 + day, NOW - day * DAY - 1) for day in range(100))
        s.add(_gps(20_000, 0.0, CUTOFF - 10))  # odd clock, old: deleted
        s.add(_gps(20_001, 0.0, NOW - 10))  # odd clock, recent: kept
    return {"expired": expired, "kept": len(rows) - expired + 1}


def _tables(engine) -> set[str]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return set(conn.scalars(text("SELECT relname FROM pg_class WHERE relname LIKE 'events_gps_2%'")))


def test_expired_days_are_dropped_whole_and_the_rest_kept(pg_database: str) -> None:
    engine, sessions = _partitioned(pg_database)
    counts = _seed(sessions)
    with engine.connect() as conn:
        in_default = conn.scalar(text("SELECT count(*) FROM events_gps_default"))
    assert in_default == 2  # every other fix sits in its day's partition

    result = purge_location_history(sessions, NOW, DAYS, batch=7)

    tables = _tables(engine)
    expired_days = {partitioning.gps_name(d) for d in range(CUTOFF_DAY - 20, CUTOFF_DAY)}
    assert not tables & expired_days, "expired GPS days still there"
    assert partitioning.gps_name(CUTOFF_DAY) in tables  # the cutoff's own day waits for the next run
    assert result.gps_events_deleted == counts["expired"] + 1  # + the old DEFAULT row
    assert result.partitions_dropped == len([d for d in range(int((NOW - 100 * DAY) // DAY), CUTOFF_DAY)])
    with sessions() as s:
        assert s.scalar(select(func.count()).where(m.Event.channel == "gps")) == counts["kept"]
        assert s.scalar(select(func.min(m.Event.day)).where(m.Event.channel == "gps",
                                                            m.Event.device_ts > 0)) == CUTOFF_DAY
        assert s.scalar(select(func.count()).where(m.Event.channel == "heartbeat")) == 100
        assert s.scalars(select(m.Event.seq).where(m.Event.device_ts == 0.0)).all() == [20_001]
        audit = s.scalars(select(m.Audit).where(m.Audit.action == "retention.purge")).one()
        assert audit.detail["gps_events_deleted"] == result.gps_events_deleted
        assert audit.detail["partitions_dropped"] == result.partitions_dropped

    again = purge_location_history(sessions, NOW, DAYS)
    assert (again.gps_events_deleted, again.partitions_dropped) == (0, 0)
    # the next day's run takes the cutoff's day
    later = purge_location_history(sessions, NOW + DAY, DAYS)
    assert later.partitions_dropped == 1 and later.gps_events_deleted == 20
    engine.dispose()


def test_two_hubs_purging_while_ingestion_writes_lose_nothing(pg_database: str) -> None:
    engine, sessions = _partitioned(pg_database)
    counts = _seed(sessions)
    results = []
    written: list[int] = []
    stop = threading.Event()

    def purge() -> None:
        results.append(purge_location_history(sessions, NOW, DAYS, batch=50))

    def ingest() -> None:  # today's fixes keep arriving through the DDL
        seq = 50_000
        while not stop.is_set() or len(written) < 50:
            with sessions.begin() as s:
                s.add(_gps(seq, NOW - 5, NOW - 5))
            written.append(seq)
            seq += 1

    writer = threading.Thread(target=ingest)
    writer.start()
    hubs = [threading.Thread(target=purge) for _ in range(2)]
    for hub in hubs:
        hub.start()
    for hub in hubs:
        hub.join(60)
    stop.set()
    writer.join(60)

    assert sum(r.gps_events_deleted for r in results) == counts["expired"] + 1  # each row counted once
    assert sum(r.partitions_dropped for r in results) == CUTOFF_DAY - int((NOW - 100 * DAY) // DAY)
    with sessions() as s:
        stored = set(s.scalars(select(m.Event.seq).where(m.Event.seq >= 50_000)))
        assert stored == set(written)
        assert s.scalar(select(func.count()).where(m.Event.channel == "gps")) == counts["kept"] + len(written)
    print(f"\nwhile two hubs purged: {len(written)} fixes written, "
          f"{[(r.partitions_dropped, r.gps_events_deleted) for r in results]} (partitions, rows) per hub")
    engine.dispose()


def test_a_partition_created_late_takes_its_rows_from_default(pg_database: str) -> None:
    """A fix of a day without a partition (device clock 5 days ahead) is stored in DEFAULT, then
    moved into that day's partition when the job creates it: never lost, never refused."""
    engine = make_engine(pg_database, writer=True)
    reset_schema(engine, NOW)
    sessions = make_sessions(engine)
    ahead = NOW + 5 * DAY
    with sessions.begin() as s:
        s.add(_gps(1, ahead, NOW))
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM events_gps_default")) == 1
    assert partitioning.gps_name(int(ahead // DAY)) in prepare_partitions(engine, NOW + 4 * DAY)
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM events_gps_default")) == 0
        where = conn.scalar(text("SELECT tableoid::regclass::text FROM events WHERE seq = 1"))
    assert where == partitioning.gps_name(int(ahead // DAY))
    engine.dispose()
