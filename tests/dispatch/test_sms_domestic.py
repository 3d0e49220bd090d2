"""Aliyun and Tencent SMS through their official SDKs against local servers that speak their
APIs, on SQLite and PostgreSQL: alert texts as template code + parameters (mainland numbers
without +86 for Aliyun), the faults (5xx, timeout, refused template, throttling, a refused
number), reply and receipt pushes (wrong token, unknown number, repeated, out of order),
confirmations through the outbox, QuerySendDetails where no receipt came, and short links."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from alerts.actions import AlertOpened, Reason
from dashboards.routers.push_webhooks import PATHS, push_webhooks_router
from dashboards.routers.webhooks import TokenBucket
from hub.clock import VirtualClock
from hub.config import Config
from hub.dispatch.dispatcher import Dispatcher
from hub.dispatch.feedback import OutboxOnly
from hub.dispatch.links import responder_url, sign_responder_link
from hub.dispatch.receipts import ReceiptPoller
from hub.dispatch.replies import SmsReplies
from hub.dispatch.sender import OutboxSender, SenderSettings
from hub.storage import models as m
from hub.storage.db import make_engine, reset_schema
from pingan.wiring import build_hub, make_provider

from .conftest import DEFAULT_ESCALATION, PHONES, T0, Db, TableAlertCommands, make_alert, policy, store_and_dispatch
from .domestic import FAULT_CODES, TOKEN, Domestic, domestic

PUBLIC_URL = "https://hub.example.org"
SECRET = "domestic-secret"


@dataclass
class Hub:
    db: Db
    sms: Domestic
    client: TestClient
    commands: TableAlertCommands
    dispatcher: Dispatcher
    replies: SmsReplies
    sender: OutboxSender
    clock: VirtualClock

    def open_sos(self, code: str = "A7K2", suffix: str = "1") -> str:
        alert = make_alert(at=self.clock.now(), code=code, suffix=suffix)
        store_and_dispatch(self.db, self.dispatcher, [AlertOpened(alert, Reason.SOS_PRESSED)], self.clock.now())
        self.drain()
        return alert.id

    def drain(self) -> None:
        while self.sender.run_once():
            pass

    def push(self, path: str, body: bytes) -> tuple[int, object]:
        response = self.client.post(path, content=body, headers={"Content-Type": "application/json"})
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, response.text


@pytest.fixture(params=["aliyun", "tencent"])
def hub(request: pytest.FixtureRequest, db: Db) -> Iterator[Hub]:
    clock = VirtualClock(T0)

    def links(alert_id: str, phone: str, expires: float) -> str:
        return responder_url(PUBLIC_URL, sign_responder_link(SECRET, alert_id, phone, expires))

    dispatcher = Dispatcher(policy(), link_builder=links, short_links=PUBLIC_URL)
    commands = TableAlertCommands(db.sessions, dispatcher, clock)
    replies = SmsReplies(db.sessions, commands, OutboxOnly(db.sessions, dispatcher, clock), clock.now)
    with domestic(request.param) as sms:
        app = FastAPI()
        app.include_router(push_webhooks_router(sms.provider, replies, TOKEN, clock.now, TokenBucket(capacity=5)))
        sender = OutboxSender(
            db.sessions, sms.provider, OutboxOnly(db.sessions, dispatcher, clock), clock, SenderSettings(owner="s")
        )
        with TestClient(app) as client:
            yield Hub(db, sms, client, commands, dispatcher, replies, sender, clock)


def test_an_sos_is_texted_as_the_template_code_with_its_parameters(hub: Hub) -> None:
    hub.open_sos()
    sent = sorted(hub.sms.accepted(), key=lambda s: s.to)
    mainland = [PHONES["wang"], PHONES["son"]]
    if hub.sms.name == "aliyun":  # Aliyun's form: no +86
        assert sorted(s.to for s in sent) == sorted(p.removeprefix("+86") for p in mainland)
    else:
        assert sorted(s.to for s in sent) == sorted(mainland)
    for s in sent:
        assert s.template_code == hub.sms.codes["sos"]
        assert (s.params["name"], s.params["address"], s.params["code"]) == ("李奶奶", "宣信街12号3单元501", "A7K2")
        assert re.fullmatch(r"hub\.example\.org/s/[A-Za-z0-9]{6}", s.params["link"]), s.params["link"]
    rows = hub.db.notifications()
    assert {(r.state, r.template) for r in rows} == {("sent", "sos")}
    assert sorted(r.provider_sid or "" for r in rows) == sorted(s.sid for s in sent)
    assert {r.params["link"] for r in rows if r.params} == {s.params["link"] for s in sent}
    # The zh text the office filed, rendered with these parameters, is one segment.
    assert all(len(r.body) <= 70 and r.body.endswith(r.params["link"]) for r in rows if r.params)


@pytest.mark.parametrize("fault", ["throttled", "5xx", "timeout", "template_refused"])
def test_provider_faults_are_retried_later(hub: Hub, fault: str) -> None:
    hub.sms.fail_next(fault)
    hub.sms.fail_next(fault)
    store_and_dispatch(hub.db, hub.dispatcher, [AlertOpened(make_alert(), Reason.SOS_PRESSED)], T0)
    assert hub.sender.run_once() == 2
    rows = hub.db.notifications()
    assert {(r.state, r.attempts) for r in rows} == {("queued", 1)}
    assert {r.error_code for r in rows} == {FAULT_CODES[hub.sms.name][fault][:32]}
    assert all(r.next_attempt_at is not None and r.next_attempt_at > T0 for r in rows)
    assert hub.sender.run_once() == 0  # not before its time
    hub.clock.advance(30)
    hub.drain()
    assert {r.state for r in hub.db.notifications()} == {"sent"}
    # a timed-out request may have been taken by the provider: the documented duplicate window
    assert len(hub.sms.accepted()) == (4 if fault == "timeout" else 2)


def test_a_refused_number_fails_for_good(hub: Hub) -> None:
    hub.sms.fail_next("bad_number")
    store_and_dispatch(hub.db, hub.dispatcher, [AlertOpened(make_alert(), Reason.SOS_PRESSED)], T0)
    hub.sender.run_once()
    states = sorted(r.state for r in hub.db.notifications() if r.step == 0)
    assert states == ["failed", "sent"]


def test_a_reply_push_acknowledges_once_and_is_confirmed_through_the_outbox(hub: Hub) -> None:
    alert_id = hub.open_sos()
    body = hub.sms.reply_push(PHONES["wang"], "1 A7K2", n=1)
    status, answer = hub.push(hub.sms.reply_path, body)
    assert status == 200 and hub.sms.taken(answer)  # type: ignore[arg-type]
    assert hub.db.alert(alert_id).state == "acknowledged"
    assert [c[0] for c in hub.commands.calls] == ["acknowledge"]
    # The provider retries (or the same push comes twice): answered as taken, acted on no more.
    for _ in range(2):
        status, answer = hub.push(hub.sms.reply_path, body)
        assert status == 200 and hub.sms.taken(answer)  # type: ignore[arg-type]
    assert [c[0] for c in hub.commands.calls] == ["acknowledge"]
    assert len(hub.db.audit("sms_reply")) == 1
    # The confirmation is a text of template `reply`, sent through the SDK once.
    hub.drain()
    confirmations = [s for s in hub.sms.accepted() if s.template_code == hub.sms.codes["reply"]]
    assert len(confirmations) == 1
    assert "A7K2" in confirmations[0].params["result"] and "李奶奶" in confirmations[0].params["result"]


def test_replies_out_of_order_and_a_new_reply_with_the_same_words_act_each_once(hub: Hub) -> None:
    alert_id = hub.open_sos()
    hub.push(hub.sms.reply_path, hub.sms.reply_push(PHONES["wang"], "3 A7K2", n=2))  # on site, pushed first
    hub.push(hub.sms.reply_path, hub.sms.reply_push(PHONES["wang"], "1 A7K2", n=1))  # the earlier "1" arrives late
    assert [c[0] for c in hub.commands.calls] == ["on_site", "acknowledge"]
    assert hub.db.alert(alert_id).state == "on_site"  # the late "1" cannot go back
    hub.push(hub.sms.reply_path, hub.sms.reply_push(PHONES["wang"], "9 A7K2", n=3))
    hub.push(hub.sms.reply_path, hub.sms.reply_push(PHONES["wang"], "9 A7K2", n=3))
    assert hub.db.alert(alert_id).state == "resolved"
    assert [c[0] for c in hub.commands.calls] == ["on_site", "acknowledge", "resolve"]


def test_pushes_need_the_token_and_act_only_for_texted_numbers(hub: Hub) -> None:
    alert_id = hub.open_sos()
    wrong = hub.sms.reply_path.replace(TOKEN, "x" * len(TOKEN))
    status, _ = hub.push(wrong, hub.sms.reply_push(PHONES["wang"], "1 A7K2", n=1))
    assert status == 404
    # A registered responder who was never texted this (or any) alert: not acted on.
    status, answer = hub.push(hub.sms.reply_path, hub.sms.reply_push(PHONES["zhao"], "1 A7K2", n=2))
    assert status == 200 and hub.sms.taken(answer)  # type: ignore[arg-type]
    assert hub.db.alert(alert_id).state == "open" and hub.commands.calls == []
    assert len(hub.db.audit("sms_push_unknown_number")) == 1
    status, _ = hub.push(hub.sms.reply_path, b"not json")
    assert status == 400
    assert hub.db.alert(alert_id).state == "open"


def test_receipts_repeated_or_out_of_order_move_a_text_forward_only(hub: Hub) -> None:
    hub.open_sos()
    (row,) = hub.db.notifications(phone=PHONES["wang"])
    assert row.provider_sid is not None
    delivered = hub.sms.status_push(row.provider_sid, PHONES["wang"], success=True)
    failed = hub.sms.status_push(row.provider_sid, PHONES["wang"], success=False)
    for body in (delivered, delivered, failed):  # repeated, then a stale failure after delivery
        status, answer = hub.push(hub.sms.status_path, body)
        assert status == 200 and hub.sms.taken(answer)  # type: ignore[arg-type]
    (row,) = hub.db.notifications(phone=PHONES["wang"])
    assert row.state == "delivered"
    assert len(hub.db.notifications()) == 2  # no replacement for a text that arrived


def test_an_undelivered_receipt_is_recorded_as_the_texts_failure(hub: Hub) -> None:
    hub.open_sos()
    (row,) = hub.db.notifications(phone=PHONES["son"])
    status, _ = hub.push(hub.sms.status_path, hub.sms.status_push(row.provider_sid or "", PHONES["son"], False))
    assert status == 200
    (row,) = hub.db.notifications(phone=PHONES["son"])
    assert row.state == "undelivered"


def test_a_receipt_that_overtakes_the_send_is_retried_by_the_provider(hub: Hub) -> None:
    body = hub.sms.status_push("not-recorded-yet", PHONES["wang"])
    status, answer = hub.push(hub.sms.status_path, body)
    assert status == 503 and not hub.sms.taken(answer)  # type: ignore[arg-type]


def test_query_send_details_covers_a_receipt_that_never_came(db: Db) -> None:
    clock = VirtualClock(T0)
    dispatcher = Dispatcher(policy())
    feedback = OutboxOnly(db.sessions, dispatcher, clock)
    replies = SmsReplies(db.sessions, TableAlertCommands(db.sessions, dispatcher, clock), feedback, clock.now)
    with domestic("aliyun") as sms:
        sender = OutboxSender(db.sessions, sms.provider, feedback, clock, SenderSettings(owner="s"))
        store_and_dispatch(db, dispatcher, [AlertOpened(make_alert(), Reason.SOS_PRESSED)], T0)
        sender.run_once()
        poller = ReceiptPoller(db.sessions, sms.provider, replies.handle_status, clock.now, after_s=600)
        assert poller.run_once() == 0  # too early to ask
        sid_wang = next(r.provider_sid for r in db.notifications() if r.phone == PHONES["wang"])
        sid_son = next(r.provider_sid for r in db.notifications() if r.phone == PHONES["son"])
        sms.server.statuses[sid_wang] = 3  # delivered
        sms.server.statuses[sid_son] = 1  # still waiting
        clock.advance(601)
        assert poller.run_once() == 1
        states = {r.phone: r.state for r in db.notifications()}
        assert states == {PHONES["wang"]: "delivered", PHONES["son"]: "sent"}
        queries = [q for q in sms.server.requests if q.get("PhoneNumber")]
        assert {q["PhoneNumber"] for q in queries} == {"13800000001", "13900000001"}  # without +86
        assert poller.run_once() == 0  # asked once per 10 minutes


def test_the_short_link_is_stored_with_the_signed_link_and_its_expiry(hub: Hub) -> None:
    alert_id = hub.open_sos()
    with hub.db.sessions() as s:
        links = list(s.query(m.ShortLink).filter(m.ShortLink.alert_id == alert_id))
    assert len(links) == 2
    sent_codes = {r.params["link"].rsplit("/", 1)[1] for r in hub.db.notifications() if r.params}
    assert {link.code for link in links} == sent_codes
    assert all(link.url.startswith(f"{PUBLIC_URL}/r/") and link.expires_at == T0 + 24 * 3600 for link in links)


@pytest.mark.parametrize("name", ["aliyun", "tencent"])
def test_the_hub_serves_the_push_webhooks_of_the_configured_provider_and_names_missing_templates(
    name: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with domestic(name) as sms:
        sms_section = sms.config(with_secret=True)
        sms_section["webhook_token"] = TOKEN
        raw = {
            "database": {"url": f"sqlite:///{tmp_path / 'hub.db'}"},
            "escalation": DEFAULT_ESCALATION,
            "http": {"public_url": PUBLIC_URL, "secret_key": "k" * 32},
            "sms": sms_section,
        }
        config = Config.model_validate(raw)
        engine = make_engine(config.database.url)
        reset_schema(engine)
        engine.dispose()
        hub = build_hub(config)
        try:
            with TestClient(hub.app) as client:
                for path in PATHS[name]:  # served: a body that is no push is a 400
                    assert client.post(path.format(token=TOKEN), content=b"[1]").status_code == 400
                for path in PATHS["tencent" if name == "aliyun" else "aliyun"]:
                    assert client.post(path.format(token=TOKEN), content=b"[1]").status_code == 404
            assert (hub.receipts is not None) == (name == "aliyun")  # QuerySendDetails: Aliyun only
        finally:
            for e in hub.engines:
                e.dispose()
        # The keys of PRODUCT.md's example only: the hub starts and says which codes are missing.
        product_keys = ("sos", "fall", "inactivity", "geofence_exit", "device_offline", "low_battery", "resolved", "reply")
        sms_section[name]["templates"] = {k: sms_section[name]["templates"][k] for k in product_keys}
        with caplog.at_level(logging.WARNING, logger="pingan.hub"):
            assert make_provider(Config.model_validate(raw)).name == name
        assert "smoke, gas, manual, returned, digest" in caplog.text
    with pytest.raises(ValueError, match="unknown template ids soss"):
        Config.model_validate({**raw, "sms": {"provider": name, name: {"templates": {"soss": "1"}}}})


def test_a_reply_that_could_not_be_applied_is_answered_5xx_and_acts_on_the_providers_retry(hub: Hub) -> None:
    alert_id = hub.open_sos()
    acknowledge = hub.commands.acknowledge
    failures = [RuntimeError("database went away")]

    def flaky(alert: str, actor: str, channel: str) -> object:
        if failures:
            raise failures.pop()
        return acknowledge(alert, actor, channel)

    hub.commands.acknowledge = flaky  # type: ignore[method-assign]
    body = hub.sms.reply_push(PHONES["wang"], "1 A7K2", n=7)
    status, answer = hub.push(hub.sms.reply_path, body)
    assert status == 503 and not hub.sms.taken(answer)  # type: ignore[arg-type]
    assert hub.db.alert(alert_id).state == "open"
    status, answer = hub.push(hub.sms.reply_path, body)  # the provider retries the same push
    assert status == 200 and hub.sms.taken(answer)  # type: ignore[arg-type]
    assert hub.db.alert(alert_id).state == "acknowledged"


def test_a_text_whose_template_has_no_code_waits_in_the_outbox(hub: Hub) -> None:
    del hub.sms.provider.templates["sos"]  # not approved yet
    store_and_dispatch(hub.db, hub.dispatcher, [AlertOpened(make_alert(), Reason.SOS_PRESSED)], T0)
    hub.sender.run_once()
    rows = hub.db.notifications()
    assert {(r.state, r.error_code) for r in rows} == {("queued", "no_template_code")}
    assert hub.sms.accepted() == []
    hub.sms.provider.templates["sos"] = hub.sms.codes["sos"]  # configured (a restart in a deployment)
    hub.clock.advance(30)
    hub.drain()
    assert {r.state for r in hub.db.notifications()} == {"sent"}
