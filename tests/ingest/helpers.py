"""Helpers for the ingestion tests: a `pingan serve` subprocess, a QoS 1 publisher, DB polling."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import sqlalchemy as sa
import yaml

from hub.storage.db import make_engine
from hub.storage.models import Device

REPO = Path(__file__).resolve().parents[2]
ROOT = "pingan/v1"


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str, every_s: float = 0.1) -> None:
    """Poll `condition` until it holds; fail with `what` after the deadline."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def seed_devices(db_url: str, ids: Iterable[str], kind: str = "pingan_cat") -> None:
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.insert(Device), [{"id": i, "kind": kind, "resident_id": None, "heartbeat_s": 300} for i in ids])
    engine.dispose()


def scalar(db_url: str, sql: str, **params: Any) -> Any:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar()
    finally:
        engine.dispose()


def rows(db_url: str, sql: str, **params: Any) -> list[Any]:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params))
    finally:
        engine.dispose()


def write_config(path: Path, broker_url: str, db_url: str, http_port: int, **mqtt_extra: Any) -> Path:
    data = yaml.safe_load((REPO / "hub" / "default_config.yaml").read_text(encoding="utf-8"))
    data["mqtt"].update({"url": broker_url, "client_id": f"hub-{uuid.uuid4().hex[:8]}", "session_expiry": "1h",
                         "max_payload_bytes": 4096, **mqtt_extra})
    data["database"] = {"url": db_url}
    data["http"].update({"host": "127.0.0.1", "port": http_port, "public_url": f"http://127.0.0.1:{http_port}"})
    data["ingest"] = {"batch_size": 500, "queue_size": 2000, "batch_wait_ms": 20}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


#: `pingan serve` needs a session key from the environment, and /metrics a token (docs/SECURITY.md).
SECRET_ENV = {"PINGAN_HTTP__SECRET_KEY": "ingest-tests-secret-key", "PINGAN_HTTP__METRICS_TOKEN": "ingest-tests-metrics"}
METRICS_AUTH = {"Authorization": "Bearer ingest-tests-metrics"}


@dataclass
class HubProcess:
    """`pingan serve` as a subprocess with a config file written by the test."""

    config: Path
    http_port: int
    log: Path
    upgrade: bool = False
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = [sys.executable, "-m", "pingan", "--config", str(self.config), "serve"]
        if not self.upgrade:
            args.append("--no-upgrade")
        out = self.log.open("ab")
        self.process = subprocess.Popen(args, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                        env={**os.environ, **SECRET_ENV, **self.env})
        out.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self, timeout_s: float = 30) -> None:
        wait_until(lambda: self._alive() and self.ready(), timeout_s, f"hub ready (log: {self.log})")

    def _alive(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"hub exited with {self.process.returncode}: {self.log.read_text()[-3000:]}")
        return True

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 30) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        code = self.process.wait(timeout_s)
        self.process = None
        return code

    def cleanup(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None


class Publisher:
    """A device-side QoS 1 publisher (one connection for many simulated devices)."""

    def __init__(self, port: int, client_id: str | None = None, username: str | None = None,
                 password: str | None = None) -> None:
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or f"pub-{uuid.uuid4().hex[:8]}",
                                  protocol=mqtt.MQTTv311, clean_session=client_id is None)
        if username:
            self.client.username_pw_set(username, password)
        self.client.max_inflight_messages_set(200)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(0.2, 2)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.pending: list[mqtt.MQTTMessageInfo] = []

    def publish(self, topic: str, payload: bytes | str, qos: int = 1) -> None:
        self.pending.append(self.client.publish(topic, payload, qos=qos))

    def flush(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        for info in self.pending:
            info.wait_for_publish(max(0.1, deadline - time.monotonic()))
            if not info.is_published():
                raise AssertionError("publish not acknowledged by the broker in time")
        self.pending = []

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def heartbeat(device_id: str, seq: int, ts: float) -> tuple[str, bytes]:
    return f"{ROOT}/dev/{device_id}/heartbeat", json.dumps({"ts": ts, "seq": seq, "battery": 80, "rssi": -70}).encode()


def motion(device_id: str, seq: int, ts: float) -> tuple[str, bytes]:
    return f"{ROOT}/dev/{device_id}/event", json.dumps({"ts": ts, "seq": seq, "type": "motion"}).encode()
