"""Soak: a bounded load with faults on a schedule against a `pingan serve` subprocess.

    .venv/bin/python benchmarks/soak.py [--minutes 30] [--rate 2000] [--devices 2000] [--pg]

A private Mosquitto (127.0.0.1, free port, persistence on) and a fresh database (SQLite by
default, PostgreSQL with --pg; PINGAN_TEST_PG) with `devices` load devices (`soak-00001` …)
and `probes` probe devices, each of its own resident. One publisher connection (paho, QoS 1,
persistent session, so what the broker did not acknowledge is sent again after a reconnect)
sends `rate` messages a second (75 % heartbeats, 15 % events, 10 % GPS fixes; payload `ts`
= publish time, per-device `seq` from 1). Faults, one every `--fault-every` minutes (default:
the run split in three), alternate: broker restart (SIGTERM, start again on the same port),
then hub SIGKILL and restart. Everything stops by itself; every wait has a deadline.

Measured (definitions, also in docs/BENCHMARKS.md "Soak"):
- throughput: events stored per second of the run, and the publisher's acknowledged rate.
- ingest-to-commit: commit seen − publish time (payload ts). A watcher polls `max(events.id)`
  every 20 ms, so the commit time of an event is the first poll that sees its id (up to 20 ms
  plus one query late). `p99_commit_ms` is over messages published outside fault windows
  (fault start to recovery + 30 s); the p99 over all messages is printed too.
- deadline-to-alert: probes send one heartbeat every `probes × 2` s with heartbeat_s 10, so
  each goes silent past its deadline (last heard + offline_after_missed × 10 s, the alert's
  `triggered_at`) once a cycle; latency = device_offline alert `opened_at` − `triggered_at`,
  outside fault windows for `p99_alert_ms`.
- RSS: VmRSS of the hub process from /proc/<pid>/status every 5 s; growth = the longest-lived
  hub process's last sample − its first sample after a 60 s warm-up.
- lost: (device, seq) acknowledged by the broker to the publisher and absent from `events`
  after the drain (redeliveries are stored once: dedup on device, seq, ts). Must be 0.

Last line: `soak: lost=N p99_commit_ms=N p99_alert_ms=N rss_growth_mb=N`.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import paho.mqtt.client as mqtt  # noqa: E402
import sqlalchemy as sa  # noqa: E402
import yaml  # noqa: E402
from harness import create_database, drop_database, free_port, port_open, wait_for  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

ROOT = "pingan/v1"
PROBE_HEARTBEAT_S = 10
PROBE_EVERY_S = 2.0
COMMIT_POLL_S = 0.02
RSS_EVERY_S = 5.0
WARMUP_S = 60.0
FAULT_GRACE_S = 30.0
WINDOW = 20_000  # messages awaiting PUBACK at most; the offered rate drops when the broker falls behind
EVENT_TYPES = ("motion", "motion", "motion", "door_open", "door_close", "water_flow")


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


# --- the real parts ------------------------------------------------------------------------------


class Broker:
    """Mosquitto with persistence (its state survives the scheduled restart)."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nuser root\nallow_anonymous true\npersistence true\n"
                             f"persistence_location {workdir}/\nmax_queued_messages 0\n"
                             "max_inflight_messages 20000\nlog_dest none\n")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(["mosquitto", "-c", str(self.conf)])
        wait_for(lambda: port_open(self.port), 10, "mosquitto")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)
        self.proc = None


class Hub:
    """`pingan serve` in a subprocess; SIGKILL and restart on demand."""

    def __init__(self, workdir: Path, port: int, db_url: str) -> None:
        data = yaml.safe_load((REPO / "hub" / "default_config.yaml").read_text(encoding="utf-8"))
        data["mqtt"].update({"url": f"mqtt://127.0.0.1:{port}", "client_id": "soak-hub", "session_expiry": "1h"})
        data["database"] = {"url": db_url}
        data["http"].update({"port": free_port()})
        data["sms"] = {"provider": "console"}
        self.offline_after_missed = int(data.get("rules", {}).get("offline_after_missed", 3))
        self.config = workdir / "hub.yaml"
        self.config.write_text(yaml.safe_dump(data, allow_unicode=True))
        self.http = f"http://127.0.0.1:{data['http']['port']}"
        self.log = workdir / "hub.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at: dict[int, float] = {}

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "pingan", "--config", str(self.config), "serve",
                                          "--no-upgrade"], cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                         env={"PINGAN_HTTP__SECRET_KEY": "benchmark-only-secret-key", **os.environ})
        self.started_at[self.proc.pid] = time.time()
        wait_for(self.ready, 120, f"hub ready (log {self.log})")

    def ready(self) -> bool:
        import httpx

        try:
            return httpx.get(f"{self.http}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.kill()


def make_database(url: str, devices: int, probes: int) -> None:
    from hub.storage import models as m
    from hub.storage.db import make_engine

    engine = make_engine(url)
    m.Base.metadata.drop_all(engine)
    m.Base.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.insert(m.Community), [{"id": "soak", "name": "soak", "timezone": "Asia/Shanghai"}])
        conn.execute(sa.insert(m.Grid), [{"id": "soak-g1", "community_id": "soak", "name": "soak"}])
        conn.execute(sa.insert(m.Resident), [
            {"id": f"r-probe-{i:03d}", "name": f"probe {i}", "grid_id": "soak-g1", "address": "", "home_lat": 45.75,
             "home_lon": 126.64, "share_location": False} for i in range(probes)])
        conn.execute(sa.insert(m.Device), [{"id": f"probe-{i:03d}", "kind": "pingan_cat", "resident_id": f"r-probe-{i:03d}",
                                            "heartbeat_s": PROBE_HEARTBEAT_S} for i in range(probes)])
        conn.execute(sa.insert(m.Device), [{"id": device_id(i), "kind": "pingan_cat", "heartbeat_s": 300}
                                           for i in range(devices)])
    engine.dispose()


def device_id(i: int) -> str:
    return f"soak-{i + 1:05d}"


# --- load ----------------------------------------------------------------------------------------


@dataclass
class Published:
    """Per load device, a bytearray indexed by seq: 1 once the broker acknowledged it."""

    acked: list[bytearray]
    sent: int = 0
    refused: int = 0
    pending: deque[tuple[mqtt.MQTTMessageInfo, int, int]] = field(default_factory=deque)

    def mark(self, device: int, seq: int) -> None:
        row = self.acked[device]
        if seq >= len(row):
            row.extend(bytes(seq + 1024 - len(row)))
        row[seq] = 1

    def sweep(self, full: bool = False) -> None:
        """Move acknowledged messages out of `pending`: from the oldest up to the first one still
        waiting (cheap; PUBACKs come in order), or all of them (`full`, after a resend)."""
        pending = self.pending
        while pending and pending[0][0]._published:  # is_published() raises for messages queued while disconnected
            _, device, seq = pending.popleft()
            if device >= 0:
                self.mark(device, seq)
        if full:
            still: deque[tuple[mqtt.MQTTMessageInfo, int, int]] = deque()
            for item in pending:
                if item[0]._published:
                    if item[1] >= 0:
                        self.mark(item[1], item[2])
                else:
                    still.append(item)
            self.pending = still

    @property
    def acked_count(self) -> int:
        return sum(row.count(1) for row in self.acked)


class Publisher(threading.Thread):
    """One paho connection (network thread) publishing the load and the probe heartbeats."""

    def __init__(self, port: int, devices: int, probes: int, rate: float, stop_at: float) -> None:
        super().__init__(name="publisher", daemon=True)
        self.port, self.devices, self.probes, self.rate, self.stop_at = port, devices, probes, rate, stop_at
        self.out = Published([bytearray() for _ in range(devices)])
        self.seq = [0] * devices
        self.probe_seq = [0] * probes
        self.rng = random.Random(7)
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="soak-publisher", clean_session=False,
                                  protocol=mqtt.MQTTv311)
        self.client.max_inflight_messages_set(2000)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(1, 2)
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.client.connect("127.0.0.1", self.port, keepalive=30)
            self.client.loop_start()
            self._publish_until_stop()
        except BaseException as exc:
            self.error = exc

    def _publish_until_stop(self) -> None:
        started = time.monotonic()
        next_probe, probe_i, device_i, last_sweep = time.time(), 0, 0, 0.0
        while time.time() < self.stop_at:
            due = int((time.monotonic() - started) * self.rate)
            room = WINDOW - len(self.out.pending)  # bounded: message ids are 16 bits, and this is backpressure
            for _ in range(max(0, min(due - self.out.sent, 500, room))):
                self._publish_load(device_i % self.devices)
                device_i += 1
            if self.probes and time.time() >= next_probe:
                self._publish_probe(probe_i % self.probes)
                probe_i, next_probe = probe_i + 1, next_probe + PROBE_EVERY_S
            if time.monotonic() - last_sweep > 0.1:
                self.out.sweep()
                last_sweep = time.monotonic()
            time.sleep(0.002)

    def _publish_load(self, device: int) -> None:
        self.seq[device] += 1
        seq, ts, r = self.seq[device], time.time(), self.rng.random()
        if r < 0.75:
            channel, body = "heartbeat", f'"battery":{40 + seq % 60},"rssi":-70,"fw":"1.4.2"'
        elif r < 0.90:
            channel, body = "event", f'"type":"{EVENT_TYPES[seq % len(EVENT_TYPES)]}"'
        else:
            lat, lon = 45.75 + self.rng.uniform(-0.01, 0.01), 126.64 + self.rng.uniform(-0.01, 0.01)
            channel, body = "gps", f'"lat":{lat:.6f},"lon":{lon:.6f},"acc":12.5,"speed":0.8,"battery":64'
        payload = f'{{"ts":{ts:.3f},"seq":{seq},{body}}}'
        info = self.client.publish(f"{ROOT}/dev/{device_id(device)}/{channel}", payload, qos=1)
        self.out.sent += 1
        if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:  # not queued at all (message ids exhausted): not acknowledged
            self.out.refused += 1
            return
        self.out.pending.append((info, device, seq))

    def _publish_probe(self, probe: int) -> None:
        self.probe_seq[probe] += 1
        payload = f'{{"ts":{time.time():.3f},"seq":{self.probe_seq[probe]},"battery":90}}'
        info = self.client.publish(f"{ROOT}/dev/probe-{probe:03d}/heartbeat", payload, qos=1)
        self.out.pending.append((info, -1, 0))

    def drain(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while self.out.pending and time.monotonic() < deadline:
            self.out.sweep(full=True)
            time.sleep(0.1)
        self.client.disconnect()
        self.client.loop_stop()


# --- observers -----------------------------------------------------------------------------------


class CommitWatcher(threading.Thread):
    """Polls max(events.id): (wall time, max id) whenever it grows."""

    def __init__(self, db_url: str) -> None:
        super().__init__(name="commit-watcher", daemon=True)
        from hub.storage.db import make_engine

        self.engine = make_engine(db_url)
        self.times: list[float] = []
        self.ids: list[int] = []
        self.stop = threading.Event()

    def run(self) -> None:
        with self.engine.connect() as conn:
            while not self.stop.is_set():
                try:
                    top = int(conn.execute(sa.text("SELECT max(id) FROM events")).scalar() or 0)
                    conn.commit()
                except sa.exc.OperationalError:
                    top = 0
                if top > (self.ids[-1] if self.ids else 0):
                    self.times.append(time.time())
                    self.ids.append(top)
                time.sleep(COMMIT_POLL_S)

    def seen_at(self, event_id: int) -> float | None:
        i = bisect.bisect_left(self.ids, event_id)
        return self.times[i] if i < len(self.ids) else None


class RssSampler(threading.Thread):
    def __init__(self, hub: Hub) -> None:
        super().__init__(name="rss", daemon=True)
        self.hub = hub
        self.samples: list[tuple[float, int, float]] = []  # (time, pid, MB)
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(RSS_EVERY_S):
            pid = self.hub.pid
            if pid is None:
                continue
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        self.samples.append((time.time(), pid, int(line.split()[1]) / 1024))

    def growth_mb(self, started_at: dict[int, float]) -> tuple[float, int]:
        """Growth of the longest-lived hub process after its warm-up, and that pid."""
        by_pid: dict[int, list[tuple[float, float]]] = {}
        for t, pid, mb in self.samples:
            if t - started_at.get(pid, 0) >= WARMUP_S:
                by_pid.setdefault(pid, []).append((t, mb))
        if not by_pid:
            return 0.0, 0
        pid = max(by_pid, key=lambda p: by_pid[p][-1][0] - by_pid[p][0][0])
        return by_pid[pid][-1][1] - by_pid[pid][0][1], pid


# --- the run -------------------------------------------------------------------------------------


@dataclass
class Fault:
    kind: str
    started: float
    recovered: float = 0.0

    def covers(self, t: float) -> bool:
        return self.started <= t <= self.recovered + FAULT_GRACE_S


def inject(kind: str, broker: Broker, hub: Hub, engine: sa.Engine) -> Fault:
    """Recovered = a message published after the restart is committed (end to end again)."""
    fault = Fault(kind, time.time())
    if kind == "broker_restart":
        broker.stop()
        broker.start()
    else:
        hub.kill()
        hub.start()
    restarted = time.time()
    wait_for(lambda: newest_device_ts(engine) > restarted, 300, f"messages committed again after {kind}")
    fault.recovered = time.time()
    print(f"fault {kind}: recovered in {fault.recovered - fault.started:.1f}s", flush=True)
    return fault


def newest_device_ts(engine: sa.Engine) -> float:
    with engine.connect() as conn:
        return float(conn.execute(sa.text("SELECT device_ts FROM events ORDER BY id DESC LIMIT 1")).scalar() or 0)


def stored_load_events(engine: sa.Engine) -> dict[str, list[tuple[int, int, float]]]:
    """device -> [(event id, seq, device_ts)] of the load devices."""
    rows: dict[str, list[tuple[int, int, float]]] = {}
    query = sa.text("SELECT device_id, id, seq, device_ts FROM events WHERE device_id LIKE 'soak-%'")
    with engine.connect() as conn:
        for device, event_id, seq, ts in conn.execution_options(yield_per=50_000).execute(query):
            rows.setdefault(device, []).append((event_id, seq, ts))
    return rows


def count_stored(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM events WHERE device_id LIKE 'soak-%'")).scalar() or 0)


def wait_stored(engine: sa.Engine, expected: int, timeout_s: float) -> None:
    deadline, last, still_since = time.monotonic() + timeout_s, -1, time.monotonic()
    while time.monotonic() < deadline:
        n = count_stored(engine)
        if n >= expected:
            return
        if n != last:
            last, still_since = n, time.monotonic()
        elif time.monotonic() - still_since > 30:
            return  # nothing new for 30 s: what is missing is lost
        time.sleep(1)


def measure(engine: sa.Engine, publisher: Publisher, watcher: CommitWatcher, faults: list[Fault],
            t0: float) -> dict[str, Any]:
    rows = stored_load_events(engine)
    lost = 0
    steady: list[float] = []
    during: list[float] = []
    by_minute: dict[int, list[float]] = {}  # minute of the run (by publish time) -> latencies
    for i, acked in enumerate(publisher.out.acked):
        stored = bytearray(len(acked))
        for event_id, seq, ts in rows.get(device_id(i), ()):
            if seq < len(stored):
                stored[seq] = 1
            seen = watcher.seen_at(event_id)
            if seen is not None:
                latency = (seen - ts) * 1000
                (during if any(f.covers(ts) for f in faults) else steady).append(latency)
                by_minute.setdefault(int((ts - t0) // 60), []).append(latency)
        lost += sum(1 for s in range(len(acked)) if acked[s] and not stored[s])
    with engine.connect() as conn:
        alerts = conn.execute(sa.text(
            "SELECT opened_at, triggered_at FROM alerts WHERE kind = 'device_offline' AND triggered_at IS NOT NULL")).all()
        quarantined = int(conn.execute(sa.text("SELECT count(*) FROM quarantine")).scalar() or 0)
    alert_steady = [(o - t) * 1000 for o, t in alerts if not any(f.covers(t) for f in faults)]
    alert_all = [(o - t) * 1000 for o, t in alerts]
    return {"lost": lost, "stored": sum(len(v) for v in rows.values()), "quarantined": quarantined,
            "commit_steady": steady, "commit_during": during, "by_minute": by_minute, "alert_steady": alert_steady, "alert_all": alert_all}


def fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.0f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="length of the load")
    parser.add_argument("--rate", type=float, default=2000.0, help="messages per second")
    parser.add_argument("--devices", type=int, default=2000, help="load devices")
    parser.add_argument("--probes", type=int, default=30, help="probe devices for deadline-to-alert")
    parser.add_argument("--fault-every", type=float, default=None, help="minutes between faults (default: minutes/3)")
    parser.add_argument("--pg", action="store_true", help="PostgreSQL (PINGAN_TEST_PG) instead of SQLite")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (database, broker state, hub log)")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="pingan-soak-"))
    pg_name = f"pingan_soak_{os.getpid()}"
    db_url = create_database(pg_name) if args.pg else f"sqlite:///{workdir}/soak.db"
    make_database(db_url, args.devices, args.probes)
    broker, watcher = Broker(workdir), CommitWatcher(db_url)
    broker.start()
    hub = Hub(workdir, broker.port, db_url)
    rss = RssSampler(hub)
    print(f"soak: {args.minutes} min at {args.rate:.0f} msg/s, {args.devices} devices, {args.probes} probes, "
          f"{'postgresql' if args.pg else 'sqlite'}, workdir {workdir}", flush=True)
    from hub.storage.db import make_engine

    engine = make_engine(db_url)
    try:
        hub.start()
        watcher.start()
        rss.start()
        t0 = time.time()
        end = t0 + args.minutes * 60
        publisher = Publisher(broker.port, args.devices, args.probes, args.rate, end)
        publisher.start()
        every = (args.fault_every or args.minutes / 3) * 60
        faults: list[Fault] = []
        kinds = ["broker_restart", "hub_sigkill"]
        next_fault = t0 + every
        while time.time() < end:
            if publisher.error is not None:
                raise publisher.error
            if time.time() >= next_fault and end - time.time() > 30:
                faults.append(inject(kinds[len(faults) % 2], broker, hub, engine))
                next_fault += every
            time.sleep(0.5)
        publisher.join(60)
        publisher.drain(120)
        acked = publisher.out.acked_count
        wait_stored(engine, acked, 300)
        elapsed = time.time() - t0
        time.sleep(1)  # one more commit-watcher poll
        result = measure(engine, publisher, watcher, faults, t0)
    finally:
        watcher.stop.set()
        rss.stop.set()
        hub.stop()
        broker.stop()
        engine.dispose()
        watcher.engine.dispose()
        if args.pg:
            drop_database(pg_name)
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    growth, pid = rss.growth_mb(hub.started_at)
    series = [f"{t - t0:.0f}s:{mb:.0f}" for t, p, mb in rss.samples[:: max(1, len(rss.samples) // 12)]]
    p99_commit = percentile(result["commit_steady"], 0.99)
    p99_alert = percentile(result["alert_steady"], 0.99)
    print(f"published {publisher.out.sent} load messages, acknowledged {acked} "
          f"({acked / (args.minutes * 60):.0f} msg/s), refused by paho {publisher.out.refused}; stored {result['stored']} ({result['stored'] / elapsed:.0f} msg/s "
          f"over {elapsed:.0f}s incl. drain); quarantined {result['quarantined']}", flush=True)
    print(f"ingest-to-commit ms: steady p50={fmt(percentile(result['commit_steady'], 0.5))} p99={fmt(p99_commit)} "
          f"max={fmt(max(result['commit_steady'], default=None))} (n={len(result['commit_steady'])}); "
          f"fault windows p99={fmt(percentile(result['commit_during'], 0.99))} "
          f"max={fmt(max(result['commit_during'], default=None))} (n={len(result['commit_during'])}); "
          f"all p99={fmt(percentile(result['commit_steady'] + result['commit_during'], 0.99))}")
    print("ingest-to-commit p50/p99 ms by minute of publish: " + " ".join(
        f"{k}:{fmt(percentile(v, 0.5))}/{fmt(percentile(v, 0.99))}" for k, v in sorted(result["by_minute"].items())))
    print(f"deadline-to-alert ms: steady p50={fmt(percentile(result['alert_steady'], 0.5))} p99={fmt(p99_alert)} "
          f"(n={len(result['alert_steady'])}); all max={fmt(max(result['alert_all'], default=None))} "
          f"(n={len(result['alert_all'])})")
    print(f"faults: {', '.join(f'{f.kind}@{f.started - t0:.0f}s recovered {f.recovered - f.started:.1f}s' for f in faults)}")
    print(f"hub RSS MB over time (pid changes at the SIGKILL): {' '.join(series)}; growth {growth:.1f} MB (pid {pid})")
    print(f"soak: lost={result['lost']} p99_commit_ms={fmt(p99_commit)} p99_alert_ms={fmt(p99_alert)} "
          f"rss_growth_mb={growth:.0f}")
    return 0 if result["lost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
