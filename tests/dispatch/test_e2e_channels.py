"""End to end through real parts, on a virtual clock for the policy's times: an SOS published to
Mosquitto → ingestion → hub core → dispatcher → outbox: console texts to the grid worker and the
family and the group card (WeCom and signed DingTalk, local robot server) at once; nobody answers,
so 3 minutes later (virtual) the same people are called (console voice); the grid worker presses 1:
`on_call_results` → acknowledged as the grid worker through the voice channel, the family's call
is moot, `alert_ack` on the home unit's command topic, the "someone is going" card; resolving posts
the "resolved" card. The sender runs pass by pass (`run_once`), so every step is observable."""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Callable, Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from prometheus_client import CollectorRegistry
from support.group_robots_server import GroupRobotsServer

from alerts.escalation import EscalationPolicy
from hub.clock import VirtualClock
from hub.config import Config
from hub.dispatch.calls import CallResults
from hub.dispatch.dispatcher import Dispatcher
from hub.dispatch.providers.console import ConsoleProvider
from hub.dispatch.providers.groups import GroupRobots, robots_from_config
from hub.dispatch.providers.voice import CallResult, CallState, build_voice_provider
from hub.dispatch.sender import OutboxSender, SenderSettings
from hub.ingest import IngestService, hub_connection
from hub.metrics import IngestMetrics
from hub.rules.runtime import HubCore, Outputs
from hub.storage.db import make_engine, make_sessions
from pingan.wiring import channel_settings

from .conftest import DEFAULT_ESCALATION, PHONES, Db

SECRET = "SECe2e0123456789"
CRITICAL = [
    {"notify": ["grid_worker", "family"], "wait": "5m", "channels": ["sms", "voice", "group"]},
    {"notify": ["grid_leader", "volunteers"], "wait": "5m"},
    {"notify": ["operator"]},
]


def wait_for(what: str, check: Callable[[], object], timeout_s: float = 30.0) -> object:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(time.time())  # the device's timestamps are real: start the virtual clock there


@pytest.fixture
def robots_server(clock: VirtualClock) -> Iterator[GroupRobotsServer]:
    with GroupRobotsServer({"wkey"}, {"dtoken": SECRET}, now=clock.now) as server:
        yield server


def test_sos_texts_card_then_call_then_key_1_acknowledges(
    db: Db, broker: Any, robots_server: GroupRobotsServer, clock: VirtualClock,
    home_unit: tuple[mqtt.Client, queue.Queue[bytes]],
) -> None:
    config = Config.model_validate({
        "mqtt": {"url": broker.url, "client_id": "pingan-hub-channels"},
        "database": {"url": db.url},
        "escalation": {**DEFAULT_ESCALATION, "critical": CRITICAL},
        "http": {"public_url": "https://hub.example.org"},
        "voice": {"provider": "console", "after": "3m"},
        "groups": {"g01": {"wecom": robots_server.wecom_url("wkey"),
                           "dingtalk": {"url": robots_server.dingtalk_url("dtoken"), "secret": SECRET}}},
    })
    dispatcher = Dispatcher(EscalationPolicy(config.escalation, config.volunteers), channels=channel_settings(config))
    connection = hub_connection(config, IngestMetrics(CollectorRegistry()), clock)
    writer = make_sessions(make_engine(db.url, writer=True))  # as pingan.wiring: BEGIN IMMEDIATE on SQLite
    core = HubCore(config, writer, clock, Outputs(dispatcher=dispatcher, publisher=connection))
    core.load()
    ingest = IngestService(config, writer, connection, clock, on_batch=core.on_batch)
    sms = ConsoleProvider(echo=False)
    sender = OutboxSender(writer, sms, core, clock, SenderSettings(owner="e2e"),
                          voice=build_voice_provider(config), groups=GroupRobots(robots_from_config(config.groups), clock.now))
    calls = CallResults(writer, core, core, clock.now)
    device, commands = home_unit
    ingest.start()
    try:
        wait_for("the hub's MQTT connection", lambda: ingest.connected)
        sos = json.dumps({"ts": time.time(), "seq": 1, "type": "sos"})
        device.publish("pingan/v1/dev/cat-0001/event", sos, qos=1).wait_for_publish(10)
        wait_for("the SOS's outbox rows", lambda: db.notifications(channel="sms"))
        alert_id = db.notifications(channel="sms")[0].alert_id
        sender.run_once()

        # at once: two texts and the card in both groups; the calls wait
        assert sorted(m.to for m in sms.messages) == sorted([PHONES["wang"], PHONES["son"]])
        assert sorted(p.robot for p in robots_server.accepted()) == ["dingtalk", "wecom"]
        assert "李奶奶" in robots_server.accepted()[0].text
        assert {n.state for n in db.notifications(channel="voice")} == {"queued"}

        # nobody acknowledges: 3 minutes later the same people are called, once
        clock.advance(179)
        sender.run_once()
        assert not [n for n in db.notifications(channel="voice") if n.provider_sid]
        clock.advance(1)
        sender.run_once()
        placed = {n.phone: n for n in db.notifications(channel="voice")}
        assert set(placed) == {PHONES["wang"], PHONES["son"]}
        assert {n.state for n in placed.values()} == {"sent"}
        assert db.alert(alert_id).escalation_step == 0  # still the first step (its wait is 5 min)

        # the grid worker answers and presses 1; the provider pushes the result twice
        pressed = CallResult(placed[PHONES["wang"]].provider_sid or "", CallState.ANSWERED, "answered",
                             key_pressed="1", push_id="push-1")
        assert calls.on_call_results([pressed])
        assert calls.on_call_results([pressed])
        row = db.alert(alert_id)
        assert (row.state, row.next_escalation_at) == ("acknowledged", None)
        assert [(t.state, t.by, t.channel) for t in row.transitions if t.state == "acknowledged"] == [
            ("acknowledged", "wang", "voice")
        ]
        assert [(a.actor, a.channel, a.detail["result"]) for a in db.audit("voice_ack")] == [("wang", "voice", "acknowledged")]
        assert json.loads(commands.get(timeout=30)) == {"cmd": "alert_ack", "alert": row.code}
        assert {n.phone: n.state for n in db.notifications(channel="voice")}[PHONES["wang"]] == "delivered"

        sender.run_once()
        acked = [p for p in robots_server.accepted() if "已有人前往" in p.text]
        assert len(acked) == 2 and all("王网格员" in p.text for p in acked)

        # resolving posts the update card, and texts "done" to those told
        clock.advance(600)
        core.resolve(alert_id, "ok", "wang", "board")
        sender.run_once()
        done = [p for p in robots_server.accepted() if "已解除" in p.text]
        assert len(done) == 2
        assert len(robots_server.accepted()) == 6  # no card twice
        assert sum(1 for m in sms.messages if "已解除" in m.body) == 2
        assert len(db.notifications(channel="voice")) == 2  # nobody was called twice
    finally:
        ingest.stop()
