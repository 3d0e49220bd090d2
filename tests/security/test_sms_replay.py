"""Finding 1 (high): replayed SMS replies. Twilio's signature has no timestamp and replies were
not de-duplicated: a recorded, validly signed "9" posted again an hour later resolved a new SOS
as `ok` with nobody going. Now (real Twilio SDK against the local Twilio-compatible server, on
SQLite and PostgreSQL):
- one inbound message (MessageSid) acts at most once, also after a restart of the web app;
- a reply acts only on alerts texted to that number before it arrived (sent, not just queued);
  a code alone no longer reaches alerts never texted to that number;
- "9" without a code closes only an alert the replier took on (acknowledged or on site);
  otherwise the answer asks for the code."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from xml.etree import ElementTree

import pytest
from dispatch.conftest import PHONES, T0, Db, TableAlertCommands, make_alert, policy, store_and_dispatch
from dispatch.conftest import db as db
from dispatch.conftest import twilio_server as twilio_server
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from support.twilio_server import TwilioTestServer, sign

from alerts.actions import AlertKind, AlertOpened, Reason
from dashboards.routers.webhooks import webhooks_router
from hub.clock import VirtualClock
from hub.dispatch.dispatcher import Dispatcher
from hub.dispatch.feedback import OutboxOnly
from hub.dispatch.providers.twilio import TwilioProvider
from hub.dispatch.replies import SmsReplies
from hub.dispatch.sender import OutboxSender, SenderSettings
from hub.metrics import WebhookMetrics

PUBLIC_URL = "https://hub.example.org"
SMS_URL = f"{PUBLIC_URL}/webhooks/twilio/sms"
HUB_NUMBER = "+15005550006"
_sids = itertools.count(1)


@dataclass
class Reply:
    params: dict[str, str]
    signature: str


@dataclass
class Hub:
    db: Db
    server: TwilioTestServer
    clock: VirtualClock
    dispatcher: Dispatcher
    sender: OutboxSender
    commands: TableAlertCommands
    registry: CollectorRegistry
    client: TestClient

    def record(self, from_number: str, body: str) -> Reply:
        """A reply as Twilio posts it: a fresh MessageSid, signed for the public URL."""
        params = {"MessageSid": f"SM{next(_sids):032x}", "AccountSid": self.server.account_sid, "From": from_number,
                  "To": HUB_NUMBER, "Body": body, "NumMedia": "0"}
        return Reply(params, sign(self.server.auth_token, SMS_URL, params))

    def post(self, reply: Reply, client: TestClient | None = None) -> str:
        response = (client or self.client).post(
            "/webhooks/twilio/sms", data=reply.params, headers={"X-Twilio-Signature": reply.signature})
        assert response.status_code == 200, response.text
        return ElementTree.fromstring(response.text).findtext("Message") or ""

    def open(self, code: str, suffix: str, send: bool = True) -> str:
        alert = make_alert(AlertKind.SOS, at=self.clock.now(), code=code, suffix=suffix)
        store_and_dispatch(self.db, self.dispatcher, [AlertOpened(alert, Reason.SOS_PRESSED)], self.clock.now())
        while send and self.sender.run_once():
            pass
        return alert.id

    def refused(self, reason: str) -> float:
        value = self.registry.get_sample_value(
            "pingan_webhook_refused_total", {"path": "/webhooks/twilio/sms", "reason": reason})
        return value or 0.0


def _app(hub_db: Db, server: TwilioTestServer, commands: TableAlertCommands, dispatcher: Dispatcher,
         clock: VirtualClock, registry: CollectorRegistry) -> FastAPI:
    provider = TwilioProvider(server.account_sid, server.auth_token, HUB_NUMBER, server.base_url)
    replies = SmsReplies(hub_db.sessions, commands, OutboxOnly(hub_db.sessions, dispatcher, clock), clock.now)
    app = FastAPI()
    app.include_router(webhooks_router(provider, replies, PUBLIC_URL, clock.now, metrics=WebhookMetrics(registry)))
    return app


@pytest.fixture
def hub(db: Db, twilio_server: TwilioTestServer) -> Iterator[Hub]:
    clock = VirtualClock(T0)
    dispatcher = Dispatcher(policy())
    provider = TwilioProvider(twilio_server.account_sid, twilio_server.auth_token, HUB_NUMBER, twilio_server.base_url)
    commands = TableAlertCommands(db.sessions, dispatcher, clock)
    sender = OutboxSender(db.sessions, provider, OutboxOnly(db.sessions, dispatcher, clock), clock,
                          SenderSettings(owner="s", status_callback=f"{PUBLIC_URL}/webhooks/twilio/status"))
    registry = CollectorRegistry()
    with TestClient(_app(db, twilio_server, commands, dispatcher, clock, registry)) as client:
        yield Hub(db, twilio_server, clock, dispatcher, sender, commands, registry, client)


def test_a_replayed_reply_acts_once_even_after_a_restart(hub: Hub) -> None:
    first = hub.open("A7K2", "1")
    going, done = hub.record(PHONES["wang"], "1"), hub.record(PHONES["wang"], "9")
    assert "A7K2" in hub.post(going)
    assert "A7K2" in hub.post(done)
    assert hub.db.alert(first).state == "resolved"

    hub.clock.advance(3600)  # an hour later a new SOS is texted to the same grid worker
    second = hub.open("B3C4", "2")
    assert hub.post(going) == "" and hub.post(done) == ""  # the recorded, validly signed replies again
    assert hub.db.alert(second).state == "open"
    assert hub.db.alert(second).acknowledged_by is None
    assert hub.refused("duplicate") == 2

    # The web app restarts (a new process): the ids are kept in the database, not in memory.
    registry = CollectorRegistry()
    with TestClient(_app(hub.db, hub.server, hub.commands, hub.dispatcher, hub.clock, registry)) as fresh:
        assert hub.post(going, fresh) == ""
    assert hub.db.alert(second).state == "open"
    assert [c[0] for c in hub.commands.calls] == ["acknowledge", "resolve"]


def test_nine_without_a_code_closes_only_an_alert_the_replier_took_on(hub: Hub) -> None:
    alert = hub.open("A7K2", "1")
    answer = hub.post(hub.record(PHONES["wang"], "9"))  # texted, but never said they were going
    assert "9 A7K2" in answer
    assert hub.db.alert(alert).state == "open" and hub.commands.calls == []
    hub.post(hub.record(PHONES["son"], "1"))  # the son goes
    hub.post(hub.record(PHONES["wang"], "9"))  # still not wang's to close without the code
    assert hub.db.alert(alert).state == "acknowledged"
    hub.post(hub.record(PHONES["son"], "9"))
    assert hub.db.alert(alert).state == "resolved"


def test_nine_with_the_code_still_closes(hub: Hub) -> None:
    alert = hub.open("A7K2", "1")
    assert "A7K2" in hub.post(hub.record(PHONES["wang"], "9 A7K2"))
    assert hub.db.alert(alert).state == "resolved"


def test_a_reply_acts_only_on_alerts_texted_to_that_number_before_it_arrived(hub: Hub) -> None:
    older = hub.open("A7K2", "1")
    hub.clock.advance(60)
    newer = hub.open("B3C4", "2", send=False)  # queued for wang, not sent yet: wang cannot know it
    hub.post(hub.record(PHONES["wang"], "1"))
    assert hub.db.alert(older).state == "acknowledged"
    assert hub.db.alert(newer).state == "open"
    assert "B3C4" in hub.post(hub.record(PHONES["wang"], "3 B3C4"))  # "no open alert B3C4 for you"
    assert hub.db.alert(newer).state == "open"


def test_a_code_alone_does_not_reach_an_alert_never_texted_to_that_number(hub: Hub) -> None:
    alert = hub.open("A7K2", "1")
    answer = hub.post(hub.record(PHONES["other-worker"], "1 A7K2"))  # staff of another grid, never texted
    assert "A7K2" in answer
    assert hub.db.alert(alert).state == "open" and hub.commands.calls == []
