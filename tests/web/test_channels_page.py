"""The board's alert page lists every attempt on every channel with its state (issue 17 item 7):
the whole hub (`build_hub`) with a voice step and a WeCom group for the SOS's grid, seeded by device
messages on a virtual clock; the card goes to a local WeCom robot server, the calls to the console
voice provider, and a call result comes back through the hub's `on_call_results`."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from support.group_robots_server import GroupRobotsServer

from alerts.config import EscalationConfig
from hub.clock import VirtualClock
from hub.config import GroupConfig, VoiceConfig
from hub.dispatch.providers.voice import CallResult, CallState
from hub.storage.models import Notification
from pingan.wiring import build_hub

from .conftest import Web, _escalation, make_config
from .seed import NOW, OptedOut, seed


@pytest.fixture
def robots() -> Iterator[GroupRobotsServer]:
    with GroupRobotsServer({"wkey"}, {}) as server:
        yield server


@pytest.fixture
def channels_web(db_url: str, robots: GroupRobotsServer) -> Iterator[Web]:
    escalation = {**_escalation(), "critical": [
        {"notify": ["grid_worker", "family"], "wait": "5m", "channels": ["sms", "voice", "group"]},
        {"notify": ["grid_leader"], "wait": "5m"},
        {"notify": ["operator"]},
    ]}
    config = make_config(db_url).model_copy(update={
        "escalation": EscalationConfig.model_validate(escalation),
        "voice": VoiceConfig(provider="console"),
        "groups": {"xuanxin-g01": GroupConfig(wecom=robots.wecom_url("wkey"))},
    })
    clock = VirtualClock(NOW - 15 * 86400)
    hub = build_hub(config, clock=clock, provider=OptedOut())
    web = Web(hub, hub.app, clock, seed(hub, NOW))
    yield web
    web.close()


def rows_of(page: str) -> list[tuple[str, str, str]]:
    """(channel class, recipient cell, state) of each message row of the alert page."""
    found = re.findall(
        r'<tr class="channel-(\w+)"><td>\d+</td><td>[^<]*</td><td>([^<]*)</td>.*?<span class="msg msg-(\w+)">',
        page, re.S,
    )
    return [(c, r, s) for c, r, s in found]


def test_alert_page_lists_attempts_per_channel(channels_web: Web, robots: GroupRobotsServer) -> None:
    web, sos = channels_web, channels_web.seeded.open_alert
    web.settle()
    with web.sessions() as session:
        calls = {n.recipient_name: n.provider_sid for n in session.query(Notification).filter_by(alert_id=sos, channel="voice")}
    assert set(calls) == {"王网格员", "李明"} and all(calls.values())  # the SOS is 5 min old: the calls were placed
    assert len([p for p in robots.accepted("wecom") if "李奶奶" in p.text]) == 1  # the SOS's card, once

    assert web.hub.calls is not None
    assert web.hub.calls.on_call_results([CallResult(calls["李明"] or "", CallState.NOT_ANSWERED, "no answer")])

    page = web.login("viewer").get(f"/alerts/{sos}").text
    rows = rows_of(page)
    assert ("sms", "王网格员", "delivered") in rows and ("sms", "李明", "delivered") in rows
    assert ("voice", "王网格员", "sent") in rows and ("voice", "李明", "undelivered") in rows
    assert ("group", "xuanxin-g01", "delivered") in rows
    for label in ("<th>渠道</th>", "<th>尝试</th>", "<td>短信</td>", "<td>语音电话</td>", "<td>工作群</td>", "企业微信群", "未送达"):
        assert label in page, label

    api = web.client().get(f"/api/alerts/{sos}", headers=web.bearer("viewer")).json()
    assert {(n["channel"], n["recipient"], n["state"]) for n in api["notifications"]} >= {
        ("voice", "李明", "undelivered"), ("group", "xuanxin-g01", "delivered"), ("sms", "王网格员", "delivered"),
    }
