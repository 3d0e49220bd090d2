"""Where PostgreSQL's time goes in one ingestion batch, statement by statement.

    .venv/bin/python benchmarks/pg_insert_path.py [--count 30000] [--layout plain|partitioned]

The batch writer's transaction without the rules hook (`BatchWriter._commit`'s steps: the
events insert, the quarantine insert, the device-state fold and upsert, the commit), on
load-generator messages (simulators/load.py, 10,000 devices, batches of 1,000, after a warm-up
of 10,000 messages), each step timed from the client: wall time, this thread's CPU, and the CPU
of the PostgreSQL backend serving the connection (`/proc/PID/schedstat`, ns on CPU; the server
must run on this machine), plus the WAL written (`pg_current_wal_lsn`) and how many device_state
updates were HOT (`pg_stat_user_tables`, the statistics collector's count, a moment late). `--layout partitioned`
converts `events` to the production layout first (hub/storage/partitioning.py, as `pingan db
upgrade` does); `plain` is `create_all`'s table, the one benchmarks/ingest.py runs on. Prints
µs per message for each step; last line:

    pg_insert_path: layout=L backend_us_per_msg=N client_cpu_us_per_msg=N wall_us_per_msg=N
"""

from __future__ import annotations

import argparse
import itertools
import queue
import sys
import time
from collections import defaultdict
from pathlib import Path

from sqlalchemy import text

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness import create_database, drop_database  # noqa: E402
from ingest import make_database  # noqa: E402
from ingest_writer import BATCH, DEVICES, NoAcks, batches  # noqa: E402
from prometheus_client import CollectorRegistry  # noqa: E402

from hub.clock import SystemClock  # noqa: E402
from hub.ingest import batch as batch_module  # noqa: E402
from hub.ingest import store  # noqa: E402
from hub.ingest.batch import BatchWriter, WriterSettings  # noqa: E402
from hub.metrics import IngestMetrics  # noqa: E402
from hub.storage import partitioning  # noqa: E402
from hub.storage.db import make_engine, make_sessions  # noqa: E402
from simulators.load import _Fleet  # noqa: E402


def backend_ns(pid: int) -> int:
    with open(f"/proc/{pid}/schedstat") as f:
        return int(f.read().split()[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=30_000)
    parser.add_argument("--layout", choices=["plain", "partitioned"], default="plain")
    args = parser.parse_args()
    name = f"pingan_bench_pgpath_{int(time.time())}"
    url = create_database(name)
    try:
        make_database(url, DEVICES)
        engine = make_engine(url, writer=True)
        if args.layout == "partitioned":
            with engine.begin() as conn:
                partitioning.convert_events(conn, time.time())
        sessions, clock = make_sessions(engine), SystemClock()
        writer = BatchWriter(queue.Queue(), sessions, NoAcks(), IngestMetrics(CollectorRegistry()), WriterSettings(),
                             clock, None)
        fleet = _Fleet([f"load-{i + 1:05d}" for i in range(DEVICES)], "pingan/v1", seed=1)
        for b in batches(fleet, 10_000):
            writer.write(b)
        measured = batches(fleet, args.count)
        wall: dict[str, float] = defaultdict(float)
        cpu: dict[str, float] = defaultdict(float)
        server: dict[str, float] = defaultdict(float)
        with engine.connect() as conn:
            wal0 = conn.scalar(text("SELECT pg_current_wal_lsn()"))
        for b in measured:
            messages, rejections = writer.interpret_all(writer._charge(b, clock.now()))
            marks: list[tuple[str, float, float, int]] = []
            session = sessions()
            pid = session.scalar(text("SELECT pg_backend_pid()"))  # begins the transaction

            def mark(step: str, pid: int = pid, marks: list[tuple[str, float, float, int]] = marks) -> None:
                marks.append((step, time.perf_counter(), time.thread_time(), backend_ns(pid)))

            mark("start")
            messages, unknown = writer._split_unknown(session, messages)
            unique, keys = batch_module._unique(messages)
            mark("known devices, dedup in batch")
            inserted = store.insert_events(session, unique, None)
            mark("insert events")
            fresh = [m for m, key in zip(unique, keys, strict=True) if key in inserted]
            store.insert_quarantine(session, rejections + unknown)
            mark("insert quarantine")
            deltas = store.fold_state(fresh)
            mark("fold state")
            store.upsert_state(session, deltas)
            mark("upsert device_state")
            session.commit()
            mark("commit")
            session.close()
            for (_, w0, c0, s0), (step, w1, c1, s1) in itertools.pairwise(marks):
                wall[step] += w1 - w0
                cpu[step] += c1 - c0
                server[step] += (s1 - s0) / 1e9
        with engine.connect() as conn:
            wal = conn.scalar(text("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), :w)"), {"w": wal0})
            sizes = conn.execute(text(
                "SELECT c.relname, pg_relation_size(c.oid) FROM pg_class c "
                "WHERE c.relnamespace = current_schema()::regnamespace AND c.relname LIKE '%event%' "
                "AND pg_relation_size(c.oid) > 0 ORDER BY 2 DESC")).all()
            updated, hot = conn.execute(text(
                "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'device_state'")).one()
        engine.dispose()
        n = args.count
        print(f"layout={args.layout} messages={n} batch={BATCH}")
        print(f"{'step':32} {'wall µs/msg':>12} {'client CPU':>11} {'backend CPU':>12}")
        for step in wall:
            print(f"{step:32} {wall[step] / n * 1e6:12.2f} {cpu[step] / n * 1e6:11.2f} {server[step] / n * 1e6:12.2f}")
        total_w, total_c, total_s = (sum(d.values()) / n * 1e6 for d in (wall, cpu, server))
        print(f"{'total':32} {total_w:12.2f} {total_c:11.2f} {total_s:12.2f}")
        print(f"WAL bytes per message: {float(wal) / n:.0f}; device_state updates in place (HOT): {hot}/{updated}")
        for rel, size in sizes:
            print(f"  {rel}: {size / 1e6:.1f} MB")
        print(f"pg_insert_path: layout={args.layout} backend_us_per_msg={total_s:.1f} "
              f"client_cpu_us_per_msg={total_c:.1f} wall_us_per_msg={total_w:.1f}")
    finally:
        drop_database(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
