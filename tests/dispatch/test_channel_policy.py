"""The channel policy (issue 17 item 7): which channels a step uses, and when — pure decisions as
tables on a virtual time line, the configuration that says so (today's keeps working), and what
the dispatcher writes to the outbox for it on a real database."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from alerts.actions import AlertOpened, Reason
from alerts.config import AlertChannel, EscalationConfig, EscalationStep, VolunteersConfig
from alerts.escalation import ChannelPlan, EscalationPolicy, channel_plan, plan_step, voice_too_late
from hub.clock import VirtualClock
from hub.config import Config, ConfigError, load_config
from hub.dispatch.calls import CallResults
from hub.dispatch.dispatcher import ChannelSettings, Dispatcher, GroupRoute
from hub.dispatch.feedback import OutboxOnly
from hub.dispatch.providers.base import ProviderError
from hub.dispatch.providers.console import ConsoleProvider
from hub.dispatch.providers.voice import CallResult, CallState, ConsoleVoice
from hub.dispatch.sender import OutboxSender, SenderSettings

from .conftest import DEFAULT_ESCALATION, PHONES, T0, Db, TableAlertCommands, make_alert, store_and_dispatch
from .test_dispatch_policy import DIRECTORY, RESIDENT

M3 = timedelta(minutes=3)
CONFIG = Path(__file__).resolve().parents[2] / "config.yaml"


def step(**fields: object) -> EscalationStep:
    return EscalationStep.model_validate({"notify": ["grid_worker"], **fields})


# step, voice.after (None: no voice provider) -> ChannelPlan at T0
PLANS = [
    # today's configuration: texts and a group card, no call
    ({"wait": "5m"}, M3, ChannelPlan(True, None, True)),
    ({"wait": "5m"}, None, ChannelPlan(True, None, True)),
    # the critical step: texts and card at once, a call after voice.after
    ({"wait": "5m", "channels": ["sms", "voice", "group"]}, M3, ChannelPlan(True, T0 + 180, True)),
    ({"wait": "5m", "channels": ["sms", "voice", "group"]}, None, ChannelPlan(True, None, True)),
    # a step's own voice_after wins
    ({"wait": "5m", "channels": ["sms", "voice"], "voice_after": "1m"}, M3, ChannelPlan(True, T0 + 60, False)),
    # voice only: the call goes at once; without a voice provider it texts instead
    ({"wait": "5m", "channels": ["voice"]}, M3, ChannelPlan(False, T0, False)),
    ({"wait": "5m", "channels": ["voice"]}, None, ChannelPlan(True, None, False)),
    # the last step (no wait) calls too
    ({"channels": ["sms", "voice"]}, M3, ChannelPlan(True, T0 + 180, False)),
    # texts only, no card
    ({"wait": "5m", "channels": ["sms"]}, M3, ChannelPlan(True, None, False)),
    # a digest step collects texts, never a card or a call
    ({"digest": "daily"}, M3, ChannelPlan(True, None, False)),
]


@pytest.mark.parametrize(("fields", "voice_after", "expected"), PLANS)
def test_channel_plan_table(fields: dict[str, object], voice_after: timedelta | None, expected: ChannelPlan) -> None:
    assert channel_plan(step(**fields), T0, voice_after) == expected


@pytest.mark.parametrize(
    ("fields", "late"),
    [
        ({"wait": "5m", "channels": ["sms", "voice"]}, False),  # 3 min < 5 min
        ({"wait": "3m", "channels": ["sms", "voice"]}, True),  # the call would ring with the next step
        ({"wait": "2m", "channels": ["sms", "voice"], "voice_after": "1m"}, False),
        ({"wait": "1m", "channels": ["voice"]}, False),  # voice only: at once
        ({"channels": ["sms", "voice"]}, False),  # the last step has no next one
        ({"wait": "1m"}, False),  # no voice channel
    ],
)
def test_a_call_must_come_before_the_next_step(fields: dict[str, object], late: bool) -> None:
    assert voice_too_late(step(**fields), M3) is late


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"channels": []}, "at least one"),
        ({"channels": ["sms", "sms"]}, "each channel once"),
        ({"channels": ["group"]}, "tells nobody in person"),
        ({"digest": "daily", "channels": ["sms", "voice"]}, "only sms"),
        ({"channels": ["sms"], "voice_after": "1m"}, "no voice channel"),
        ({"channels": ["fax"]}, "sms"),
    ],
)
def test_bad_channels_are_refused_with_the_reason(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        step(**fields)


def test_the_plan_carries_its_channels_and_times() -> None:
    escalation = EscalationConfig.model_validate(
        {**DEFAULT_ESCALATION, "critical": [{"notify": ["grid_worker", "family"], "wait": "5m",
                                              "channels": ["sms", "voice", "group"]}, {"notify": ["operator"]}]}
    )
    policy = EscalationPolicy(escalation, VolunteersConfig())
    plan = plan_step(make_alert(), 0, policy, DIRECTORY, RESIDENT, T0, voice_after=M3)
    assert [r.key for r in plan.recipients] == ["wang", "family:r-0001:0"]
    assert plan.channels == ChannelPlan(True, T0 + 180, True)
    assert plan.next_at == T0 + 300  # the call (T0+180) comes within the step


def test_todays_configuration_means_texts_and_a_group_card() -> None:
    config = Config.model_validate({"escalation": DEFAULT_ESCALATION})
    assert config.voice.provider is None
    for severity in ("critical", "high"):
        for s in getattr(config.escalation, severity):
            assert s.channel_set == {AlertChannel.SMS, AlertChannel.GROUP}
    assert config.escalation.low[0].channel_set == {AlertChannel.SMS}


def test_the_shipped_config_asks_for_a_call_on_the_first_critical_step() -> None:
    config = load_config(CONFIG, environ={})
    assert config.escalation.critical[0].channel_set == {AlertChannel.SMS, AlertChannel.VOICE, AlertChannel.GROUP}
    assert (config.voice.provider, config.voice.after) == (None, M3)  # no calls until a provider is chosen


def test_a_voice_step_whose_call_would_come_too_late_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "voice: {provider: console, after: 5m}\n"
        "escalation:\n"
        "  critical: [{notify: [grid_worker], wait: 5m, channels: [sms, voice]}, {notify: [operator]}]\n"
        "  high: [{notify: [grid_worker]}]\n"
        "  low: [{notify: [grid_worker], digest: daily}]\n"
    )
    with pytest.raises(ConfigError, match=r"escalation\.critical\.0: the voice call"):
        load_config(path, environ={})


def test_bad_group_configuration_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    text = CONFIG.read_text()
    assert text.count("\ngroups: {}") == 1
    path.write_text(text.replace("\ngroups: {}", "\ngroups: {g01: {wecom: qyapi.weixin.qq.com/send}}"))
    with pytest.raises(ConfigError, match=r"groups\.g01\.wecom.*webhook URL"):
        load_config(path, environ={})


# --- what the dispatcher writes for a plan (real database, virtual clock) ------------------------


def voice_policy() -> EscalationPolicy:
    escalation = EscalationConfig.model_validate(
        {**DEFAULT_ESCALATION, "critical": [
            {"notify": ["grid_worker", "family"], "wait": "5m", "channels": ["sms", "voice", "group"]},
            {"notify": ["grid_leader"], "wait": "5m"},
            {"notify": ["operator"]},
        ]}
    )
    return EscalationPolicy(escalation, VolunteersConfig(count=3, radius_m=3000))


def channels_of(db: Db, alert_id: str) -> list[tuple[str, str, str]]:
    return [(n.channel, n.recipient_id or "", n.state) for n in db.notifications(alert_id=alert_id)]


def test_outbox_rows_per_channel_and_the_call_waits_for_its_time(db: Db) -> None:
    clock = VirtualClock(T0)
    settings = ChannelSettings(M3, {"g01": GroupRoute(("wecom",))}, "https://hub.example.org")
    dispatcher = Dispatcher(voice_policy(), channels=settings)
    alert = make_alert()
    store_and_dispatch(db, dispatcher, [AlertOpened(alert, Reason.SOS_PRESSED)], T0)
    rows = db.notifications(alert_id=alert.id)
    assert sorted((n.channel, n.recipient_id) for n in rows) == [
        ("group", "g01"), ("sms", "family:r-0001:0"), ("sms", "wang"), ("voice", "family:r-0001:0"), ("voice", "wang"),
    ]
    assert {n.next_attempt_at for n in rows if n.channel == "voice"} == {T0 + 180}
    assert all(n.phone == "" and n.role == "wecom" for n in rows if n.channel == "group")

    sms, voice = ConsoleProvider(), ConsoleVoice()
    sender = OutboxSender(db.sessions, sms, OutboxOnly(db.sessions, dispatcher, clock), clock,
                          SenderSettings(owner="t"), voice=voice)
    sender.run_once()  # texts go; the card has no robots client here and fails for good; the calls wait
    assert sorted(m.to for m in sms.messages) == sorted([PHONES["wang"], PHONES["son"]])
    assert {(c, s) for c, _, s in channels_of(db, alert.id) if c == "voice"} == {("voice", "queued")}

    clock.advance(179)
    assert sender.run_once() == 0
    clock.advance(1)
    assert sender.run_once() == 2  # the two calls, at T0 + 3 min
    placed = [n for n in db.notifications(alert_id=alert.id) if n.channel == "voice"]
    assert {n.state for n in placed} == {"sent"} and all(n.provider_sid for n in placed)
    assert sender.run_once() == 0  # never twice


def test_an_acknowledgement_cancels_the_calls_not_placed_yet(db: Db) -> None:
    clock = VirtualClock(T0)
    dispatcher = Dispatcher(voice_policy(), channels=ChannelSettings(M3))
    alert = make_alert()
    store_and_dispatch(db, dispatcher, [AlertOpened(alert, Reason.SOS_PRESSED)], T0)
    clock.advance(60)
    TableAlertCommands(db.sessions, dispatcher, clock).acknowledge(alert.id, "wang", "sms")
    assert {n.state for n in db.notifications(alert_id=alert.id, channel="voice")} == {"cancelled"}
    sender = OutboxSender(db.sessions, ConsoleProvider(), OutboxOnly(db.sessions, dispatcher, clock), clock,
                          SenderSettings(owner="t"), voice=ConsoleVoice())
    clock.advance(300)
    sender.run_once()
    assert not [n for n in db.notifications(alert_id=alert.id, channel="voice") if n.provider_sid]


class RefusingSms:
    """Every number is refused for good (an invalid number): only the calls are left."""

    name = "refusing"

    def send(self, to: str, body: str, validity_s: int, status_callback: str | None, template: object = None) -> None:
        raise ProviderError(False, "21211", "invalid number")


def test_unanswered_calls_move_on_like_failed_texts(db: Db) -> None:
    """The texts failed for good, then the calls are not answered / busy (results through
    `on_call_results`): nobody of the step is left, so the next step starts at once."""
    clock = VirtualClock(T0)
    dispatcher = Dispatcher(voice_policy(), channels=ChannelSettings(M3))
    feedback = OutboxOnly(db.sessions, dispatcher, clock)
    calls = CallResults(db.sessions, TableAlertCommands(db.sessions, dispatcher, clock), feedback, clock.now)
    alert = make_alert()
    store_and_dispatch(db, dispatcher, [AlertOpened(alert, Reason.SOS_PRESSED)], T0)
    sender = OutboxSender(db.sessions, RefusingSms(), feedback, clock, SenderSettings(owner="t"),  # type: ignore[arg-type]
                          voice=ConsoleVoice())
    sender.run_once()
    assert {n.state for n in db.notifications(alert_id=alert.id, channel="sms")} == {"failed"}
    assert db.alert(alert.id).escalation_step == 0  # the calls are still to come
    clock.advance(180)
    sender.run_once()
    placed = db.notifications(alert_id=alert.id, channel="voice")
    first = CallResult(placed[0].provider_sid or "", CallState.NOT_ANSWERED, "no answer", push_id="p1")
    assert calls.on_call_results([first])
    assert db.alert(alert.id).escalation_step == 0  # the other call is still out
    assert calls.on_call_results([first])  # a repeated push acts no more
    assert calls.on_call_results([CallResult(placed[1].provider_sid or "", CallState.BUSY, "busy", push_id="p2")])
    assert db.alert(alert.id).escalation_step == 1  # step_undeliverable: the grid leader now, not after the wait
    assert [n.recipient_id for n in db.notifications(alert_id=alert.id, step=1)] == ["zhao"]
    assert [n.state for n in db.notifications(alert_id=alert.id, channel="voice")] == ["undelivered", "undelivered"]
    assert len(db.audit("escalation_exhausted")) == 0


def test_an_unknown_call_id_asks_the_provider_to_retry(db: Db) -> None:
    clock = VirtualClock(T0)
    dispatcher = Dispatcher(voice_policy(), channels=ChannelSettings(M3))
    calls = CallResults(db.sessions, TableAlertCommands(db.sessions, dispatcher, clock),
                        OutboxOnly(db.sessions, dispatcher, clock), clock.now)
    result = CallResult("VC-nobody", CallState.ANSWERED, "answered", key_pressed="1", push_id="p9")
    assert not calls.on_call_results([result])
    assert not calls.on_call_results([result])  # not remembered: the retry is looked at again
    assert [a.channel for a in db.audit("voice_unknown_call")] == ["voice", "voice"]
