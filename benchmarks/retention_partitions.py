"""PostgreSQL `events` partitioned by day against the plain table, in the same run:

    .venv/bin/python benchmarks/retention_partitions.py [--rows 1000000] [--days 10] [--ingest 60000]

Two scratch databases on PINGAN_TEST_PG (dropped at the end): `plain` (the models'
`create_all`, revision 0001's layout) and `partitioned` (hub/storage/partitioning.py).

1. retention: `rows` GPS fixes spread over `days` days are loaded into each (server-side
   generate_series), then `purge_location_history` expires the older half of the days: the
   plain table deletes the rows in batches of 5,000 (what retention always did), the
   partitioned one detaches and drops the day partitions. Then VACUUM of the plain table, the
   debt its deletes left (dropping a partition leaves none).
2. ingestion: `insert_events` (the hub's raw-driver insert, one INSERT ... SELECT FROM unnest
   per batch of 500, ON CONFLICT dedup) of `ingest` realistic GPS messages into each table,
   rounds alternated so that machine noise hits both alike.
3. scale-out queries that carry no partition key (hub/rules/partitions.py): the backlog query of a
   rules partition (`PartitionSlot.unruled`, 500 rows) and `mark_ruled` of those 500 ids, with
   the partitioned table holding a retention's worth of partitions (93 GPS days, 12 months).

The last line is the summary: `retention: plain_s=.. partitioned_s=.. ratio=.. | insert: plain_us=.. partitioned_us=..`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import sqlalchemy as sa  # noqa: E402
from harness import create_database, drop_database  # noqa: E402

from devices import DeviceMessage, interpret  # noqa: E402
from hub.ingest.store import insert_events  # noqa: E402
from hub.operations.retention import purge_location_history  # noqa: E402
from hub.storage import partitioning  # noqa: E402
from hub.storage.db import make_engine, make_sessions, reset_schema  # noqa: E402
from hub.storage.models import Base  # noqa: E402

DAY = 86400.0
NOW = 1_795_651_200.0  # 2026-11-26 00:00 UTC, fixed: the cutoff falls on a day boundary, both delete the same rows
BATCH = 500

LOAD = sa.text("""
INSERT INTO events (device_id, channel, seq, device_ts, received_at, at, late, skewed, lat, lon, acc, battery,
                    payload, day)
SELECT 'tag-' || lpad((g % 1000)::text, 5, '0'), 'gps', g / 1000, t, t, t, false, false, 45.75, 126.64, 10, 80,
       json_build_object('ts', t, 'lat', 45.75, 'lon', 126.64, 'acc', 10, 'battery', 80)::text, floor(t / 86400)::int
FROM (SELECT g, :start + g * :step AS t FROM generate_series(0, :n - 1) g) s
""")


def load(engine: sa.Engine, rows: int, days: int) -> float:
    start = NOW - days * DAY
    t0 = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(LOAD, {"start": start, "step": days * DAY / rows, "n": rows})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE events"))
    return time.perf_counter() - t0


def count(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(sa.text("SELECT count(*) FROM events")) or 0)


def retention(plain: sa.Engine, parted: sa.Engine, rows: int, days: int) -> tuple[float, float]:
    keep = days // 2  # expire the older half
    out = []
    for label, engine in (("plain", plain), ("partitioned", parted)):
        load_s = load(engine, rows, days)
        before = count(engine)
        t0 = time.perf_counter()
        result = purge_location_history(make_sessions(engine), NOW, keep)
        purge_s = time.perf_counter() - t0
        after = count(engine)
        assert before - after == result.gps_events_deleted, (before, after, result)
        print(f"{label:12} loaded {before:,} rows in {load_s:.1f} s; purge {purge_s:.2f} s: "
              f"{result.gps_events_deleted:,} rows deleted, {result.partitions_dropped} partitions dropped, "
              f"{after:,} left", flush=True)
        out.append(purge_s)
    t0 = time.perf_counter()
    with plain.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM events"))
    print(f"{'plain':12} VACUUM after the deletes {time.perf_counter() - t0:.2f} s (partitioned: nothing to vacuum)")
    return out[0], out[1]


def messages(n: int, offset: int) -> list[DeviceMessage]:
    out = []
    for i in range(n):
        device = f"tag-{i % 10_000:05d}"
        ts = NOW + (offset + i) * 0.01
        body = {"ts": ts, "seq": offset + i, "lat": 45.75, "lon": 126.64, "acc": 12.5, "speed": 0.8, "battery": 64}
        msg = interpret(f"pingan/v1/dev/{device}/gps", json.dumps(body).encode(), ts + 1)
        assert isinstance(msg, DeviceMessage)
        out.append(msg)
    return out


def insert_round(engine: sa.Engine, msgs: list[DeviceMessage]) -> float:
    sessions = make_sessions(engine)
    t0 = time.perf_counter()
    for i in range(0, len(msgs), BATCH):
        with sessions.begin() as session:
            stored = insert_events(session, msgs[i : i + BATCH])
            assert len(stored) == len(msgs[i : i + BATCH])
    return time.perf_counter() - t0


def ingest(plain: sa.Engine, parted: sa.Engine, total: int, rounds: int = 4) -> tuple[float, float]:
    per = total // rounds
    times = {"plain": 0.0, "partitioned": 0.0}
    for r in range(rounds):
        msgs = messages(per, r * per)  # the same messages into each table
        order = (("plain", plain), ("partitioned", parted)) if r % 2 == 0 else (("partitioned", parted), ("plain", plain))
        for label, engine in order:
            times[label] += insert_round(engine, msgs)
    us = {k: v / (per * rounds) * 1e6 for k, v in times.items()}
    print(f"insert_events, {per * rounds:,} GPS rows in batches of {BATCH}, {rounds} alternated rounds: "
          f"plain {us['plain']:.1f} µs/row, partitioned {us['partitioned']:.1f} µs/row")
    return us["plain"], us["partitioned"]


def scale_out_queries(plain: sa.Engine, parted: sa.Engine, rounds: int = 16) -> tuple[float, float]:
    from hub.rules.partitions import PartitionSlot

    with partitioning.maintenance(parted) as conn:
        assert conn is not None
        partitioning.ensure_partitions(conn, NOW - 92 * DAY, ahead_days=94)
        for month in range(12):
            partitioning.ensure_partitions(conn, NOW - month * 31 * DAY, ahead_days=0)
        leaves = conn.scalar(sa.text("SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                                     "WHERE c.relkind = 'r'"))
    for engine in (plain, parted):
        with engine.begin() as conn:  # the ingested rows become the backlog of 16 rules partitions
            conn.execute(sa.text("UPDATE events SET partition = (id % 16)::int, ruled = false WHERE received_at > :now"),
                         {"now": NOW})
            conn.execute(sa.text("ANALYZE events"))
    times = {"plain": [0.0, 0.0], "partitioned": [0.0, 0.0]}
    for r in range(rounds):
        slot = PartitionSlot(r % 16, 16)
        order = (("plain", plain), ("partitioned", parted)) if r % 2 == 0 else (("partitioned", parted), ("plain", plain))
        for label, engine in order:
            with make_sessions(engine).begin() as session:
                t0 = time.perf_counter()
                rows = slot.unruled(session, 500, NOW + DAY)
                t1 = time.perf_counter()
                slot.mark_ruled(session, rows)
                t2 = time.perf_counter()
            assert len(rows) == 500
            times[label][0] += t1 - t0
            times[label][1] += t2 - t1
    ms = {k: (v[0] / rounds * 1e3, v[1] / rounds * 1e3) for k, v in times.items()}
    print(f"scale-out, {leaves} leaf partitions: unruled(500) plain {ms['plain'][0]:.1f} ms, partitioned "
          f"{ms['partitioned'][0]:.1f} ms; mark_ruled(500 ids) plain {ms['plain'][1]:.1f} ms, partitioned "
          f"{ms['partitioned'][1]:.1f} ms (told the rows' channels and days: pruned)")
    return sum(ms["plain"]), sum(ms["partitioned"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--ingest", type=int, default=60_000)
    args = parser.parse_args()
    names = ("pingan_bench_plain", "pingan_bench_partitioned")
    plain, parted = (make_engine(create_database(n)) for n in names)
    try:
        Base.metadata.create_all(plain)
        reset_schema(parted, NOW)
        with partitioning.maintenance(parted) as conn:
            assert conn is not None
            partitioning.ensure_partitions(conn, NOW - args.days * DAY, ahead_days=args.days + 2)
        plain_s, parted_s = retention(plain, parted, args.rows, args.days)
        plain_us, parted_us = ingest(plain, parted, args.ingest)
        plain_ms, parted_ms = scale_out_queries(plain, parted)
        print(f"retention: plain_s={plain_s:.2f} partitioned_s={parted_s:.2f} ratio={plain_s / parted_s:.0f} | "
              f"insert: plain_us={plain_us:.1f} partitioned_us={parted_us:.1f} ratio={parted_us / plain_us:.2f} | "
              f"consume: plain_ms={plain_ms:.1f} partitioned_ms={parted_ms:.1f} ratio={parted_ms / plain_ms:.1f}")
    finally:
        plain.dispose()
        parted.dispose()
        for n in names:
            drop_database(n)


if __name__ == "__main__":
    main()
