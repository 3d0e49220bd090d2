"""Ingestion throughput: the hub against bare MQTT subscribers that only count, in the same run.

    .venv/bin/python benchmarks/ingest.py [--count 200000] [--devices 10000] [--modes full,ingest,floor,split,split-proc]
                                          [--partitions 8,16] [--split-hubs 1,2] [--profile]

A private Mosquitto (127.0.0.1, free port) holds a persistent QoS 1 session for each consumer:
a bare paho subscriber, a bare gmqtt subscriber, and for each database (SQLite; PostgreSQL when
reachable, PINGAN_TEST_PG) the hub (its one MQTT client, gmqtt):

- **full**: `pingan serve`, the real path: ingestion with the rules engine
  (`HubCore.on_batch`) in every batch transaction, 10,000 registered residents with one device each;
- **ingest**: `IngestService` alone (no `on_batch` hook) in its own process, same database contents,
  the garbage collector set as `pingan serve` sets it (since session 14; `PINGAN_BENCH_INGEST_GC=default`
  leaves Python's defaults); its line also gives the collector's CPU per message;
- **floor**: the least any hub that acknowledges after its commit must do, in a process of its own:
  the hub's own MQTT connection (short path, acks after the commit) and the raw database driver
  (sqlite3 with the hub's pragmas; psycopg `COPY`) storing each message as it came — topic,
  payload, time — in a table of three columns, one transaction a batch, nothing decoded, checked
  or ruled. No hub design on this machine can ingest faster than this on that database: its
  ratio to the bare subscriber is the ceiling of item 3 of issue 18 (docs/BENCHMARKS.md);
- **split** (PostgreSQL only): `pingan serve` in scale-out mode (`scale.partitions`, docs/SCALE_OUT.md),
  one or more hubs on a `$share` group of their own: the batch writer stores events with
  `ruled = false` and acknowledges after the commit, the partitions' owner rules them from the
  database. Rate as for the others (stored and acknowledged); also the rules' lag: the time from
  the last event stored until `SELECT count(*) FROM events WHERE NOT ruled` is 0.
  `--partitions 8,16` and `--split-hubs 1,2` give one consumer per combination;
- **split-proc** (PostgreSQL only; a composition for measuring, not a deployment the hub offers):
  ingestion in a process of its own (`IngestService` with the partition map: events stored with
  `ruled = false`, acknowledged after the commit) and the rules in a `pingan serve` with
  `scale.partitions` that owns every partition and ingests nothing (its `mqtt.topic_root` is one
  no device publishes on). Rate of the ingestion process; the rules' lag as for split.
  `--rules-nice N` starts that rules hub under `nice -n N`, so ingestion has the CPU first.

The load generator (simulators/load.py) publishes `count` realistic messages from `devices`
devices at QoS 1 while all consumers are away, so the broker queues the same backlog for each;
then each consumer in turn drains it alone, the way the hub does after a restart. Rate is
messages / (last counted or committed − first received). Each consumer runs in its own process.
The last line is the summary:

    ingest: hub_rate=N msg/s bare_rate=N msg/s ratio=R rss_mb=N

where hub_rate is the full hub (`pingan serve`) on the slower of the two databases, bare_rate the faster bare subscriber
and rss_mb the full hub's peak resident memory. Split runs add, before it, one line each:

    split: partitions=P hubs=H rate=N msg/s ratio=R lag_s=S unruled_at_stored=N

    split-proc: partitions=P rate=N msg/s ratio=R lag_s=S unruled_at_stored=N

(ratio: to the fastest bare subscriber; lag_s: last event stored -> every event ruled). Everything stops by itself (every wait has a deadline).

`--profile` runs the full hub (and a split run's hub when it is alone) under benchmarks/hub_profile.py
and prints, after each hub, the CPU of each of its threads and of each step of the ingestion path
(and of the scale-out rules' path) in µs per message, up to the hub's stop.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import sqlalchemy as sa  # noqa: E402
import yaml  # noqa: E402
from harness import create_database, drop_database, free_port, port_open, wait_for  # noqa: E402

TOPIC_FILTER = "pingan/v1/dev/+/+"


# --- consumer roles, each run as `python benchmarks/ingest.py --role ...` in its own process -----


def paho_subscriber(port: int, client_id: str, expect: int, timeout_s: float) -> dict[str, Any]:
    import paho.mqtt.client as mqtt
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    state = {"n": 0, "first": 0.0, "last": 0.0}

    def on_message(_c: Any, _u: Any, _m: Any) -> None:
        now = time.time()
        if state["n"] == 0:
            state["first"], state["cpu_first"] = now, time.process_time()
        state["n"] += 1
        state["last"] = now

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.on_message = on_message
    client.on_connect = lambda c, *_a: c.subscribe(TOPIC_FILTER, qos=1)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    props.ReceiveMaximum = 20000
    client.connect("127.0.0.1", port, clean_start=False, properties=props)
    client.loop_start()
    deadline = time.monotonic() + timeout_s
    while state["n"] < max(expect, 1) and time.monotonic() < deadline:
        time.sleep(0.02)
        if expect == 0 and client.is_connected():
            time.sleep(0.3)  # let the SUBACK arrive: this run only registers the session
            break
    state["cpu_last"] = time.process_time()
    client.disconnect()
    client.loop_stop()
    return state


def gmqtt_subscriber(port: int, client_id: str, expect: int, timeout_s: float) -> dict[str, Any]:
    import gmqtt

    state = {"n": 0, "first": 0.0, "last": 0.0}

    async def run() -> None:
        done = asyncio.Event()
        subscribed = asyncio.Event()

        def on_message(_c: Any, _topic: str, _payload: bytes, _qos: int, _props: Any) -> int:
            now = time.time()
            if state["n"] == 0:
                state["first"], state["cpu_first"] = now, time.process_time()
            state["n"] += 1
            state["last"] = now
            if state["n"] >= expect > 0:
                done.set()
            return 0  # gmqtt sends PUBACK after the callback returns

        client = gmqtt.Client(client_id, clean_session=False, session_expiry_interval=3600, receive_maximum=20000)
        client.on_message = on_message
        client.on_connect = lambda c, *_a: c.subscribe(TOPIC_FILTER, qos=1)
        client.on_subscribe = lambda *_a: subscribed.set()
        await client.connect("127.0.0.1", port)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for((done if expect else subscribed).wait(), timeout_s)
        state["cpu_last"] = time.process_time()
        await client.disconnect()

    asyncio.run(run())
    return state


def ingest_only(config_path: str, expect: int, timeout_s: float) -> dict[str, Any]:
    """`IngestService` without the rules hook: what ingestion alone sustains on this database.
    With `scale.partitions` in the config (mode split-proc) it stores each event with its
    partition and `ruled = false`, as a scale-out hub's writer does, for a rules-only hub to rule."""
    from prometheus_client import CollectorRegistry

    from hub.clock import SystemClock
    from hub.config import load_config
    from hub.ingest import IngestService, hub_connection
    from hub.metrics import IngestMetrics
    from hub.storage.db import make_engine, make_sessions

    config = load_config(Path(config_path))
    engine = make_engine(config.database.url, writer=True)
    clock = SystemClock()
    partitioner = None
    if config.scale.partitions is not None:
        from hub.rules.partitions import PartitionMap

        partitioner = PartitionMap(config.scale.partitions)
    service = IngestService(config, make_sessions(engine), hub_connection(config, IngestMetrics(CollectorRegistry()), clock), clock,
                            partitioner=partitioner)
    gc_s = [0.0, 0.0]  # CPU inside the garbage collector (of the thread that ran it), its start

    def gc_time(phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            gc_s[1] = time.thread_time()
        else:
            gc_s[0] += time.thread_time() - gc_s[1]

    service.start()
    if os.environ.get("PINGAN_BENCH_INGEST_GC", "serve") == "serve":
        # The collector as `pingan serve` sets it after its start (pingan/serve.py): what a hub
        # process that only ingested would run with. PINGAN_BENCH_INGEST_GC=default: Python's
        # defaults, as this mode ran up to session 13 (docs/BENCHMARKS.md, session 14).
        gc.freeze()
        gc.set_threshold(20_000, 20, 20)
    deadline = time.monotonic() + timeout_s
    cpu_first = None
    while service.writer.committed < max(expect, 1) and time.monotonic() < deadline:
        time.sleep(0.005)
        if cpu_first is None and not service.inbox.empty():
            cpu_first = time.process_time()
            gc.callbacks.append(gc_time)
        if expect == 0 and service.connected:
            time.sleep(0.3)  # let the SUBACK arrive: this run only registers the session
            break
    last, cpu_last = time.time(), time.process_time()
    n = service.writer.committed
    service.stop()
    with engine.connect() as conn:
        first = float(conn.execute(sa.text("SELECT min(received_at) FROM events")).scalar() or last)
    engine.dispose()
    rss = 0.0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            rss = int(line.split()[1]) / 1024
    return {"n": n, "first": first, "last": last, "rss_mb": rss, "cpu_first": cpu_first or cpu_last, "cpu_last": cpu_last,
            "gc_s": gc_s[0]}


def ingest_floor(config_path: str, expect: int, timeout_s: float) -> dict[str, Any]:
    """Mode floor: the hub's MQTT connection and the raw driver, each batch stored as it came and
    acknowledged after its commit (the batch size and wait of `ingest`); nothing decoded."""
    from prometheus_client import CollectorRegistry

    from hub.clock import SystemClock
    from hub.config import load_config
    from hub.ingest import hub_connection
    from hub.metrics import IngestMetrics

    config = load_config(Path(config_path))
    url = str(config.database.url)
    connection = hub_connection(config, IngestMetrics(CollectorRegistry()), SystemClock())
    store, close = raw_store(url)
    batch_size, wait_s = config.ingest.batch_size, config.ingest.batch_wait_ms / 1000
    connection.start()
    inbox = connection.inbox
    deadline = time.monotonic() + timeout_s
    n, first, cpu_first = 0, 0.0, None
    if expect == 0:  # this run only registers the session
        wait_for(lambda: connection.connected, 30, "floor connected")
        time.sleep(0.3)
    while n < expect and time.monotonic() < deadline:
        try:
            batch = [inbox.get(timeout=0.1)]
        except queue.Empty:
            continue
        if cpu_first is None:
            first, cpu_first = batch[0].received_at, time.process_time()
        until = time.monotonic() + wait_s
        while len(batch) < batch_size:
            try:
                batch.append(inbox.get_nowait())
            except queue.Empty:
                if time.monotonic() >= until:
                    break
                time.sleep(0.001)
        store(batch)
        connection.ack_all(batch)
        n += len(batch)
    last, cpu_last = time.time(), time.process_time()
    connection.stop()
    close()
    return {"n": n, "first": first or last, "last": last, "cpu_first": cpu_first or cpu_last, "cpu_last": cpu_last}


def raw_store(url: str) -> tuple[Any, Any]:
    """(store(batch), close()) on the raw driver: one transaction a batch, rows as they came."""
    if url.startswith("sqlite"):
        import sqlite3

        db = sqlite3.connect(url.split("///", 1)[1], isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # the hub's pragmas (hub/storage/db.py)
        db.execute("CREATE TABLE IF NOT EXISTS raw_messages (topic TEXT, payload BLOB, received_at REAL)")

        def store_sqlite(batch: list[Any]) -> None:
            db.execute("BEGIN")
            db.executemany("INSERT INTO raw_messages VALUES (?, ?, ?)", [(r.topic, r.payload, r.received_at) for r in batch])
            db.execute("COMMIT")

        return store_sqlite, db.close
    import psycopg

    pg = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1))
    pg.execute("CREATE TABLE IF NOT EXISTS raw_messages (topic text, payload bytea, received_at double precision)")
    pg.commit()

    def store_pg(batch: list[Any]) -> None:
        with pg.cursor() as cur, cur.copy("COPY raw_messages FROM STDIN") as copy:
            for r in batch:
                copy.write_row((r.topic, r.payload, r.received_at))
        pg.commit()

    return store_pg, pg.close


# --- orchestration ---------------------------------------------------------------------------------


def start_broker(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    conf = workdir / "mosquitto.conf"
    # The hub's production settings (deploy/mosquitto.conf) for queues and in-flight window; no disk.
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    "max_queued_messages 0\nmax_inflight_messages 20000\nlog_dest none\n")
    proc = subprocess.Popen(["mosquitto", "-c", str(conf)])
    wait_for(lambda: port_open(port), 10, "mosquitto")
    return proc, port


def run_role(role: str, port: int, client_id: str, expect: int, timeout_s: float) -> dict[str, Any]:
    """A bare subscriber (`paho`, `gmqtt`) or, with role `ingest` and client_id a config path, IngestService alone."""
    out = subprocess.run([sys.executable, __file__, "--role", role, "--port", str(port), "--client-id", client_id,
                          "--expect", str(expect), "--timeout", str(timeout_s)],
                         capture_output=True, text=True, timeout=timeout_s + 30, cwd=REPO)
    if out.returncode != 0:
        raise RuntimeError(f"{role} failed: {out.stderr[-2000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def make_database(url: str, devices: int) -> None:
    from hub.storage.db import make_engine
    from hub.storage.models import Base, Community, Device, Grid, Resident

    engine = make_engine(url)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        # One resident per device, so the rules engine has a person to judge for every message.
        conn.execute(sa.insert(Community), [{"id": "bench", "name": "bench", "timezone": "Asia/Shanghai"}])
        conn.execute(sa.insert(Grid), [{"id": "bench-g1", "community_id": "bench", "name": "bench"}])
        conn.execute(sa.insert(Resident), [{"id": f"r-{i + 1:05d}", "name": f"resident {i + 1}", "grid_id": "bench-g1",
                                            "address": "", "home_lat": 45.7512, "home_lon": 126.6421}
                                           for i in range(devices)])
        conn.execute(sa.insert(Device), [{"id": f"load-{i + 1:05d}", "kind": "pingan_cat", "heartbeat_s": 300,
                                          "resident_id": f"r-{i + 1:05d}"} for i in range(devices)])
    engine.dispose()


def pg_database(name: str) -> str | None:
    try:
        return create_database(name)
    except Exception as exc:
        print(f"postgresql unavailable ({str(exc).splitlines()[0]}); skipping the PostgreSQL run", flush=True)
        return None


class Hub:
    def __init__(self, workdir: Path, name: str, port: int, db_url: str, profile: bool = False,
                 scale: dict[str, Any] | None = None, shared_group: str | None = None, topic_root: str | None = None) -> None:
        data = yaml.safe_load((REPO / "hub" / "default_config.yaml").read_text(encoding="utf-8"))
        data["mqtt"].update({"url": f"mqtt://127.0.0.1:{port}", "client_id": f"bench-{name}", "session_expiry": "1h"})
        if topic_root is not None:
            data["mqtt"]["topic_root"] = topic_root
        if shared_group is not None:
            data["mqtt"]["shared_group"] = shared_group
        if scale is not None:
            data["scale"].update(scale)
        data["database"] = {"url": db_url}
        data["http"].update({"port": free_port()})
        self.config = workdir / f"{name}.yaml"
        self.config.write_text(yaml.safe_dump(data, allow_unicode=True))
        self.http = f"http://127.0.0.1:{data['http']['port']}"
        self.log = workdir / f"{name}.log"
        self.db_url = db_url
        self.profile = workdir / f"{name}-profile.json" if profile else None
        self.nice = 0  # added to the hub process's niceness (split-proc's rules hub: --rules-nice)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            program = ["-m", "pingan"] if self.profile is None else [str(REPO / "benchmarks" / "hub_profile.py")]
            env = {"PINGAN_HTTP__SECRET_KEY": "benchmark-only-secret-key", **os.environ}
            if self.profile is not None:
                env["PINGAN_HUB_PROFILE"] = str(self.profile)
            niced = ["nice", "-n", str(self.nice)] if self.nice else []
            self.proc = subprocess.Popen([*niced, sys.executable, *program, "--config", str(self.config), "serve",
                                          "--no-upgrade"], cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env)

    def ready(self) -> bool:
        import httpx

        try:
            return httpx.get(f"{self.http}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def peak_rss_mb(self) -> float:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def cpu_s(self) -> float:
        """User + system CPU seconds of the hub process so far."""
        assert self.proc is not None
        return cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)
        self.proc = None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def measure_hub(hub: Hub, count: int, timeout_s: float) -> dict[str, Any]:
    from hub.storage.db import make_engine

    engine = make_engine(hub.db_url)

    def stored() -> int:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM events")).scalar() or 0)

    hub.start()
    deadline = time.monotonic() + timeout_s
    cpu_first = None
    while (n := stored()) < count and time.monotonic() < deadline:
        if cpu_first is None and n > 0:
            cpu_first = hub.cpu_s()  # startup (config, registry, engine load) not counted
        time.sleep(0.05)
    done_at, cpu_last = time.time(), hub.cpu_s()
    with engine.connect() as conn:
        first = float(conn.execute(sa.text("SELECT min(received_at) FROM events")).scalar() or done_at)
        quarantined = int(conn.execute(sa.text("SELECT count(*) FROM quarantine")).scalar() or 0)
    rss = hub.peak_rss_mb()
    hub.stop()
    engine.dispose()
    return {"n": n, "first": first, "last": done_at, "rss_mb": rss, "quarantined": quarantined,
            "cpu_first": cpu_first or cpu_last, "cpu_last": cpu_last}


def measure_split(hubs: list[Hub], count: int, timeout_s: float) -> dict[str, Any]:
    """Scale-out hubs drain the backlog: stored (and acknowledged) like `measure_hub`, then the
    time until the partitions' owners have ruled every event."""
    from hub.storage.db import make_engine

    engine = make_engine(hubs[0].db_url)

    def scalar(sql: str) -> int:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(sql)).scalar() or 0)

    for hub in hubs:
        hub.start()
    deadline = time.monotonic() + timeout_s
    cpu_first = None
    while (n := scalar("SELECT count(*) FROM events")) < count and time.monotonic() < deadline:
        if cpu_first is None and n > 0:
            cpu_first = sum(hub.cpu_s() for hub in hubs)
        time.sleep(0.05)
    done_at, cpu_last = time.time(), sum(hub.cpu_s() for hub in hubs)
    unruled_at_stored = scalar("SELECT count(*) FROM events WHERE NOT ruled")
    left = unruled_at_stored
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = scalar("SELECT count(*) FROM events WHERE NOT ruled")
    ruled_at, cpu_ruled = time.time(), sum(hub.cpu_s() for hub in hubs)
    with engine.connect() as conn:
        first = float(conn.execute(sa.text("SELECT min(received_at) FROM events")).scalar() or done_at)
        quarantined = int(conn.execute(sa.text("SELECT count(*) FROM quarantine")).scalar() or 0)
    rss = max(hub.peak_rss_mb() for hub in hubs)
    for hub in hubs:
        hub.stop()
    engine.dispose()
    return {"n": n, "first": first, "last": done_at, "rss_mb": rss, "quarantined": quarantined,
            "cpu_first": cpu_first or cpu_last, "cpu_last": cpu_last, "unruled_at_stored": unruled_at_stored,
            "unruled_left": left, "lag_s": ruled_at - done_at, "ruled_span_s": ruled_at - first,
            "cpu_ruled": cpu_ruled - (cpu_first or cpu_last)}


def measure_split_proc(rules: Hub, ingest: Hub, port: int, count: int, timeout_s: float) -> dict[str, Any]:
    """Mode split-proc: ingestion in a process of its own (`ingest_only` with the partition map),
    the rules in a `pingan serve` that owns every partition and ingests nothing (its topic root
    is one no device publishes on). Ingestion rate as for `ingest`; then the rules' lag."""
    from hub.storage.db import make_engine

    rules.start()
    wait_for(rules.ready, 60, f"rules hub ready (log {rules.log})")  # its start-up is not the ingestion's
    cpu_rules = rules.cpu_s()
    r = run_role("ingest", port, str(ingest.config), count, timeout_s)
    engine = make_engine(rules.db_url)

    def unruled() -> int:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM events WHERE NOT ruled")).scalar() or 0)

    r["unruled_at_stored"] = left = unruled()  # a little after the last commit: the role stops its service first
    deadline = time.monotonic() + timeout_s
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = unruled()
    ruled_at = time.time()
    r.update(unruled_left=left, lag_s=ruled_at - r["last"], ruled_span_s=ruled_at - r["first"],
             cpu_rules=rules.cpu_s() - cpu_rules, rules_rss_mb=rules.peak_rss_mb())
    rules.stop()
    engine.dispose()
    return r


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class BrokerCpu:
    """The broker's CPU per message delivered while one consumer drains: with the consumer's own,
    what the machine's cores must give per message (docs/BENCHMARKS.md, the CPU budget)."""

    def __init__(self, broker: subprocess.Popen[bytes]) -> None:
        self.pid = broker.pid
        self.start = cpu_seconds(self.pid)

    def us_per_msg(self, n: int) -> float:
        return (cpu_seconds(self.pid) - self.start) * 1e6 / max(n, 1)


def rate(result: dict[str, Any]) -> float:
    span = result["last"] - result["first"]
    return result["n"] / span if span > 0 else 0.0


def cpu_rate(result: dict[str, Any]) -> float:
    """Messages per CPU-second of the consumer's process: steadier than wall rates on a shared machine."""
    span = result["cpu_last"] - result["cpu_first"]
    return result["n"] / span if span > 0 else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--timeout", type=float, default=300.0, help="deadline for each consumer")
    parser.add_argument("--modes", default="full,ingest",
                        help="full (pingan serve), ingest (IngestService alone), split (pingan serve with scale.partitions; PostgreSQL), "
                        "split-proc (ingestion process + rules-only pingan serve; PostgreSQL)")
    parser.add_argument("--partitions", default="8", help="split: scale.partitions values, comma-separated")
    parser.add_argument("--split-hubs", default="1", help="split: numbers of hubs on one $share group, comma-separated")
    parser.add_argument("--rules-nice", type=int, default=0,
                        help="split-proc: run the rules-only hub this much nicer (the ingestion process first)")
    parser.add_argument("--clients", default=",".join(BARE_ROLES), help="bare subscribers to run: paho, gmqtt")
    parser.add_argument("--profile", action="store_true", help="CPU per step of the full hub's path (hub_profile.py)")
    parser.add_argument("--role", choices=["paho", "gmqtt", "ingest", "floor"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--client-id", help=argparse.SUPPRESS)
    parser.add_argument("--expect", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role in ("ingest", "floor"):
        role_of = ingest_only if args.role == "ingest" else ingest_floor
        print(json.dumps(role_of(args.client_id, args.expect, args.timeout)))
        return 0
    if args.role:
        role = paho_subscriber if args.role == "paho" else gmqtt_subscriber
        print(json.dumps(role(args.port, args.client_id, args.expect, args.timeout)))
        return 0

    modes = args.modes.split(",")
    bare_roles = [c for c in args.clients.split(",") if c in BARE_ROLES]
    if not bare_roles:
        parser.error(f"--clients: one or more of {', '.join(BARE_ROLES)}")
    workdir = Path(tempfile.mkdtemp(prefix="pingan-bench-ingest-"))
    broker, port = start_broker(workdir)
    pg_name = f"pingan_bench_{os.getpid()}"
    dbs = {"sqlite": f"sqlite:///{workdir}/bench.db"}
    pg_url = pg_database(pg_name)
    if pg_url:
        dbs["postgresql"] = pg_url
    hubs: dict[str, Hub] = {}
    ingest_configs: dict[str, Hub] = {}
    floor_configs: dict[str, Hub] = {}
    splits: dict[tuple[int, int], list[Hub]] = {}
    procs: dict[int, tuple[Hub, Hub]] = {}  # split-proc: (rules-only hub, ingestion process's config) per partition count
    if "split" in modes and not pg_url:
        print("split: needs PostgreSQL; skipped", flush=True)
    try:
        for db, url in dbs.items():
            make_database(url, args.devices)
            if "full" in modes:
                hubs[db] = Hub(workdir, f"full-{db}", port, url, args.profile)
            if "ingest" in modes:
                ingest_configs[db] = Hub(workdir, f"ingest-{db}", port, url)
            if "floor" in modes:
                floor_configs[db] = Hub(workdir, f"floor-{db}", port, url)
            if "split" in modes and db == "postgresql":
                for p in (int(v) for v in args.partitions.split(",")):
                    for h in (int(v) for v in args.split_hubs.split(",")):
                        name = f"split-p{p}-h{h}"  # a $share group of its own: each combination gets the whole backlog
                        splits[(p, h)] = [Hub(workdir, f"{name}-{i}", port, url, args.profile and h == 1,
                                              scale={"partitions": p}, shared_group=name) for i in range(h)]
            if "split-proc" in modes and db == "postgresql":
                for p in (int(v) for v in args.partitions.split(",")):
                    procs[p] = (Hub(workdir, f"rules-p{p}", port, url, args.profile, scale={"partitions": p},
                                    topic_root="bench-rules-only"),
                                Hub(workdir, f"ingest-p{p}", port, url, scale={"partitions": p}))
                procs[p][0].nice = args.rules_nice
        # Register every consumer's persistent session, then publish while all are away.
        for role in bare_roles:
            run_role(role, port, f"bench-bare-{role}", 0, 30)
        for hub in hubs.values():
            hub.start()
            wait_for(hub.ready, 60, f"hub ready (log {hub.log})")
            hub.stop()
        for config in ingest_configs.values():
            run_role("ingest", port, str(config.config), 0, 30)
        for config in floor_configs.values():
            run_role("floor", port, str(config.config), 0, 30)
        for _rules, ingest in procs.values():
            run_role("ingest", port, str(ingest.config), 0, 30)
        for group in splits.values():
            for hub in group:
                hub.start()
            for hub in group:
                wait_for(hub.ready, 60, f"hub ready (log {hub.log})")
            time.sleep(1.0)  # every SUBSCRIBE handled
            for hub in group:
                hub.stop()
        publish(port, args)

        results: dict[str, dict[str, Any]] = {}
        for role in bare_roles:
            broker_cpu = BrokerCpu(broker)
            results[f"bare-{role}"] = r = run_role(role, port, f"bench-bare-{role}", args.count, args.timeout)
            print(f"bare {role:6s}: {r['n']} messages, {rate(r):.0f} msg/s, {cpu_rate(r):.0f} msg/cpu-s, "
                  f"broker {broker_cpu.us_per_msg(r['n']):.1f} us/msg", flush=True)
        for name, hub in hubs.items():
            clear_events(hub.db_url)
            broker_cpu = BrokerCpu(broker)
            results[f"full-{name}"] = r = measure_hub(hub, args.count, args.timeout)
            print(f"full hub   {name:17s}: {r['n']} rows, {rate(r):.0f} msg/s, {cpu_rate(r):.0f} msg/cpu-s, "
                  f"peak rss {r['rss_mb']:.0f} MB, "
                  f"quarantined {r['quarantined']}, broker {broker_cpu.us_per_msg(r['n']):.1f} us/msg", flush=True)
            if hub.profile is not None:
                from hub_profile import report

                print(report(hub.profile, r["n"]), flush=True)
        for name, config in ingest_configs.items():
            clear_events(config.db_url)
            results[f"ingest-{name}"] = r = run_role("ingest", port, str(config.config), args.count, args.timeout)
            print(f"ingest only {name:16s}: {r['n']} rows, {rate(r):.0f} msg/s, {cpu_rate(r):.0f} msg/cpu-s, "
                  f"peak rss {r['rss_mb']:.0f} MB, garbage collector {r['gc_s'] * 1e6 / max(r['n'], 1):.1f} us/msg",
                  flush=True)
        for name, config in floor_configs.items():
            broker_cpu = BrokerCpu(broker)
            results[f"floor-{name}"] = r = run_role("floor", port, str(config.config), args.count, args.timeout)
            print(f"floor      {name:17s}: {r['n']} rows, {rate(r):.0f} msg/s, {cpu_rate(r):.0f} msg/cpu-s, "
                  f"broker {broker_cpu.us_per_msg(r['n']):.1f} us/msg", flush=True)
        for (p, h), group in splits.items():
            clear_events(group[0].db_url, scale_out=True)
            broker_cpu = BrokerCpu(broker)
            results[f"split-p{p}-h{h}"] = r = measure_split(group, args.count, args.timeout)
            print(f"split p={p:<3d} hubs={h}  : {r['n']} rows, {rate(r):.0f} msg/s, {cpu_rate(r):.0f} msg/cpu-s, "
                  f"peak rss {r['rss_mb']:.0f} MB, quarantined {r['quarantined']}, "
                  f"broker {broker_cpu.us_per_msg(r['n']):.1f} us/msg; unruled when all stored {r['unruled_at_stored']}, "
                  f"all ruled {r['lag_s']:.1f}s later ({r['n'] / r['ruled_span_s']:.0f} msg/s first received -> all ruled, "
                  f"{r['n'] / max(r['cpu_ruled'], 1e-9):.0f} msg/cpu-s of the hubs)", flush=True)
            if group[0].profile is not None:
                from hub_profile import report

                print(report(group[0].profile, r["n"]), flush=True)
        for p, (rules, ingest) in procs.items():
            clear_events(rules.db_url, scale_out=True)
            results[f"proc-p{p}"] = r = measure_split_proc(rules, ingest, port, args.count, args.timeout)
            print(f"split-proc p={p:<3d}: {r['n']} rows, {rate(r):.0f} msg/s, {cpu_rate(r):.0f} msg/cpu-s, "
                  f"peak rss {r['rss_mb']:.0f} MB (rules hub {r['rules_rss_mb']:.0f} MB); unruled when all stored "
                  f"{r['unruled_at_stored']}, all ruled {r['lag_s']:.1f}s later ({r['n'] / r['ruled_span_s']:.0f} msg/s "
                  f"first received -> all ruled; rules hub {r['n'] / max(r['cpu_rules'], 1e-9):.0f} msg/cpu-s)", flush=True)
            if rules.profile is not None:
                from hub_profile import report

                print(report(rules.profile, r["n"]), flush=True)
    finally:
        for hub in hubs.values():
            hub.kill()
        for rules, _ingest in procs.values():
            rules.kill()
        for group in splits.values():
            for hub in group:
                hub.kill()
        broker.terminate()
        broker.wait(10)
        if pg_url:
            drop_database(pg_name)

    bare = max(rate(results[f"bare-{r}"]) for r in bare_roles)
    summary = next(keys for prefix in ("full-", "ingest-", "split-", "proc-", "floor-") if (keys := [k for k in results if k.startswith(prefix)]))
    hub_rate = min(rate(results[k]) for k in summary)
    rss = max(results[k].get("rss_mb", 0.0) for k in summary)
    complete = all(results[k]["n"] >= args.count for k in results)
    bare_cpu = max(cpu_rate(results[f"bare-{r}"]) for r in bare_roles)
    hub_cpu = min(cpu_rate(results[k]) for k in summary)
    print(f"per CPU-second: hub {hub_cpu:.0f} msg/cpu-s, fastest bare {bare_cpu:.0f} msg/cpu-s, "
          f"ratio {hub_cpu / bare_cpu:.2f}", flush=True)
    for (p, h) in splits:
        r = results[f"split-p{p}-h{h}"]
        complete = complete and r["unruled_left"] == 0
        print(f"split: partitions={p} hubs={h} rate={rate(r):.0f} msg/s ratio={rate(r) / bare:.2f} lag_s={r['lag_s']:.1f} "
              f"unruled_at_stored={r['unruled_at_stored']}", flush=True)
    for p in procs:
        r = results[f"proc-p{p}"]
        complete = complete and r["unruled_left"] == 0
        print(f"split-proc: partitions={p} rate={rate(r):.0f} msg/s ratio={rate(r) / bare:.2f} lag_s={r['lag_s']:.1f} "
              f"unruled_at_stored={r['unruled_at_stored']}", flush=True)
    for name in floor_configs:
        r = results[f"floor-{name}"]
        print(f"floor: db={name} rate={rate(r):.0f} msg/s ratio={rate(r) / bare:.2f} "
              f"per_cpu_ratio={cpu_rate(r) / bare_cpu:.2f}", flush=True)
    if not complete:
        print("INCOMPLETE: a consumer did not receive every message before its deadline", flush=True)
    print(f"ingest: hub_rate={hub_rate:.0f} msg/s bare_rate={bare:.0f} msg/s ratio={hub_rate / bare:.2f} "
          f"rss_mb={rss:.0f}")
    return 0 if complete else 1


BARE_ROLES = ("paho", "gmqtt")


def publish(port: int, args: argparse.Namespace) -> None:
    t0 = time.monotonic()
    load = subprocess.run([sys.executable, "-m", "simulators.load", "--url", f"mqtt://127.0.0.1:{port}",
                           "--devices", str(args.devices), "--rate", "10000000", "--count", str(args.count),
                           "--connections", "2", "--window", "5000"],
                          capture_output=True, text=True, cwd=REPO, timeout=args.timeout + 60)
    stats = json.loads(load.stdout.strip().splitlines()[-1])
    print(f"publisher: {stats['acked']} of {stats['sent']} acknowledged in {time.monotonic() - t0:.1f}s "
          f"({stats['rate']:.0f} msg/s, {stats['by_channel']})", flush=True)


def clear_events(url: str, scale_out: bool = False) -> None:
    """The next consumer on the same database starts from the same empty event table (dedup would skip all).
    `scale_out`: also the partitions' leases, the hubs' presence and every engine state (a split run
    with another partition count must not load the states of the one before)."""
    from hub.storage.db import make_engine

    engine = make_engine(url)
    with engine.begin() as conn:
        for table in ("events", "device_state", "resident_status", "engine_state", "audit", "notifications",
                      "alert_transitions", "alerts", "quarantine"):
            conn.execute(sa.text(f"DELETE FROM {table}"))
        if scale_out:
            for table in ("engine_units", "partition_leases", "hub_presence", "rule_failures"):
                conn.execute(sa.text(f"DELETE FROM {table}"))
    engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
