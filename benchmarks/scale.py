"""Scale-out drain rate: one hub as shipped, one partitioned hub, two partitioned hubs, same run.

    .venv/bin/python benchmarks/scale.py [--count 60000] [--residents 2000] [--partitions 16]

A private Mosquitto (127.0.0.1, free port, no queue limit) and a fresh PostgreSQL database
`pingan_scale_<pid>` (PINGAN_TEST_PG for the server; dropped at the end) with `residents`
residents, one device each (the registry of benchmarks/ingest.py). Three modes, each with its
own persistent MQTT sessions, so the broker queues the same backlog for each:

- **a** — one `pingan serve` as shipped (`scale.partitions: null`, plain subscription; the rules
  decide in the ingestion transaction);
- **b** — one hub with `scale.partitions: P` on the shared subscription `$share/scale-b/...`;
- **c** — two hubs with `scale.partitions: P` on `$share/scale-c/...` (Mosquitto round robin
  queues half of the backlog for each hub's session).

Every hub is started once and stopped (SIGTERM) to register its session; then the load generator
(simulators/load.py: ~75 % heartbeats, 15 % events, 10 % GPS) publishes `count` messages at full
speed while every hub is away: the backlog a hub finds after a restart or a reconnect storm.
Then each mode in turn, on emptied tables, starts its hubs together and the drain is timed
from the first stored event (`min(received_at)`) to the moment every message is stored and
ruled (`count(*) WHERE ruled`; as shipped, events are stored ruled). Partitioned modes include
the settle window (`scale.settle_ms`, 1 s) and the lease start-up (`scale.lease`, shipped defaults).
CPU seconds are per hub process (user + system from /proc, less the start-up CPU to readiness
measured at registration), for Mosquitto during the drain, and for the PostgreSQL backends
serving this database (the hubs' connections, which live as long as the hubs; the server's
WAL writer and checkpointer are not counted).
The last line is the summary:

    scale: one_hub=N msg/s two_hubs=N msg/s ratio=R

where one_hub is mode b, two_hubs mode c and ratio c/b. Bounded: every wait has a deadline; only
the processes started here are ended, by their handle.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
# One hub key for all (hubs started together otherwise race to create it, see docs/SCALE_OUT.md).
SECRET_KEY = "scale-benchmark-shared-secret-0123456789"
STATE_TABLES = ("events", "device_state", "resident_status", "engine_state", "audit", "notifications",
                "alert_transitions", "alerts", "quarantine", "partition_leases", "hub_presence")


def _load_ingest_benchmark() -> ModuleType:
    """benchmarks/ingest.py: its broker, registry, PostgreSQL database and `Hub` helpers."""
    spec = importlib.util.spec_from_file_location("bench_ingest", Path(__file__).with_name("ingest.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _load_ingest_benchmark()


@dataclass
class Mode:
    key: str
    label: str
    hubs: int
    partitions: int | None


def make_hub(workdir: Path, name: str, port: int, db_url: str, mode: Mode) -> object:
    """A `pingan serve` config of benchmarks/ingest.py, plus this mode's shared group and partitions."""
    hub = bench.Hub(workdir, name, port, db_url, "gmqtt")
    data = yaml.safe_load(hub.config.read_text(encoding="utf-8"))
    if mode.partitions is not None:
        data["mqtt"]["shared_group"] = f"scale-{mode.key}"
        data["scale"] = {"partitions": mode.partitions}
    hub.config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return hub


def ruled_count(engine: sa.Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT count(*), count(*) FILTER (WHERE ruled) FROM events")).one()
    return int(row[0]), int(row[1])


def clear_state(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        for table in STATE_TABLES:
            conn.execute(sa.text(f"DELETE FROM {table}"))


def register_sessions(hubs: list[object]) -> list[float]:
    """Start and stop the hubs once (their MQTT sessions then queue); returns each one's start-up CPU."""
    for hub in hubs:
        hub.start()  # type: ignore[attr-defined]
    for hub in hubs:
        bench.wait_for(hub.ready, 90, f"hub ready (log {hub.log})")  # type: ignore[attr-defined]
    startup_cpu = [hub.cpu_s() for hub in hubs]  # type: ignore[attr-defined]
    for hub in hubs:
        hub.stop()  # type: ignore[attr-defined]
    return startup_cpu


def drain(hubs: list[object], startup_cpu: list[float], engine: sa.Engine, count: int,
          timeout_s: float) -> dict[str, object]:
    """Start the mode's hubs on the queued backlog; time until `count` events are stored and ruled.

    A hub's CPU is its total at the end less its start-up CPU measured at registration (the
    backlog starts arriving before a hub is ready, so there is no clean point to sample)."""
    clear_state(engine)
    for hub in hubs:
        hub.start()  # type: ignore[attr-defined]
    deadline = time.monotonic() + timeout_s
    stored = ruled = 0
    all_stored_at = None
    while time.monotonic() < deadline:
        stored, ruled = ruled_count(engine)
        if all_stored_at is None and stored >= count:
            all_stored_at = time.time()  # ingestion done; what follows is the rules catching up
        if ruled >= count:
            break
        time.sleep(0.05)
    done_at = time.time()
    cpu = [hub.cpu_s() - start for hub, start in zip(hubs, startup_cpu, strict=True)]  # type: ignore[attr-defined]
    pg_cpu = postgres_cpu_s(engine)  # before the hubs stop: their backends end with them
    with engine.connect() as conn:
        first_at = float(conn.execute(sa.text("SELECT min(received_at) FROM events")).scalar() or done_at)
        split = [tuple(r) for r in conn.execute(sa.text(
            "SELECT owner, count(*) FROM partition_leases GROUP BY owner ORDER BY owner"))]
    for hub in hubs:
        hub.stop()  # type: ignore[attr-defined]
    span = done_at - first_at
    stored_span = (all_stored_at or done_at) - first_at
    return {"stored": stored, "ruled": ruled, "seconds": span, "stored_seconds": stored_span, "rate": ruled / span if span > 0 else 0.0,
            "cpu": cpu, "pg_cpu": pg_cpu, "leases": split}


def postgres_cpu_s(engine: sa.Engine) -> float:
    """CPU seconds of this database's server backends (the hubs' connections), read from /proc."""
    with engine.connect() as conn:
        pids = [int(p) for p in conn.execute(sa.text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalars()]
    total = 0.0
    for pid in pids:
        # a backend that just ended, or a server outside this machine's /proc
        with contextlib.suppress(FileNotFoundError, ProcessLookupError, PermissionError):
            total += process_cpu_s(pid)
    return total


def process_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=60_000, help="backlog of messages")
    parser.add_argument("--residents", type=int, default=2_000, help="residents, one device each")
    parser.add_argument("--partitions", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=300.0, help="deadline for each drain")
    args = parser.parse_args()
    modes = [Mode("a", "1 hub, as shipped (no partitions)", 1, None),
             Mode("b", f"1 hub, {args.partitions} partitions", 1, args.partitions),
             Mode("c", f"2 hubs, {args.partitions} partitions", 2, args.partitions)]

    os.environ["PINGAN_HTTP__SECRET_KEY"] = SECRET_KEY  # inherited by the hubs started below
    workdir = Path(tempfile.mkdtemp(prefix="pingan-bench-scale-"))
    db_name = f"pingan_scale_{os.getpid()}"
    db_url = bench.pg_database(db_name)
    if db_url is None:
        print("scale: PostgreSQL is required", flush=True)
        return 2
    broker, port = bench.start_broker(workdir)
    print(f"hub logs and configs: {workdir}", flush=True)
    hubs = {m.key: [make_hub(workdir, f"{m.key}{i + 1}", port, db_url, m) for i in range(m.hubs)] for m in modes}
    from hub.storage.db import make_engine

    engine = make_engine(db_url)
    results: dict[str, dict[str, object]] = {}
    try:
        bench.make_database(db_url, args.residents)
        startup_cpu = {mode.key: register_sessions(hubs[mode.key]) for mode in modes}
        # benchmarks/ingest.py's publisher reads devices, count and timeout
        bench.publish(port, argparse.Namespace(devices=args.residents, count=args.count, timeout=args.timeout))
        for mode in modes:
            broker_cpu = process_cpu_s(broker.pid)
            results[mode.key] = r = drain(hubs[mode.key], startup_cpu[mode.key], engine, args.count, args.timeout)
            r["broker_cpu"] = process_cpu_s(broker.pid) - broker_cpu
            cpu = " + ".join(f"{c:.1f}" for c in r["cpu"])  # type: ignore[attr-defined]
            print(f"({mode.key}) {mode.label:32s}: {r['ruled']} of {args.count} ruled in {r['seconds']:.1f} s "
                  f"(all stored after {r['stored_seconds']:.1f} s), "
                  f"{r['rate']:.0f} msg/s; hub CPU {cpu} s, mosquitto CPU {r['broker_cpu']:.1f} s, "
                  f"PostgreSQL backends CPU {r['pg_cpu']:.1f} s; "
                  f"leases {r['leases']}", flush=True)
    finally:
        for group in hubs.values():
            for hub in group:
                hub.kill()  # type: ignore[attr-defined]
        broker.terminate()
        broker.wait(10)
        engine.dispose()
        bench.drop_database(db_name)

    rate = {k: float(r["rate"]) for k, r in results.items()}  # type: ignore[arg-type]
    complete = all(int(r["ruled"]) >= args.count for r in results.values())  # type: ignore[call-overload]
    print(f"ratios: (c)/(b) {rate['c'] / rate['b']:.2f}, (c)/(a) {rate['c'] / rate['a']:.2f}, "
          f"(b)/(a) {rate['b'] / rate['a']:.2f}", flush=True)
    if not complete:
        print("INCOMPLETE: a mode did not store and rule the whole backlog before its deadline", flush=True)
    print(f"scale: one_hub={rate['b']:.0f} msg/s two_hubs={rate['c']:.0f} msg/s ratio={rate['c'] / rate['b']:.2f}")
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
