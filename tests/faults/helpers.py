"""Helpers of the fault suite: hubs as `pingan serve` processes on one shared subscription,
the registry of the recorded day, device traffic, and what the database says afterwards."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from conftest import Broker, free_port
from ingest.helpers import HubProcess, Publisher, rows, scalar, wait_until, write_config

from hub.registry_file import load_registry_file
from hub.registry_import import import_document, known_ids
from hub.storage.db import make_engine, make_sessions

REPO = Path(__file__).resolve().parents[2]
GROUP = "hubs"
PARTITIONS = 16


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

    def add(self, name: str) -> HubProcess:
        port = free_port()
        extra: dict[str, Any] = {"client_id": name}
        if self.partitions is not None:
            extra["shared_group"] = GROUP
        config = write_config(self.tmp / f"{name}.yaml", self.broker.url, self.db_url, port, **extra)
        data = yaml.safe_load(config.read_text(encoding="utf-8"))
        if self.partitions is not None:
            data["scale"] = {"partitions": self.partitions, "lease": "5s", "poll_ms": 100}
        if self.sms:
            data["sms"] = self.sms
        config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        hub = HubProcess(config, port, self.tmp / f"{name}.log", env=self.env)
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
        [sys.executable, "-m", "hub.cli", "replay", str(recording), "--url", broker.url, "--speed", str(speed), "--retime"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def events(db_url: str) -> int:
    return int(scalar(db_url, "SELECT count(*) FROM events"))


def unruled(db_url: str) -> int:
    return int(scalar(db_url, "SELECT count(*) FROM events WHERE NOT ruled"))


def wait_stored_and_ruled(db_url: str, expected: int, timeout_s: float, what: str) -> float:
    """Wait until `expected` events are stored and every one ruled; returns the seconds waited."""
    started = time.monotonic()
    wait_until(lambda: events(db_url) >= expected and unruled(db_url) == 0, timeout_s,
               f"{what}: {expected} events stored and ruled (have {events(db_url)}, unruled {unruled(db_url)})", 0.25)
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


class SteadyDevices:
    """Devices of the recorded registry sending heartbeats at a steady rate, from a thread;
    counts what the broker acknowledged. The device connection is a persistent session that
    queues while the broker is away (paho's own queue), as a real device buffers."""

    def __init__(self, port: int, devices: list[str], rate_per_s: float) -> None:
        self.publisher = Publisher(port, client_id=f"devices-{port}")
        self.devices = devices
        self.rate_per_s = rate_per_s
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> SteadyDevices:
        self._thread.start()
        return self

    def _run(self) -> None:
        seq = 0
        next_at = time.monotonic()
        while not self._stop.is_set():
            device = self.devices[seq % len(self.devices)]
            payload = json.dumps({"ts": time.time(), "seq": seq, "battery": 80, "rssi": -70}).encode()
            self.publisher.publish(f"pingan/v1/dev/{device}/heartbeat", payload)
            seq += 1
            self.sent = seq
            next_at += 1 / self.rate_per_s
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def stop(self) -> int:
        """Stop sending; returns how many were sent. The connection stays open so paho can
        still deliver what it queued while the broker was away: check the database, then close()."""
        self._stop.set()
        self._thread.join(10)
        return self.sent

    def close(self) -> None:
        self.publisher.close()


def timed(what: str, fn: Callable[[], object]) -> float:
    started = time.monotonic()
    fn()
    seconds = time.monotonic() - started
    print(f"  {what}: {seconds:.1f}s")
    return seconds
