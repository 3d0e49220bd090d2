"""Helpers of the fault suite: hubs as `pingan serve` processes on one shared subscription,
the registry of the recorded day, device traffic, and what the database says afterwards."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import yaml
from conftest import Broker, free_port
from ingest.helpers import HubProcess, Publisher, rows, scalar, wait_until, write_config

from hub.config import load_config
from hub.registry.file import load_registry_file, to_snapshot
from hub.registry.importer import import_document, known_ids
from hub.rules.replay import run_offline
from hub.storage.db import make_engine, make_sessions

REPO = Path(__file__).resolve().parents[2]
GROUP = "hubs"
PARTITIONS = 16
SHARED_SECRET = "fault-suite-shared-secret-0123456789"


@dataclass
class Cluster:
    """Hubs on one broker and database; each hub a `pingan serve` process of its own."""

    tmp: Path
    broker: Broker
    db_url: str
    partitions: int | None = PARTITIONS
    sms: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    hubs: dict[str, HubProcess] = field(default_factory=dict)
    mqtt_url: str | None = None  # the hubs' way to the broker (a `Link`), else the broker itself
    config: dict[str, Any] = field(default_factory=dict)  # top-level config sections to replace (e.g. escalation)

    def add(self, name: str) -> HubProcess:
        port = free_port()
        extra: dict[str, Any] = {"client_id": name}
        if self.partitions is not None:
            extra["shared_group"] = GROUP
        config = write_config(self.tmp / f"{name}.yaml", self.mqtt_url or self.broker.url, self.db_url, port, **extra)
        data = yaml.safe_load(config.read_text(encoding="utf-8"))
        if self.partitions is not None:
            data["scale"] = {"partitions": self.partitions, "lease": "5s", "poll_ms": 100}
        if self.sms:
            data["sms"] = self.sms
        data.update(self.config)
        config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        # One key for all hubs, as deployed (signed links verify on any hub); `pingan serve`
        # does not start without one.
        env = {"PINGAN_HTTP__SECRET_KEY": SHARED_SECRET, **self.env}
        hub = HubProcess(config, port, self.tmp / f"{name}.log", env=env)
        self.hubs[name] = hub
        return hub

    def start(self, *names: str) -> None:
        for name in names:
            (self.hubs.get(name) or self.add(name)).start()
        for name in names:
            self.hubs[name].wait_ready(60)

    def stop_all(self) -> None:
        for hub in self.hubs.values():
            hub.cleanup()


def import_registry(db_url: str, registry: Path) -> None:
    engine = make_engine(db_url)
    with make_sessions(engine).begin() as session:
        import_document(session, load_registry_file(registry, known_ids(session)))
    engine.dispose()


def topic_lines(recording: Path) -> int:
    return sum(1 for line in recording.read_text().splitlines() if '"topic"' in line)


def replay_to_broker(recording: Path, broker: Broker, speed: float = 0) -> subprocess.Popen[bytes]:
    """`pingan replay` to the broker, payload ts moved onto the wall clock (the hubs' clock)."""
    return subprocess.Popen(
        [sys.executable, "-m", "pingan", "replay", str(recording), "--url", broker.url, "--speed", str(speed), "--retime"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def events(db_url: str) -> int:
    return int(scalar(db_url, "SELECT count(*) FROM events"))


def unruled(db_url: str) -> int:
    return int(scalar(db_url, "SELECT count(*) FROM events WHERE NOT ruled"))


def wait_stored_and_ruled(db_url: str, expected: int, timeout_s: float, what: str) -> float:
    """Wait until `expected` events are stored and every one ruled; returns the seconds waited."""
    started = time.monotonic()
    try:
        wait_until(lambda: events(db_url) >= expected and unruled(db_url) == 0, timeout_s, what, 0.25)
    except AssertionError:  # the counts at the timeout, not at the start of the wait
        raise AssertionError(f"{what}: {expected} events not all stored and ruled after {timeout_s}s"
                             f" (have {events(db_url)}, unruled {unruled(db_url)})") from None
    return time.monotonic() - started


def alert_set(db_url: str) -> set[tuple[Any, ...]]:
    return {tuple(r) for r in rows(db_url, "SELECT kind, resident_id, device_id, outcome FROM alerts")}


def doubled_alerts(db_url: str) -> list[Any]:
    """Two alerts of the same kind, resident and device open at the same time (the product
    allows one; a resolved alert followed by a new one is a new incident, not a double)."""
    return rows(db_url, "SELECT a.kind, a.resident_id, a.device_id, a.id, b.id FROM alerts a JOIN alerts b"
                        " ON a.kind = b.kind AND a.resident_id = b.resident_id"
                        " AND coalesce(a.device_id, '') = coalesce(b.device_id, '') AND a.id < b.id"
                        " WHERE a.opened_at < coalesce(b.resolved_at, 1e18) AND b.opened_at < coalesce(a.resolved_at, 1e18)")


def doubled_messages(db_url: str) -> list[Any]:
    """Outbox rows for the same alert, recipient, step and purpose more than once."""
    return rows(db_url, "SELECT alert_id, phone, step, purpose, count(*) FROM notifications"
                        " GROUP BY alert_id, phone, step, purpose HAVING count(*) > 1")


EVENT_DRIVEN = {  # alerts the recorded day raises from its messages alone, whatever the timing
    ("sos", "r-0003", "cat-0003"),
    ("sos", "r-0011", "tag-0011"),
    ("sos", "r-0006", "cat-0006"),
    ("low_battery", "r-0014", "tag-0014"),
    ("geofence_exit", "r-0009", "tag-0009"),
}


class Link:
    """A TCP forwarder on 127.0.0.1 in front of the broker that the test can cut: the network
    between some clients and a broker that keeps running (its sessions, subscriptions and queued
    messages intact). `cut()` closes every connection through it and refuses new ones, as a
    broker that went away does; `restore()` listens again on the same port."""

    def __init__(self, broker_port: int) -> None:
        self.broker_port = broker_port
        self.port = free_port()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self.restore()

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def restore(self) -> None:
        listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            closing, self._sockets = self._sockets, []
            listener, self._listener = self._listener, None
        for sock in [*closing, *([listener] if listener else [])]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                upstream = socket.create_connection(("127.0.0.1", self.broker_port), timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()  # the broker itself is down: refuse, as it would
                continue
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    for sock in (source, sink):  # one side closed: close both, as a dropped connection does
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


class SteadyDevices:
    """Devices of the recorded registry sending heartbeats at a steady rate, from a thread.

    One persistent MQTT session (paho, QoS 1, no queue limit) that keeps every message it could
    not send while the broker is away and sends it after reconnecting, as a device's buffer
    does; `acked()` lists what the broker acknowledged (PUBACK), by device and seq: what must be
    stored. `event()` slips a device event (an SOS) into the stream."""

    def __init__(self, port: int, devices: list[str], rate_per_s: float) -> None:
        self.publisher = Publisher(port, client_id=f"devices-{port}")
        self.devices = devices
        self.rate_per_s = rate_per_s
        self.sent: list[tuple[str, int, mqtt.MQTTMessageInfo]] = []
        self._next_seq: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> SteadyDevices:
        self._thread.start()
        return self

    def _publish(self, device: str, channel: str, body: dict[str, Any]) -> None:
        with self._lock:
            seq = self._next_seq[device] = self._next_seq.get(device, -1) + 1  # each device counts its own
            payload = json.dumps({"ts": time.time(), "seq": seq, **body}).encode()
            info = self.publisher.client.publish(f"pingan/v1/dev/{device}/{channel}", payload, qos=1)
            if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):  # NO_CONN: kept, sent on reconnect
                raise AssertionError(f"paho refused a message: {mqtt.error_string(info.rc)}")
            self.sent.append((device, seq, info))

    def event(self, device: str, kind: str) -> None:
        self._publish(device, "event", {"type": kind})

    def _run(self) -> None:
        k = 0
        next_at = time.monotonic()
        while not self._stop.is_set():
            self._publish(self.devices[k % len(self.devices)], "heartbeat", {"battery": 80, "rssi": -70})
            k += 1
            next_at += 1 / self.rate_per_s
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def stop(self, timeout_s: float = 60) -> int:
        """Stop sending and wait until the broker acknowledged everything sent; returns the count."""
        self._stop.set()
        self._thread.join(10)
        wait_until(lambda: len(self.acked()) == len(self.sent), timeout_s,
                   f"the broker acknowledging every device message (acked {len(self.acked())} of {len(self.sent)})")
        return len(self.sent)

    def acked(self) -> set[tuple[str, int]]:
        # paho's own PUBACK flag: is_published() raises for a message published while
        # disconnected (rc NO_CONN), although paho keeps it and sends it after reconnecting
        with self._lock:
            return {(device, seq) for device, seq, info in self.sent if info._published}

    def close(self) -> None:
        self.publisher.close()


def stored_once(db_url: str) -> tuple[set[tuple[str, int]], list[Any]]:
    """(device, seq) of the stored events, and those stored more than once."""
    stored = rows(db_url, "SELECT device_id, seq, count(*) FROM events GROUP BY device_id, seq")
    return {(d, int(s)) for d, s, _ in stored}, [r for r in stored if r[2] > 1]


def offline_alert_set(db_url: str, registry: Path, work: Path) -> set[tuple[Any, ...]]:
    """`replay --offline` of what was stored (in receive order): the single-hub decision."""
    lines = rows(db_url, "SELECT device_id, channel, payload, received_at FROM events ORDER BY received_at, id")
    recording = work / "stored.jsonl"
    recording.write_text("".join(json.dumps({"t": t, "topic": f"pingan/v1/dev/{d}/{c}", "payload": p}) + "\n"
                                 for d, c, p, t in lines), encoding="utf-8")
    config = load_config(REPO / "hub" / "default_config.yaml", environ={})
    result = run_offline(recording, to_snapshot(load_registry_file(registry)), config, responder_after_s=None)  # no responder live either
    return {(a.kind.value, a.resident, a.device, a.outcome.value if a.outcome else None) for a in result.alerts}


def timed(what: str, fn: Callable[[], object]) -> float:
    started = time.monotonic()
    fn()
    seconds = time.monotonic() - started
    print(f"  {what}: {seconds:.1f}s")
    return seconds


# --- a PostgreSQL server of the test's own, that the test may restart -----------------------------


def postgres_bin() -> Path | None:
    """The newest /usr/lib/postgresql/<ver>/bin with initdb and pg_ctl (Debian's layout)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    return found[-1].parent if found else None


class OwnPostgres:
    """initdb + pg_ctl on a free port in a directory of its own, trust auth on 127.0.0.1 only.

    initdb refuses to run as root: as root, the cluster belongs to the `postgres` user and every
    command runs through `runuser -u postgres`. `stop()` ends the server it started (pg_ctl stop,
    then the postmaster's PID from postmaster.pid if that did not work)."""

    def __init__(self, bin_dir: Path, port: int | None = None) -> None:
        self.bin = bin_dir
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="pingan-pg-"))
        self.data = self.dir / "data"
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as:
            shutil.chown(self.dir, "postgres")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, timeout_s: float = 60) -> None:
        subprocess.run([*self._as, *args], check=True, capture_output=True, timeout=timeout_s, cwd=self.dir)

    def init(self) -> OwnPostgres:
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                  "--no-sync")
        return self

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c fsync=off"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.dir / "log"),
                  "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (fast: roll back open transactions, close connections); idempotent."""
        with contextlib.suppress(subprocess.SubprocessError):
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")
        pid = self.pid()
        if pid is not None:  # pg_ctl failed: end the postmaster we started, by its PID
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGQUIT)

    def restart(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c fsync=off"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.dir / "log"),
                  "-m", "fast", "-w", "-t", "60", "restart")

    def pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def create_database(self, name: str) -> str:
        import sqlalchemy as sa

        admin = sa.create_engine(self.url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return self.url(name)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


# --- escalation: the SLA timers -------------------------------------------------------------------


def short_escalation(wait_s: int) -> dict[str, Any]:
    """The default escalation with every wait `wait_s` seconds, for hubs whose timers a test watches."""
    steps = [{"notify": ["grid_worker", "family"], "wait": f"{wait_s}s"},
             {"notify": ["grid_leader", "volunteers"], "wait": f"{wait_s}s"}, {"notify": ["operator"]}]
    return {"critical": steps, "high": steps, "low": [{"notify": ["grid_worker"], "digest": "daily"}]}


def open_alert_id(db_url: str, kind: str, device: str) -> str | None:
    found = rows(db_url, "SELECT id FROM alerts WHERE kind = :k AND device_id = :d ORDER BY opened_at DESC LIMIT 1",
                 k=kind, d=device)
    return found[0][0] if found else None


def steps_taken(db_url: str, alert_id: str) -> list[tuple[int, str, float]]:
    """(step, reason, at) of every escalation step of an alert, from the `dispatch_step` audit."""
    out = []
    for at, detail in rows(db_url, "SELECT at, detail FROM audit WHERE action = 'dispatch_step' AND alert_id = :a"
                                   " ORDER BY at", a=alert_id):
        data = json.loads(detail) if isinstance(detail, str) else detail
        out.append((int(data["step"]), str(data["reason"]), float(at)))
    return out


def wait_escalated(db_url: str, kind: str, device: str, wait_s: float, timeout_s: float) -> tuple[str, float]:
    """Wait until the open alert of `device` went to its next step because its wait elapsed (no
    one acknowledged): the SLA timer fired. Returns (alert id, seconds late against its due time)."""
    found: dict[str, Any] = {}

    def escalated() -> bool:
        alert_id = open_alert_id(db_url, kind, device)
        steps = steps_taken(db_url, alert_id) if alert_id else []
        elapsed = [s for s in steps if s[1] == "wait_elapsed"]
        if alert_id and elapsed:
            found.update(id=alert_id, late=elapsed[0][2] - (steps[0][2] + wait_s))
        return bool(found)

    wait_until(escalated, timeout_s, f"the {kind} alert of {device} escalating after its {wait_s:.0f}s wait", 0.25)
    return found["id"], found["late"]
