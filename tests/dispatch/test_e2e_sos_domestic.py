"""End to end through real parts, with `sms.provider: aliyun` and again `tencent`: an SOS
published to Mosquitto → ingestion → hub core → dispatcher → outbox sender → the official SDK →
the local server speaking the provider's API (template code + parameters, short link); the grid
worker's reply "1 CODE" pushed to the reply webhook → AlertCommands (the hub core) → alert
acknowledged, escalation stopped, `alert_ack` on the home unit's command topic; the same push
again acts no more. The provider is built by `make_provider` from the configuration, and the
short link resolves through the web app to the signed responder link.

Waits are bounded polls on observable results (no sleeps that assert timing)."""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from dashboards.routers.push_webhooks import push_webhooks_router
from hub.clock import SystemClock
from hub.config import Config
from hub.dispatch.dispatcher import Dispatcher
from hub.dispatch.links import responder_url, sign_responder_link, verify_responder_link
from hub.dispatch.providers.base import PushProvider
from hub.dispatch.replies import SmsReplies
from hub.dispatch.sender import OutboxSender, SenderSettings
from hub.ingest import IngestService, hub_connection
from hub.metrics import IngestMetrics
from hub.rules.runtime import HubCore, Outputs
from hub.storage import models as m
from hub.storage.db import make_engine, make_sessions
from pingan.wiring import make_provider

from .conftest import DEFAULT_ESCALATION, PHONES, Db, policy
from .domestic import TOKEN, domestic

PUBLIC_URL = "https://hub.example.org"
SECRET = "e2e-secret"


def wait_for(what: str, check: Callable[[], object], timeout_s: float = 30.0) -> object:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("provider_name", ["aliyun", "tencent"])
def test_sos_to_template_sms_to_pushed_reply_to_alert_ack(
    db: Db, broker: Any, home_unit: tuple[mqtt.Client, queue.Queue[bytes]], provider_name: str
) -> None:
    with domestic(provider_name) as sms:
        sms_config = sms.config(with_secret=True)
        config = Config.model_validate(
            {
                "mqtt": {"url": broker.url, "client_id": f"pingan-hub-e2e-{provider_name}"},
                "database": {"url": db.url},
                "escalation": DEFAULT_ESCALATION,
                "http": {"public_url": PUBLIC_URL},
                "sms": sms_config,
            }
        )
        clock = SystemClock()

        def links(alert_id: str, phone: str, expires: float) -> str:
            return responder_url(PUBLIC_URL, sign_responder_link(SECRET, alert_id, phone, expires))

        dispatcher = Dispatcher(policy(), link_builder=links, short_links=PUBLIC_URL)
        connection = hub_connection(config, IngestMetrics(CollectorRegistry()), clock)
        writer = make_sessions(make_engine(db.url, writer=True))  # as pingan.wiring: BEGIN IMMEDIATE on SQLite
        core = HubCore(config, writer, clock, Outputs(dispatcher=dispatcher, publisher=connection))
        core.load()
        ingest = IngestService(config, writer, connection, clock, on_batch=core.on_batch)
        provider = make_provider(config)  # the configuration's provider, through its SDK
        assert provider.name == provider_name and isinstance(provider, PushProvider)
        sender = OutboxSender(writer, provider, core, clock, SenderSettings(owner="e2e", idle_wait_s=0.05))
        app = FastAPI()
        app.include_router(
            push_webhooks_router(provider, SmsReplies(writer, core, core, clock.now), TOKEN, clock.now)
        )

        device, commands = home_unit
        ingest.start()
        sender.start()
        try:
            wait_for("the hub's MQTT connection", lambda: ingest.connected)
            sos = json.dumps({"ts": time.time(), "seq": 1, "type": "sos"})
            device.publish("pingan/v1/dev/cat-0001/event", sos, qos=1).wait_for_publish(10)

            wait_for("the SOS texts to the grid worker and the family", lambda: len(sms.accepted()) >= 2)
            sent = sms.accepted()
            expected_to = [PHONES["wang"], PHONES["son"]]
            if provider_name == "aliyun":
                expected_to = [p.removeprefix("+86") for p in expected_to]
            assert sorted(s.to for s in sent) == sorted(expected_to)
            assert {s.template_code for s in sent} == {sms.codes["sos"]}
            to_worker = next(s for s in sent if s.to.endswith(PHONES["wang"][3:]))
            code = to_worker.params["code"]
            assert to_worker.params["name"] == "李奶奶" and len(code) == 4

            # The short link resolves to the worker's own signed responder link.
            short_code = to_worker.params["link"].removeprefix("hub.example.org/s/")
            with db.sessions() as session:
                link = session.get(m.ShortLink, short_code)
            assert link is not None
            claim = verify_responder_link(SECRET, link.url.rsplit("/r/", 1)[1], clock.now())
            assert claim is not None and claim.responder_phone == PHONES["wang"]

            body = sms.reply_push(PHONES["wang"], f"1 {code}", n=1)
            with TestClient(app) as client:
                response = client.post(sms.reply_path, content=body)
                assert response.status_code == 200 and sms.taken(response.json())
                row = db.alert(claim.alert_id)
                assert (row.state, row.next_escalation_at) == ("acknowledged", None)
                assert ("acknowledged", "wang", "sms") in {(t.state, t.by, t.channel) for t in row.transitions}
                ack = json.loads(commands.get(timeout=30))
                assert ack == {"cmd": "alert_ack", "alert": code}

                # The provider pushes it again: answered as taken, nothing acts twice.
                again = client.post(sms.reply_path, content=body)
                assert again.status_code == 200 and sms.taken(again.json())
            assert len(db.audit("sms_reply")) == 1
            assert len([t for t in db.alert(claim.alert_id).transitions if t.state == "acknowledged"]) == 1
            with pytest.raises(queue.Empty):
                commands.get(timeout=1)  # no second alert_ack
            wait_for("the confirmation text", lambda: any(s.template_code == sms.codes["reply"] for s in sms.accepted()))
            assert len([s for s in sms.accepted() if s.template_code == sms.codes["reply"]]) == 1
        finally:
            sender.stop()
            ingest.stop()
