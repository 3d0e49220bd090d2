"""The batch writer alone: messages per CPU-second of `BatchWriter.write`, with and without the rules.

    .venv/bin/python benchmarks/ingest_writer.py [--count 30000] [--db sqlite|postgresql] [--profile tottime] [--stages]

No broker and no network thread: load-generator messages (simulators/load.py, 10,000 devices,
one resident each, as benchmarks/ingest.py registers them) are built in memory and written in
batches of 1,000 by the writer, with `HubCore.on_batch` as the hook and without it, after a
warm-up of 10,000 messages. CPU time of this process only (PostgreSQL's server work is not in
it). `--profile KEY` prints the cProfile of the measured writes sorted by KEY (CPU timer), the
way docs/BENCHMARKS.md's profiles were taken. Last line:

    ingest_writer: db=D hook_msg_per_cpu_s=N bare_writer_msg_per_cpu_s=N

`--stages` instead times the writer's loop with the rules hook, from a queue that holds all the
messages: `BatchWriter.run` (two stages: the next batch prepared while one is in its transaction)
against the one-thread loop (take a batch, write it), alternately, three rounds each, wall and
process CPU. Last line:

    ingest_writer: db=D stages_msg_per_s=N one_thread_msg_per_s=N

For instruction counts under callgrind (docs/BENCHMARKS.md, "Session 11: ingestion
instructions"): `--only hook|bare` measures one writer, and `--setup-only` does everything but
the measured writes (database, warm-up, the measured batches built), so that the difference of
two runs' totals is the writes alone. `--no-interval-saves` leaves out the engine's state save
every STATE_SAVE_INTERVAL_S (hub/rules/runtime.py), whose share depends on the wall time the
writes take (ten times slower under callgrind: more saves), so that the count is the same
whatever the load; the saves an alert decision makes at once stay in. `--instrument` (session
14) replaces `--setup-only`: run under `valgrind --tool=callgrind --instr-atstart=no`, the
script switches callgrind's instrumentation on (`callgrind_control -i on`) just before the
measured writes and off after them, so the profile holds the writes alone:

    PYTHONHASHSEED=0 valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=cg.NAME \
        .venv/bin/python benchmarks/ingest_writer.py --db sqlite --count 10000 --no-interval-saves --only bare --instrument
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import yaml  # noqa: E402
from harness import create_database, drop_database  # noqa: E402
from ingest import make_database  # noqa: E402
from prometheus_client import CollectorRegistry  # noqa: E402

from hub.clock import SystemClock  # noqa: E402
from hub.config import Config  # noqa: E402
from hub.ingest.batch import BatchWriter, Inbox, Received, WriterSettings  # noqa: E402
from hub.metrics import IngestMetrics  # noqa: E402
from hub.rules import runtime  # noqa: E402
from hub.rules.runtime import HubCore  # noqa: E402
from hub.storage.db import make_engine, make_sessions  # noqa: E402
from simulators.load import _Fleet  # noqa: E402

DEVICES = 10_000
BATCH = 1_000


class NoAcks:
    def ack(self, _received: Received) -> None: ...

    def ack_all(self, _batch: object) -> None: ...


def batches(fleet: _Fleet, count: int) -> list[list[Received]]:
    out = []
    for _ in range(count // BATCH):
        now = time.time()
        out.append([Received(t, p, len(p), i, 1, now, 1) for i, (t, p, _c) in enumerate(fleet.next() for _ in range(BATCH))])
    return out


def fresh_hub(url: str) -> tuple[Engine, sessionmaker[Session], SystemClock, HubCore]:
    """A new benchmark database and the packaged config's rules core on it (loaded)."""
    make_database(url, DEVICES)
    data = yaml.safe_load((REPO / "hub" / "default_config.yaml").read_text(encoding="utf-8"))
    data["database"] = {"url": url}
    engine = make_engine(url, writer=True)
    sessions, clock = make_sessions(engine), SystemClock()
    core = HubCore(Config.model_validate(data), sessions, clock)
    core.load()
    return engine, sessions, clock, core


def callgrind(on: bool) -> None:
    """Switch callgrind's instrumentation of this process on or off (`--instrument`)."""
    subprocess.run(["callgrind_control", "-i", "on" if on else "off", str(os.getpid())], check=True, capture_output=True)


def writer_rate(url: str, hook: bool, count: int, profile: str | None, setup_only: bool = False,
                instrument: bool = False) -> float:
    engine, sessions, clock, hub_core = fresh_hub(url)
    core = hub_core if hook else None
    writer = BatchWriter(queue.Queue(), sessions, NoAcks(), IngestMetrics(CollectorRegistry()), WriterSettings(), clock,
                         core.on_batch if core else None)
    fleet = _Fleet([f"load-{i + 1:05d}" for i in range(DEVICES)], "pingan/v1", seed=1)
    for batch in batches(fleet, 10_000):
        writer.write(batch)
    measured = batches(fleet, count)
    if setup_only:
        measured = []
    profiler = cProfile.Profile(time.process_time) if profile else None
    if instrument:
        callgrind(True)
    started = time.process_time()
    if profiler:
        profiler.enable()
    for batch in measured:
        writer.write(batch)
    if profiler:
        profiler.disable()
    cpu = time.process_time() - started
    if instrument:
        callgrind(False)
    engine.dispose()
    if profiler:
        pstats.Stats(profiler).sort_stats(profile).print_stats(30)
    return count / cpu if measured else 0.0


def stages_rates(url: str, count: int, rounds: int = 3) -> tuple[list[float], list[float]]:
    """Messages per second (wall) of `BatchWriter.run` and of the one-thread loop, alternately."""
    engine, sessions, clock, core = fresh_hub(url)
    fleet = _Fleet([f"load-{i + 1:05d}" for i in range(DEVICES)], "pingan/v1", seed=1)
    warm = BatchWriter(queue.Queue(), sessions, NoAcks(), IngestMetrics(CollectorRegistry()), WriterSettings(), clock,
                       core.on_batch)
    for batch in batches(fleet, 10_000):
        warm.write(batch)
    two: list[float] = []
    one: list[float] = []
    for _ in range(rounds):
        for two_stages in (True, False):
            inbox = Inbox(count + 1)
            for batch in batches(fleet, count):
                for item in batch:
                    inbox.put(item)
            writer = BatchWriter(inbox, sessions, NoAcks(), IngestMetrics(CollectorRegistry()),
                                 WriterSettings(batch_wait_s=0.0), clock, core.on_batch)
            stop = threading.Event()
            stop.set()  # drain what is queued, then return
            started, cpu = time.perf_counter(), time.process_time()
            if two_stages:
                writer.run(stop)
            else:
                while batch := writer.take_batch():
                    writer.write(batch)
            wall = time.perf_counter() - started
            print(f"{'two stages' if two_stages else 'one thread'}: {count / wall:.0f} msg/s, "
                  f"{count / (time.process_time() - cpu):.0f} msg/cpu-s", flush=True)
            (two if two_stages else one).append(count / wall)
    engine.dispose()
    return two, one


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=30_000)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--stages", action="store_true", help="time BatchWriter.run against the one-thread loop")
    parser.add_argument("--profile", metavar="SORT_KEY", help="print a cProfile sorted by this key (tottime, cumulative)")
    parser.add_argument("--only", choices=["hook", "bare"], help="measure one writer only (callgrind)")
    parser.add_argument("--setup-only", action="store_true",
                        help="everything but the measured writes (a callgrind baseline to subtract)")
    parser.add_argument("--instrument", action="store_true",
                        help="under callgrind --instr-atstart=no: instrument the measured writes only")
    parser.add_argument("--no-interval-saves", action="store_true",
                        help="no engine state save on the interval, only with alert decisions (callgrind)")
    args = parser.parse_args()
    if args.no_interval_saves:
        runtime.STATE_SAVE_INTERVAL_S = float("inf")
    pg_name = f"pingan_bench_writer_{int(time.time())}"
    url = create_database(pg_name) if args.db == "postgresql" else f"sqlite:///{tempfile.mkdtemp()}/writer.db"
    try:
        if args.stages:
            two, one = stages_rates(url, args.count)
            print(f"ingest_writer: db={args.db} stages_msg_per_s={statistics.median(two):.0f} "
                  f"one_thread_msg_per_s={statistics.median(one):.0f}")
            return 0
        hooked = (writer_rate(url, True, args.count, args.profile, args.setup_only, args.instrument)
                  if args.only != "bare" else 0.0)
        bare = (writer_rate(url, False, args.count, args.profile if args.only == "bare" else None, args.setup_only,
                            args.instrument) if args.only != "hook" else 0.0)
    finally:
        if args.db == "postgresql":
            drop_database(pg_name)
    print(f"ingest_writer: db={args.db} hook_msg_per_cpu_s={hooked:.0f} bare_writer_msg_per_cpu_s={bare:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
