"""Twilio webhooks through FastAPI: signatures (good, forged, wrong URL, missing), replies
applied through AlertCommands, the newest alert when no code is given, unknown numbers,
rate limiting, and delivery receipts."""

from __future__ import annotations

import itertools
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from xml.etree import ElementTree

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from support.twilio_server import TwilioTestServer, sign

from alerts.actions import AlertKind, AlertOpened, Reason, Severity
from dashboards.routers.webhooks import TokenBucket, webhooks_router
from hub.clock import VirtualClock
from hub.dispatch.dispatcher import Dispatcher
from hub.dispatch.feedback import OutboxOnly
from hub.dispatch.providers.twilio import TwilioProvider
from hub.dispatch.replies import SmsReplies
from hub.dispatch.sender import OutboxSender, SenderSettings

from .conftest import PHONES, T0, Db, TableAlertCommands, make_alert, policy, store_and_dispatch

PUBLIC_URL = "https://hub.example.org"
SMS_URL = f"{PUBLIC_URL}/webhooks/twilio/sms"
HUB_NUMBER = "+15005550006"
_sids = itertools.count(1)


@dataclass
class Hub:
    db: Db
    client: TestClient
    server: TwilioTestServer
    commands: TableAlertCommands
    dispatcher: Dispatcher
    sender: OutboxSender
    clock: VirtualClock

    def reply(self, from_number: str, body: str, signature: str | None = None, url: str = SMS_URL) -> tuple[int, str]:
        params = {
            "MessageSid": f"SM{next(_sids):032x}",  # each reply its own message (one acts once)
            "AccountSid": self.server.account_sid,
            "From": from_number,
            "To": HUB_NUMBER,
            "Body": body,
            "NumMedia": "0",
        }
        headers = (
            {} if signature == "" else {"X-Twilio-Signature": signature or sign(self.server.auth_token, url, params)}
        )
        response = self.client.post("/webhooks/twilio/sms", data=params, headers=headers)
        if response.status_code != 200:
            return response.status_code, response.text
        message = ElementTree.fromstring(response.text).find("Message")
        return 200, "" if message is None else (message.text or "")

    def open(self, code: str, suffix: str, kind: AlertKind = AlertKind.SOS) -> str:
        alert = make_alert(kind, Severity.CRITICAL, at=self.clock.now(), code=code, suffix=suffix)
        store_and_dispatch(self.db, self.dispatcher, [AlertOpened(alert, Reason.SOS_PRESSED)], self.clock.now())
        while self.sender.run_once():
            pass
        return alert.id


@pytest.fixture
def hub(db: Db, twilio_server: TwilioTestServer) -> Iterator[Hub]:
    clock = VirtualClock(T0)
    dispatcher = Dispatcher(policy())
    provider = TwilioProvider(twilio_server.account_sid, twilio_server.auth_token, HUB_NUMBER, twilio_server.base_url)
    commands = TableAlertCommands(db.sessions, dispatcher, clock)
    replies = SmsReplies(db.sessions, commands, OutboxOnly(db.sessions, dispatcher, clock), clock.now)
    app = FastAPI()
    app.include_router(
        webhooks_router(provider, replies, PUBLIC_URL, clock.now, TokenBucket(capacity=3, refill_per_s=1 / 60))
    )
    settings = SenderSettings(owner="s", status_callback=f"{PUBLIC_URL}/webhooks/twilio/status")
    sender = OutboxSender(db.sessions, provider, OutboxOnly(db.sessions, dispatcher, clock), clock, settings)
    with TestClient(app) as client:
        yield Hub(db, client, twilio_server, commands, dispatcher, sender, clock)


def test_a_signed_reply_acknowledges_and_answers_in_twiml(hub: Hub) -> None:
    alert_id = hub.open("A7K2", "1")
    status, text = hub.reply(PHONES["wang"], "1")
    assert status == 200
    assert "A7K2" in text and "李奶奶" in text
    assert hub.commands.calls == [("acknowledge", alert_id, "wang", "sms")]
    assert hub.db.alert(alert_id).state == "acknowledged"
    assert hub.db.alert(alert_id).next_escalation_at is None  # escalation stopped
    (audit,) = hub.db.audit("sms_reply")
    assert audit.actor == "wang" and audit.detail["command"] == "1" and audit.alert_id == alert_id


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param("forged", id="forged"),
        pytest.param("", id="missing"),
        pytest.param(None, id="wrong-url"),
        pytest.param("wrong-token", id="wrong-token"),
    ],
)
def test_unsigned_or_forged_requests_are_refused_and_not_stored(hub: Hub, signature: str | None) -> None:
    alert_id = hub.open("A7K2", "1")
    params = {
        "MessageSid": "SM" + "f" * 32,
        "AccountSid": hub.server.account_sid,
        "From": PHONES["wang"],
        "To": HUB_NUMBER,
        "Body": "1",
        "NumMedia": "0",
    }
    if signature is None:  # signed for another URL (the host header a proxy passes on, say)
        status, _ = hub.reply(PHONES["wang"], "1", url="http://testserver/webhooks/twilio/sms")
    elif signature == "wrong-token":
        status, _ = hub.reply(PHONES["wang"], "1", signature=sign("not-the-token", SMS_URL, params))
    elif signature == "forged":
        status, _ = hub.reply(PHONES["wang"], "1", signature="bm90IGEgc2lnbmF0dXJl")
    else:
        status, _ = hub.reply(PHONES["wang"], "1", signature="")
    assert status == 403
    assert hub.commands.calls == []
    assert hub.db.alert(alert_id).state == "open"
    assert hub.db.audit("webhook_signature_rejected") == []  # nothing written for a stranger (security finding 2)


def test_without_a_code_the_newest_alert_is_meant_and_the_reply_says_which(hub: Hub) -> None:
    older = hub.open("B3C4", "1", AlertKind.FALL)
    hub.clock.advance(60)
    newer = hub.open("D5E6", "2", AlertKind.SMOKE)
    status, text = hub.reply(PHONES["wang"], "3")
    assert status == 200 and "D5E6" in text and "2" in text  # "you have 2, this is the newest"
    assert hub.commands.calls == [("on_site", newer, "wang", "sms")]
    status, text = hub.reply(PHONES["wang"], "9 b3c4")  # not taken on by wang: needs its code
    assert "B3C4" in text
    assert hub.commands.calls[-1] == ("resolve", older, "wang", "sms")
    assert hub.db.alert(older).outcome == "ok"


def test_backup_reply_escalates_now(hub: Hub) -> None:
    alert_id = hub.open("A7K2", "1")
    hub.reply(PHONES["son"], "2")  # family may ask for help too
    assert hub.commands.calls == [("request_backup", alert_id, "family:r-0001:0", "sms")]
    assert [n.recipient_id for n in hub.db.notifications(step=1)] == ["zhao", "v1", "v2", "v3"]


def test_unknown_numbers_are_ignored_and_audited(hub: Hub) -> None:
    hub.open("A7K2", "1")
    status, text = hub.reply("+8618888888888", "1 A7K2")
    assert (status, text) == (200, "")
    assert hub.commands.calls == []
    (audit,) = hub.db.audit("sms_unknown_number")
    assert audit.detail["from"] == "+8618888888888"


def test_replies_that_name_no_open_alert_or_make_no_sense_are_answered(hub: Hub) -> None:
    hub.open("A7K2", "1")
    _, text = hub.reply(PHONES["son"], "1 ZZZZ")
    assert "ZZZZ" in text
    _, text = hub.reply(PHONES["son"], "hello?")
    assert "1" in text and "9" in text  # the help text
    hub.clock.advance(600)  # stay clear of the rate limit
    hub.reply(PHONES["son"], "9 A7K2")
    _, text = hub.reply(PHONES["son"], "9")
    assert text == "回复结果:您没有未结警报。"  # template `reply`
    assert len(hub.commands.calls) == 1


def test_a_reply_the_alert_can_no_longer_take_says_so(hub: Hub) -> None:
    hub.open("A7K2", "1")
    hub.reply(PHONES["wang"], "1")
    _, text = hub.reply(PHONES["son"], "1 A7K2")  # already acknowledged by someone else
    assert "A7K2" in text and "不能" in text


def test_replies_are_rate_limited_per_number(hub: Hub) -> None:
    hub.open("A7K2", "1")
    answers = [hub.reply(PHONES["wang"], "hello")[1] for _ in range(5)]
    assert [bool(a) for a in answers] == [True, True, True, False, False]  # capacity 3: the rest get no SMS
    assert len(hub.db.audit("sms_rate_limited")) == 2
    assert hub.reply(PHONES["son"], "hello")[1] != ""  # per number
    hub.clock.advance(60)
    assert hub.reply(PHONES["wang"], "hello")[1] != ""  # a token came back


def test_delivery_receipts_update_the_outbox(hub: Hub) -> None:
    hub.open("A7K2", "1")
    wang = hub.db.notifications(phone=PHONES["wang"])[0]
    son = hub.db.notifications(phone=PHONES["son"])[0]
    assert wang.provider_sid and son.provider_sid

    def receipt(sid: str, status: str, signature: str | None = None, error_code: int | None = None) -> int:
        url = f"{PUBLIC_URL}/webhooks/twilio/status"
        params, good = hub.server.signed_status(sid, status, url, error_code)
        return hub.client.post(
            "/webhooks/twilio/status", data=params, headers={"X-Twilio-Signature": signature or good}
        ).status_code

    assert receipt(wang.provider_sid, "delivered") == 200
    assert receipt(wang.provider_sid, "sent") == 200  # late and out of order: ignored
    assert hub.db.notifications(phone=PHONES["wang"])[0].state == "delivered"
    assert receipt(son.provider_sid, "undelivered", signature="forged") == 403
    assert hub.db.notifications(phone=PHONES["son"])[0].state == "sent"
    assert receipt(son.provider_sid, "undelivered", error_code=30003) == 200
    son_row = hub.db.notifications(phone=PHONES["son"])[0]
    assert (son_row.state, son_row.error_code) == ("undelivered", "30003")


def test_status_callbacks_fired_by_the_server_reach_a_live_app(hub: Hub) -> None:
    """The server posts signed callbacks to the URL the SDK gave it (here: a real uvicorn)."""
    import threading

    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    public_url = f"http://127.0.0.1:{port}"
    provider = TwilioProvider(hub.server.account_sid, hub.server.auth_token, HUB_NUMBER, hub.server.base_url)
    replies = SmsReplies(hub.db.sessions, hub.commands, OutboxOnly(hub.db.sessions, hub.dispatcher, hub.clock), hub.clock.now)
    app = FastAPI()
    app.include_router(webhooks_router(provider, replies, public_url, hub.clock.now))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.started
        hub.sender.settings = SenderSettings(owner="s", status_callback=f"{public_url}/webhooks/twilio/status")
        hub.open("A7K2", "1")
        for message in hub.server.accepted():
            assert hub.server.fire_status(message.sid or "", "delivered") == 200
        assert {n.state for n in hub.db.notifications()} == {"delivered"}
    finally:
        server.should_exit = True
        thread.join(10)
