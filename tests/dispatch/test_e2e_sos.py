"""End to end through real parts: an SOS published to Mosquitto → ingestion → hub core →
dispatcher → outbox sender → twilio SDK → the local Twilio-compatible server (one Chinese segment
with the short responder link, which leads to the signed link); the grid worker's
signed SMS reply → webhook → AlertCommands (the hub core) → alert acknowledged, escalation
stopped, and `alert_ack` on the home unit's command topic.

Waits are bounded polls on observable results (no sleeps that assert timing)."""

from __future__ import annotations

import json
import queue
import re
import time
from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree

import paho.mqtt.client as mqtt
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from support.twilio_server import TwilioTestServer, sign

from alerts.texts import segments
from dashboards.routers.webhooks import webhooks_router
from hub.clock import SystemClock
from hub.config import Config
from hub.dispatch.dispatcher import Dispatcher
from hub.dispatch.links import responder_url, sign_responder_link, verify_responder_link
from hub.dispatch.providers.twilio import TwilioProvider
from hub.dispatch.replies import SmsReplies
from hub.dispatch.sender import OutboxSender, SenderSettings
from hub.ingest import IngestService, hub_connection
from hub.metrics import IngestMetrics, OperationsMetrics
from hub.rules.runtime import HubCore, Outputs
from hub.storage.db import make_engine, make_sessions
from hub.storage.models import ShortLink

from .conftest import DEFAULT_ESCALATION, PHONES, Db, policy

PUBLIC_URL = "https://hub.example.org"
HUB_NUMBER = "+15005550006"
SECRET = "e2e-secret"


def wait_for(what: str, check: Callable[[], object], timeout_s: float = 30.0) -> object:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def test_sos_to_sms_to_reply_to_alert_ack(
    db: Db, broker: Any, twilio_server: TwilioTestServer, home_unit: tuple[mqtt.Client, queue.Queue[bytes]]
) -> None:
    config = Config.model_validate(
        {
            "mqtt": {"url": broker.url, "client_id": "pingan-hub-e2e"},
            "database": {"url": db.url},
            "escalation": DEFAULT_ESCALATION,
            "http": {"public_url": PUBLIC_URL},
        }
    )
    clock = SystemClock()

    def links(alert_id: str, phone: str, expires: float) -> str:
        return responder_url(PUBLIC_URL, sign_responder_link(SECRET, alert_id, phone, expires))

    registry = CollectorRegistry()
    operations = OperationsMetrics(registry, "twilio")
    dispatcher = Dispatcher(policy(), link_builder=links, short_links=PUBLIC_URL, on_step=operations.on_step)
    connection = hub_connection(config, IngestMetrics(registry), clock)
    writer = make_sessions(make_engine(db.url, writer=True))  # as pingan.wiring: BEGIN IMMEDIATE on SQLite
    core = HubCore(config, writer, clock, Outputs(dispatcher=dispatcher, publisher=connection, metrics=operations))
    core.load()
    ingest = IngestService(config, writer, connection, clock, on_batch=core.on_batch)
    provider = TwilioProvider(twilio_server.account_sid, twilio_server.auth_token, HUB_NUMBER, twilio_server.base_url)
    sender = OutboxSender(
        writer,
        provider,
        core,
        clock,
        SenderSettings(owner="e2e", idle_wait_s=0.05, status_callback=f"{PUBLIC_URL}/webhooks/twilio/status"),
    )
    app = FastAPI()
    app.include_router(
        webhooks_router(provider, SmsReplies(writer, core, core, clock.now), PUBLIC_URL, clock.now)
    )

    device, commands = home_unit
    ingest.start()
    sender.start()
    try:
        wait_for("the hub's MQTT connection", lambda: ingest.connected)
        sos = json.dumps({"ts": time.time(), "seq": 1, "type": "sos"})
        device.publish("pingan/v1/dev/cat-0001/event", sos, qos=1).wait_for_publish(10)

        def sms_to_worker() -> str | None:
            return next((m.body for m in twilio_server.accepted() if m.to == PHONES["wang"]), None)

        body = str(wait_for("the SOS text to the grid worker", sms_to_worker))
        code_match = re.search(r"码([2-9A-Z]{4})", body)
        assert code_match, body
        code = code_match.group(1)
        assert "李奶奶" in body and "SOS" in body
        short = re.search(r" hub\.example\.org/s/(\w{6})$", body)  # the short link: one segment in Chinese
        assert short is not None and segments(body).single, body
        with db.sessions() as session:
            link = session.get(ShortLink, short.group(1))
        assert link is not None and link.url.startswith(f"{PUBLIC_URL}/r/")
        claim = verify_responder_link(SECRET, link.url.rsplit("/r/", 1)[1], clock.now())
        assert claim is not None and claim.responder_phone == PHONES["wang"]
        wait_for("the text to the family", lambda: len(twilio_server.accepted()) >= 2)
        assert sorted(m.to for m in twilio_server.accepted()) == sorted([PHONES["wang"], PHONES["son"]])

        params = {
            "MessageSid": "SM" + "e" * 32,
            "AccountSid": twilio_server.account_sid,
            "From": PHONES["wang"],
            "To": HUB_NUMBER,
            "Body": f"1 {code}",
        }
        signature = sign(twilio_server.auth_token, f"{PUBLIC_URL}/webhooks/twilio/sms", params)
        with TestClient(app) as client:
            response = client.post("/webhooks/twilio/sms", data=params, headers={"X-Twilio-Signature": signature})
        assert response.status_code == 200
        answer = ElementTree.fromstring(response.text).findtext("Message") or ""
        assert code in answer

        row = db.alert(claim.alert_id)
        assert (row.state, row.next_escalation_at) == ("acknowledged", None)
        assert ("acknowledged", "wang", "sms") in {(t.state, t.by, t.channel) for t in row.transitions}
        assert row.first_notified_at is not None and row.first_notified_at >= row.opened_at
        ack = json.loads(commands.get(timeout=30))
        assert ack == {"cmd": "alert_ack", "alert": code}
        _assert_operations_metrics(registry)
    finally:
        sender.stop()
        ingest.stop()


def _assert_operations_metrics(registry: CollectorRegistry) -> None:
    """/metrics tells the story: one SOS opened, its first step, two texts sent, acknowledged by SMS."""

    def value(name: str, **labels: str) -> float:
        return registry.get_sample_value(name, labels) or 0.0

    assert value("pingan_alerts_opened_total", kind="sos", severity="critical") == 1
    assert value("pingan_escalation_steps_total", reason="alert_opened") == 1
    wait_for("both texts counted", lambda: value("pingan_messages_total", provider="twilio", channel="sms", state="sent") == 2)
    assert value("pingan_alerts_acknowledged_total", kind="sos", channel="sms") == 1
    assert value("pingan_alert_time_to_ack_seconds_count", severity="critical") == 1
    assert value("pingan_alert_time_to_ack_seconds_bucket", severity="critical", le="120.0") == 1
