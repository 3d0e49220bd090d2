"""Critical first (docs/INGESTION.md): an SOS published behind a backlog is decided, and its SMS
queued, before the backlog drains; each device's other messages keep their device-time order.

Real Mosquitto with persistence, the hub's two persistent sessions (main and `-critical`)
registered by a first start, a backlog published while the hub is down, then the hub started.
Waits are bounded polls on the database (no sleeps that assert timing)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from hub.clock import SystemClock
from hub.config import Config
from hub.dispatch.dispatcher import Dispatcher
from hub.dispatch.providers.console import ConsoleProvider
from hub.ingest import IngestService, hub_connection
from hub.metrics import IngestMetrics
from hub.rules.runtime import HubCore, Outputs
from hub.storage import models as m
from hub.storage.db import make_engine, make_sessions
from pingan.wiring import build_hub

from .conftest import DEFAULT_ESCALATION, PHONES, Db, policy

BACKGROUND_DEVICES = 100
PER_DEVICE = 200  # 20,000 ordinary messages ahead of the SOS (within each device's budget)
EARLIER, LATER = 50, 8  # cat-0001's own heartbeats before the SOS and after its cancel


def wait_for(what: str, check: Callable[[], object], timeout_s: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def start_hub(config: Config, db: Db) -> IngestService:
    clock = SystemClock()
    connection = hub_connection(config, IngestMetrics(CollectorRegistry()), clock)
    writer = make_sessions(make_engine(db.url, writer=True))  # as pingan.wiring: BEGIN IMMEDIATE on SQLite
    core = HubCore(config, writer, clock, Outputs(dispatcher=Dispatcher(policy()), publisher=connection))
    core.load()
    ingest = IngestService(config, writer, connection, clock, on_batch=core.on_batch)
    ingest.start()
    return ingest


def publish_backlog(port: int) -> int:
    """20,000 background heartbeats, then cat-0001: heartbeats, SOS, cancel 1 s later, heartbeats."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="backlog-publisher")
    client.max_inflight_messages_set(1000)
    client.connect("127.0.0.1", port)
    client.loop_start()
    now = time.time()
    sent = 0
    last = None
    for i in range(PER_DEVICE):
        for d in range(BACKGROUND_DEVICES):
            body = {"ts": now - 600 + i, "seq": i + 1, "battery": 80}
            last = client.publish(f"pingan/v1/dev/bg-{d:03d}/heartbeat", json.dumps(body), qos=1)
            sent += 1
    for seq in range(1, EARLIER + 1):
        client.publish("pingan/v1/dev/cat-0001/heartbeat", json.dumps({"ts": now + seq * 0.01, "seq": seq}), qos=1)
    sos_at = now + 1
    client.publish("pingan/v1/dev/cat-0001/event", json.dumps({"ts": sos_at, "seq": EARLIER + 1, "type": "sos"}), qos=1)
    client.publish("pingan/v1/dev/cat-0001/event",
                   json.dumps({"ts": sos_at + 1, "seq": EARLIER + 2, "type": "sos_cancel"}), qos=1)
    for k in range(LATER):
        body = {"ts": sos_at + 2 + k, "seq": EARLIER + 3 + k}
        last = client.publish("pingan/v1/dev/cat-0001/heartbeat", json.dumps(body), qos=1)
    assert last is not None
    last.wait_for_publish(120)
    client.loop_stop()
    client.disconnect()
    return sent + EARLIER + 2 + LATER


def backlog_while_down(db: Db, broker: Any, **settings: object) -> tuple[Config, int]:
    """The hub's configuration; its two sessions registered by a first start, then the backlog
    published while it is down. Returns the configuration and the messages published."""
    config = Config.model_validate({
        "mqtt": {"url": broker.url, "client_id": "pingan-hub-critical-first"},
        "database": {"url": db.url},
        "escalation": DEFAULT_ESCALATION,
        **settings,
    })
    with db.sessions.begin() as s:
        s.add_all([m.Device(id=f"bg-{d:03d}", kind="pingan_cat", resident_id=None, heartbeat_s=300)
                   for d in range(BACKGROUND_DEVICES)])
    first = start_hub(config, db)  # registers both persistent sessions with the broker
    wait_for("both sessions connected", lambda: first.connected and first.critical is not None and first.critical.connected)
    first.stop()
    return config, publish_backlog(broker.port)


def test_sos_behind_a_backlog_is_decided_first_and_the_device_order_is_kept(db: Db, broker: Any) -> None:
    config, total = backlog_while_down(db, broker)

    def stored() -> int:
        with db.sessions() as s:
            return int(s.scalar(sa.select(sa.func.count()).select_from(m.Event)) or 0)

    hub = start_hub(config, db)
    try:
        wait_for("the SOS texts queued", lambda: db.notifications())
        stored_then = stored()  # read after the texts were seen: at most what was stored when they were queued
        assert stored_then < total / 2, f"the SOS waited for the backlog: {stored_then} of {total} stored first"
        with db.sessions() as s:
            alert = s.scalars(sa.select(m.Alert).where(m.Alert.kind == "sos")).one()
        assert alert.state == "open"  # its cancel comes after it, in device order: not ruled yet

        wait_for("the backlog drained", lambda: stored() == total)
        with db.sessions() as s:
            wait_for("the cancel ruled", lambda: s.get(m.Alert, alert.id, populate_existing=True).outcome)
            assert s.get(m.Alert, alert.id).outcome == "cancelled"  # ruled after its SOS, never before
            seqs = list(s.scalars(sa.select(m.Event.seq).where(m.Event.device_id == "cat-0001").order_by(m.Event.id)))
            sos_rows = s.scalar(sa.select(sa.func.count()).select_from(m.Event).where(m.Event.type == "sos"))
        # The SOS was stored (and ruled) before the heartbeats the device sent earlier; every other
        # message of the device in the order it sent them.
        assert seqs == [EARLIER + 1, *range(1, EARLIER + 1), *range(EARLIER + 2, EARLIER + 3 + LATER)]
        assert sos_rows == 1  # the main session's copy was a duplicate
        texts = sorted(n.phone for n in db.notifications(alert_id=alert.id, purpose="alert"))
        assert texts == sorted([PHONES["wang"], PHONES["son"]])  # one text each: the alarm was ruled once
    finally:
        hub.stop()


def test_the_whole_hub_texts_an_sos_behind_a_backlog_before_its_web_app_is_built(db: Db, broker: Any) -> None:
    """`pingan serve` starts the hub (engine, outbox, critical lane, ingestion) first and builds the
    board's web app after it: the SOS's texts reach the provider from a hub whose web app does not
    exist yet, ahead of the backlog; the app is built on first use and answers then."""
    from fastapi.testclient import TestClient

    config, total = backlog_while_down(db, broker, http={"secret_key": "start-order-test-secret"})

    provider = ConsoleProvider(echo=False)
    hub = build_hub(config, provider=provider)
    hub.start()
    try:
        wait_for("the SOS texts at the provider", lambda: len(provider.messages) >= 2)
        assert "app" not in vars(hub), "the web app was built before the hub took its SOS"
        with db.sessions() as s:
            stored_then = s.scalar(sa.select(sa.func.count()).select_from(m.Event)) or 0
        assert stored_then < total / 2, f"the SOS waited for the backlog: {stored_then} of {total} stored first"
        assert sorted(msg.to for msg in list(provider.messages)[:2]) == sorted([PHONES["wang"], PHONES["son"]])
        assert TestClient(hub.app).get("/healthz").status_code == 200  # built now, on first use
    finally:
        hub.stop()
