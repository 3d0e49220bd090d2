"""Issue 17's whole story with the domestic providers, through real parts and their official
SDKs (`sms.provider` and `voice.provider` aliyun, and again tencent), on a virtual clock: an SOS
published to Mosquitto texts the grid worker and the family (template code and parameters) and
posts the card to the grid's WeCom and DingTalk groups at once; nobody answers, so 3 minutes
later both are called (the TTS template through the voice SDK); the grid worker presses 1, the
provider pushes that to the voice webhook (twice: it retries) → acknowledged once through the
voice channel, `alert_ack` on the home unit, the "someone is going" card."""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from support.group_robots_server import GroupRobotsServer

from alerts.escalation import EscalationPolicy
from dashboards.routers.voice_webhooks import voice_webhooks_router
from hub.clock import VirtualClock
from hub.config import Config
from hub.dispatch.calls import CallResults
from hub.dispatch.dispatcher import Dispatcher
from hub.dispatch.providers.groups import GroupRobots, robots_from_config
from hub.dispatch.providers.voice import build_voice_provider
from hub.dispatch.replies import SmsReplies
from hub.dispatch.sender import OutboxSender, SenderSettings
from hub.ingest import IngestService, hub_connection
from hub.metrics import IngestMetrics
from hub.rules.runtime import HubCore, Outputs
from hub.storage.db import make_engine, make_sessions
from pingan.wiring import channel_settings, make_provider

from .conftest import DEFAULT_ESCALATION, PHONES, Db
from .domestic import domestic
from .test_e2e_channels import CRITICAL, SECRET, wait_for
from .voice import ALIYUN_CODES, TENCENT_CODES, TOKEN, voice


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(time.time())


@pytest.fixture
def robots_server(clock: VirtualClock) -> Iterator[GroupRobotsServer]:
    with GroupRobotsServer({"wkey"}, {"dtoken": SECRET}, now=clock.now) as server:
        yield server


def _voice_section(name: str, server: Any) -> dict[str, Any]:
    if name == "aliyun":
        return {"access_key_id": server.access_key_id, "access_key_secret": server.access_key_secret,
                "called_show_number": server.show_numbers[0], "endpoint": server.base_url, "templates": ALIYUN_CODES}
    return {"secret_id": server.secret_id, "secret_key": server.secret_key, "sdk_app_id": server.voice_sdk_app_id,
            "endpoint": server.base_url, "templates": TENCENT_CODES}


@pytest.mark.parametrize("name", ["aliyun", "tencent"])
def test_sos_texts_and_cards_then_the_unanswered_step_rings_and_key_1_acknowledges(
    db: Db, broker: Any, robots_server: GroupRobotsServer, clock: VirtualClock,
    home_unit: tuple[mqtt.Client, queue.Queue[bytes]], name: str,
) -> None:
    with domestic(name) as sms, voice(name) as calls_server:
        config = Config.model_validate({
            "mqtt": {"url": broker.url, "client_id": f"pingan-hub-story-{name}"},
            "database": {"url": db.url},
            "escalation": {**DEFAULT_ESCALATION, "critical": CRITICAL},
            "http": {"public_url": "https://hub.example.org"},
            "sms": sms.config(with_secret=True),
            "voice": {"provider": name, "after": "3m", name: _voice_section(name, calls_server.server)},
            "groups": {"g01": {"wecom": robots_server.wecom_url("wkey"),
                               "dingtalk": {"url": robots_server.dingtalk_url("dtoken"), "secret": SECRET}}},
        })
        dispatcher = Dispatcher(EscalationPolicy(config.escalation, config.volunteers), channels=channel_settings(config))
        connection = hub_connection(config, IngestMetrics(CollectorRegistry()), clock)
        writer = make_sessions(make_engine(db.url, writer=True))  # as pingan.wiring: BEGIN IMMEDIATE on SQLite
        core = HubCore(config, writer, clock, Outputs(dispatcher=dispatcher, publisher=connection))
        core.load()
        ingest = IngestService(config, writer, connection, clock, on_batch=core.on_batch)
        phone_voice = build_voice_provider(config)
        assert phone_voice is not None and phone_voice.name == name
        sender = OutboxSender(writer, make_provider(config), core, clock, SenderSettings(owner="story"),
                              voice=phone_voice, groups=GroupRobots(robots_from_config(config.groups), clock.now))
        app = FastAPI()
        results = CallResults(writer, core, core, clock.now)
        app.include_router(voice_webhooks_router(phone_voice, results.on_call_results, TOKEN,
                                                 SmsReplies(writer, core, core, clock.now)))
        device, commands = home_unit
        ingest.start()
        try:
            wait_for("the hub's MQTT connection", lambda: ingest.connected)
            sos = json.dumps({"ts": time.time(), "seq": 1, "type": "sos"})
            device.publish("pingan/v1/dev/cat-0001/event", sos, qos=1).wait_for_publish(10)
            wait_for("the SOS's outbox rows", lambda: db.notifications(channel="sms"))
            alert_id = db.notifications(channel="sms")[0].alert_id
            sender.run_once()

            texts = sms.accepted()  # through the SMS SDK: the approved template and its parameters
            assert len(texts) == 2 and {t.template_code for t in texts} == {sms.codes["sos"]}
            assert sorted(p.robot for p in robots_server.accepted()) == ["dingtalk", "wecom"]
            assert calls_server.server.calls == []

            clock.advance(180)  # nobody acknowledged the texts: the same two people are called
            sender.run_once()
            placed = calls_server.server.calls
            assert len(placed) == 2
            by_phone = {n.phone: n for n in db.notifications(channel="voice")}
            assert set(by_phone) == {PHONES["wang"], PHONES["son"]}
            call_id = by_phone[PHONES["wang"]].provider_sid or ""
            assert call_id in {p.call_id for p in placed}

            push = calls_server.push("key_1", call_id, PHONES["wang"])
            with TestClient(app) as client:
                for _ in range(2):  # the provider pushes the key press again: taken, acted on once
                    answer = client.post(calls_server.path, content=push)
                    assert (answer.status_code, answer.json()) == (200, calls_server.ok_answer())
            row = db.alert(alert_id)
            assert (row.state, row.next_escalation_at) == ("acknowledged", None)
            assert [(t.by, t.channel) for t in row.transitions if t.state == "acknowledged"] == [("wang", "voice")]
            assert json.loads(commands.get(timeout=30)) == {"cmd": "alert_ack", "alert": row.code}
            with pytest.raises(queue.Empty):
                commands.get(timeout=1)  # no second alert_ack
            sender.run_once()
            assert len([p for p in robots_server.accepted() if "已有人前往" in p.text]) == 2
        finally:
            ingest.stop()
