"""Group cards (issue 17 item 5): WeCom group robots and DingTalk custom robots, over HTTP to a local
server that speaks both webhooks and checks DingTalk's signature and timestamp; faults (5xx,
throttling, a wrong secret, a stale timestamp, a timeout); and the cards going through the outbox
(retries with backoff, no duplicates) when an alert opens, is acknowledged and is resolved."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator
from urllib.parse import unquote_plus

import httpx
import pytest
from support.group_robots_server import Fault, GroupRobotsServer

from alerts.actions import AlertOpened, Reason
from alerts.cards import CardEvent, group_card
from alerts.texts import Lang
from hub.clock import VirtualClock
from hub.config import Config
from hub.dispatch.dispatcher import ChannelSettings, Dispatcher, GroupRoute
from hub.dispatch.feedback import OutboxOnly
from hub.dispatch.providers.base import ProviderError
from hub.dispatch.providers.console import ConsoleProvider
from hub.dispatch.providers.groups import DINGTALK, WECOM, GroupRobots, Robot, dingtalk_sign, robots_from_config
from hub.dispatch.sender import OutboxSender, SenderSettings
from hub.logging_setup import mask_secrets

from .conftest import DEFAULT_ESCALATION, T0, Db, TableAlertCommands, make_alert, policy, store_and_dispatch
from .test_dispatch_policy import RESIDENT

SECRET = "SEC0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(T0)


@pytest.fixture
def server(clock: VirtualClock) -> Iterator[GroupRobotsServer]:
    with GroupRobotsServer({"wkey"}, {"dtoken": SECRET}, now=clock.now) as s:
        yield s


def robots(server: GroupRobotsServer, clock: VirtualClock, secret: str = SECRET, timeout_s: float = 5.0) -> GroupRobots:
    return GroupRobots(
        {("g01", WECOM): Robot(WECOM, server.wecom_url("wkey")),
         ("g01", DINGTALK): Robot(DINGTALK, server.dingtalk_url("dtoken"), secret)},
        clock.now,
        httpx.Client(timeout=timeout_s),
    )


def test_dingtalk_sign_is_the_documented_hmac() -> None:
    # Java/Python example of DingTalk's documentation, recomputed independently
    expected = base64.b64encode(hmac.new(b"SECx", b"1700000000000\nSECx", hashlib.sha256).digest()).decode()
    assert unquote_plus(dingtalk_sign("SECx", 1700000000000)) == expected


def test_a_card_reaches_both_robots(server: GroupRobotsServer, clock: VirtualClock) -> None:
    card = group_card(CardEvent.OPENED, make_alert(), RESIDENT, Lang.ZH, "https://hub.example.org/alerts/al-sos1")
    groups = robots(server, clock)
    groups.post("g01", WECOM, card.title, card.markdown)
    groups.post("g01", DINGTALK, card.title, card.markdown)
    wecom, dingtalk = server.accepted(WECOM), server.accepted(DINGTALK)
    assert len(wecom) == len(dingtalk) == 1
    assert wecom[0].body == {"msgtype": "markdown", "markdown": {"content": card.markdown}}
    assert dingtalk[0].body["markdown"] == {"title": card.title, "text": card.markdown}
    assert "李奶奶" in card.markdown and "宣信街12号3单元501" in card.markdown
    assert "(https://hub.example.org/alerts/al-sos1)" in card.markdown and "A7K2" in card.title


@pytest.mark.parametrize(
    ("robot", "fault", "recoverable", "code"),
    [
        (WECOM, Fault(status=500), True, "http_500"),
        (DINGTALK, Fault(status=503), True, "http_503"),
        (WECOM, Fault(errcode=45009), True, "wecom_45009"),  # 20 a minute
        (DINGTALK, Fault(errcode=130101), True, "dingtalk_130101"),  # send too fast
    ],
)
def test_faults_map_to_the_outbox(
    server: GroupRobotsServer, clock: VirtualClock, robot: str, fault: Fault, recoverable: bool, code: str
) -> None:
    server.faults.append(fault)
    with pytest.raises(ProviderError) as refused:
        robots(server, clock).post("g01", robot, "t", "m")
    assert (refused.value.recoverable, refused.value.code) == (recoverable, code)


def test_dingtalk_refuses_a_wrong_secret_and_a_stale_timestamp(server: GroupRobotsServer, clock: VirtualClock) -> None:
    with pytest.raises(ProviderError) as wrong:
        robots(server, clock, secret="SECwrong").post("g01", DINGTALK, "t", "m")
    assert (wrong.value.recoverable, wrong.value.code, wrong.value.message) == (False, "dingtalk_310000", "sign not match")
    behind = VirtualClock(T0 - 3601)  # the hub's clock an hour and a second behind DingTalk's
    with pytest.raises(ProviderError) as stale:
        robots(server, behind).post("g01", DINGTALK, "t", "m")
    assert (stale.value.code, stale.value.message) == ("dingtalk_310000", "invalid timestamp")
    robots(server, VirtualClock(T0 - 3500)).post("g01", DINGTALK, "t", "m")  # within the hour: taken
    assert len(server.accepted(DINGTALK)) == 1


def test_an_unknown_wecom_key_fails_for_good(server: GroupRobotsServer, clock: VirtualClock) -> None:
    groups = GroupRobots({("g01", WECOM): Robot(WECOM, server.wecom_url("removed"))}, clock.now)
    with pytest.raises(ProviderError) as refused:
        groups.post("g01", WECOM, "t", "m")
    assert (refused.value.recoverable, refused.value.code) == (False, "wecom_93000")


def test_a_timeout_is_recoverable(server: GroupRobotsServer, clock: VirtualClock) -> None:
    server.faults.append(Fault(delay_s=1.0))
    with pytest.raises(ProviderError) as slow:
        robots(server, clock, timeout_s=0.2).post("g01", WECOM, "t", "m")
    assert (slow.value.recoverable, slow.value.code) == (True, "network")


def test_robots_from_the_configuration() -> None:
    config = Config.model_validate({
        "escalation": DEFAULT_ESCALATION,
        "groups": {"g-01": {"wecom": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"},
                   "g-02": {"dingtalk": {"url": "https://oapi.dingtalk.com/robot/send?access_token=t", "secret": "SECs"}}},
    })
    found = robots_from_config(config.groups)
    assert found == {
        ("g-01", WECOM): Robot(WECOM, "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"),
        ("g-02", DINGTALK): Robot(DINGTALK, "https://oapi.dingtalk.com/robot/send?access_token=t", "SECs"),
    }


def test_cards_go_through_the_outbox_with_retries_and_no_duplicates(
    db: Db, server: GroupRobotsServer, clock: VirtualClock
) -> None:
    """Opened: a card to each robot of the grid at once (WeCom answers 500 first: retried after the
    backoff, once); acknowledged and resolved: one card each; the keys never reach the database."""
    route = GroupRoute((WECOM, DINGTALK))
    dispatcher = Dispatcher(policy(), channels=ChannelSettings(None, {"g01": route}, "https://hub.example.org"))
    sender = OutboxSender(db.sessions, ConsoleProvider(echo=False), OutboxOnly(db.sessions, dispatcher, clock), clock,
                          SenderSettings(owner="t"), groups=robots(server, clock))
    alert = make_alert()
    server.faults.append(Fault(status=500))
    store_and_dispatch(db, dispatcher, [AlertOpened(alert, Reason.SOS_PRESSED)], T0)
    sender.run_once()
    cards = db.notifications(alert_id=alert.id, channel="group")
    assert sorted((c.role, c.state) for c in cards) == [(DINGTALK, "delivered"), (WECOM, "queued")]
    assert len(server.accepted()) == 1
    clock.advance(15)  # past the first backoff (10 s ± 20 %)
    sender.run_once()
    sender.run_once()
    assert [p.robot for p in server.accepted()] == [DINGTALK, WECOM]

    commands = TableAlertCommands(db.sessions, dispatcher, clock)
    commands.acknowledge(alert.id, "wang", "sms")
    sender.run_once()
    commands.resolve(alert.id, "ok", "wang", "sms")
    sender.run_once()
    sender.run_once()
    posted = [(p.robot, p.text) for p in server.accepted()]
    assert len(posted) == 6
    wecom_texts = [t for r, t in posted if r == WECOM]
    assert "已有人前往" in wecom_texts[1] and "王网格员" in wecom_texts[1]
    assert "已解除" in wecom_texts[2] and "已处理" in wecom_texts[2]
    cards = db.notifications(alert_id=alert.id, channel="group")
    assert sorted(c.reason for c in cards) == ["acknowledged", "acknowledged", "opened", "opened", "resolved", "resolved"]
    assert all(c.state == "delivered" and "key=" not in (c.body + (c.recipient_name or "")) for c in cards)


def test_no_group_no_card(db: Db, clock: VirtualClock) -> None:
    dispatcher = Dispatcher(policy(), channels=ChannelSettings(None, {"g02": GroupRoute((WECOM,))}))
    alert = make_alert()
    store_and_dispatch(db, dispatcher, [AlertOpened(alert, Reason.SOS_PRESSED)], T0)
    assert db.notifications(alert_id=alert.id, channel="group") == []
    assert len(db.notifications(alert_id=alert.id, channel="sms")) == 2


def test_robot_keys_never_reach_the_log(server: GroupRobotsServer) -> None:
    """httpx logs each request's URL at INFO: the hub's log filter masks the key and the signature."""
    line = f"HTTP Request: POST {server.wecom_url('wkey')} / {server.dingtalk_url('dtoken')}&timestamp=1&sign=a%2Bb"
    masked = mask_secrets(line)
    assert "wkey" not in masked and "dtoken" not in masked and "a%2Bb" not in masked
    assert "key=***" in masked and "access_token=***" in masked and "sign=***" in masked
