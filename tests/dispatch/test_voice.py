"""Voice calls through the official SDKs (Aliyun Dyvms, Tencent VMS) against the local servers
that speak their APIs and check their signatures: a call with the template code and parameters
(mainland number forms, press 1 where the API has a key menu), the error mapping, the result
pushes through the webhook (answered, not answered, busy, key 1; repeats act once; a push not
taken is answered 5xx and its retry acts), the status query where no push came, the token, and
the configuration, factory and production checks."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from alerts.actions import Alert, AlertKind, AlertState, Severity
from alerts.registry import Point, Resident
from alerts.templates import VOICE_CATALOGUE, aliyun_form, render, tencent_form
from alerts.texts import Lang, voice_message
from dashboards.routers.voice_webhooks import RecentPushes, voice_webhooks_router
from hub.clock import VirtualClock
from hub.config import ConfigError, load_config
from hub.dispatch.dispatcher import Dispatcher
from hub.dispatch.feedback import OutboxOnly
from hub.dispatch.providers.aliyun_voice import AliyunVoiceProvider
from hub.dispatch.providers.base import ProviderError, TemplateMessage
from hub.dispatch.providers.tencent_voice import TencentVoiceProvider
from hub.dispatch.providers.voice import CallResult, CallState, ConsoleVoice, build_voice_provider
from hub.dispatch.replies import SmsReplies
from hub.operations.production import voice_refusals

from .conftest import T0, Db, TableAlertCommands, policy
from .voice import ALIYUN_CODES, SOS, TENCENT_CODES, TOKEN, Voice, voice

WANG = "+8613800000001"
DOCS = __import__("pathlib").Path(__file__).parents[2] / "docs" / "DISPATCH.md"


@pytest.fixture(params=["aliyun", "tencent"])
def vc(request: pytest.FixtureRequest) -> Iterator[Voice]:
    with voice(request.param) as v:
        yield v


# --- placing a call ---------------------------------------------------------------------------


def test_aliyun_places_an_interactive_call_with_press_1_to_acknowledge() -> None:
    with voice("aliyun") as v:
        call_id = v.provider.call(WANG, SOS, "n-42")
        [placed] = v.server.calls
    assert (placed.call_id, placed.action) == (call_id, "IvrCall")
    assert placed.called_number == "13800000001"  # mainland, without +86
    assert placed.show_number == "057188880000"
    assert (placed.tts_code, placed.tts_param) == ("TTS_300001", dict(SOS.params))
    assert placed.menu() == {"1": ("TTS_300002", {"code": "A7K2"})}
    assert (placed.query["OutId"], placed.query["PlayTimes"]) == ("n-42", "2")


def test_aliyun_without_the_acknowledgement_template_says_the_message_only() -> None:
    with voice("aliyun", codes={"voice_alert": "TTS_300001"}) as v:
        call_id = v.provider.call(WANG, SOS, "reference-longer-than-15-bytes")
        [placed] = v.server.calls
    assert (placed.call_id, placed.action, placed.tts_code) == (call_id, "SingleCallByTts", "TTS_300001")
    assert placed.tts_param == dict(SOS.params) and placed.menu() == {}
    assert "OutId" not in placed.query  # Aliyun takes 15 bytes at most: a longer reference is left out


def test_tencent_places_a_tts_call_with_positional_parameters_and_the_reference() -> None:
    with voice("tencent") as v:
        call_id = v.provider.call(WANG, SOS, "n-42")
        [placed] = v.server.calls
    assert (placed.call_id, placed.called_number, placed.template_id) == (call_id, WANG, "1900001")
    assert placed.params == ["李奶奶", "按了SOS求救", "宣信街12号3单元501", "A7K2"]  # the catalogue's order
    assert (placed.session_context, placed.play_times) == ("n-42", 2)


def test_an_english_call_uses_the_english_template_when_filed(vc: Voice) -> None:
    codes = ALIYUN_CODES if vc.name == "aliyun" else TENCENT_CODES
    english = TemplateMessage(SOS.template, SOS.params, "en")
    vc.provider.templates["voice_alert_en"] = codes["voice_alert"] + "9"
    with pytest.raises(ProviderError) as refused:  # the server has no such template approved
        vc.provider.call(WANG, english, "n-1")
    assert refused.value.recoverable
    del vc.provider.templates["voice_alert_en"]
    vc.provider.call(WANG, english, "n-1")  # without one: the Chinese template


@pytest.mark.parametrize("fault", ["throttled", "5xx", "timeout", "template_refused"])
def test_faults_are_recoverable_and_name_the_providers_code(vc: Voice, fault: str) -> None:
    code = vc.fail_next(fault)
    with pytest.raises(ProviderError) as failed:
        vc.provider.call(WANG, SOS, "n-1")
    assert failed.value.recoverable and failed.value.code == code
    assert vc.provider.call(WANG, SOS, "n-1")  # the next attempt goes through


def test_a_number_the_provider_cannot_call_is_permanent(vc: Voice) -> None:
    with pytest.raises(ProviderError) as refused:
        vc.provider.call("+85291234567", SOS, "n-1")  # Hong Kong: both call mainland numbers only
    assert not refused.value.recoverable


def test_a_template_without_a_code_waits_for_the_office(vc: Voice) -> None:
    vc.provider.templates.pop("voice_alert")
    with pytest.raises(ProviderError) as waiting:
        vc.provider.call(WANG, SOS, "n-1")
    assert (waiting.value.recoverable, waiting.value.code) == (True, "no_template_code")
    assert not vc.server.calls


def test_a_wrong_secret_is_refused_by_the_servers_signature_check(vc: Voice) -> None:
    if vc.name == "aliyun":
        wrong: AliyunVoiceProvider | TencentVoiceProvider = AliyunVoiceProvider(
            vc.server.access_key_id, "not-the-secret", "057188880000", ALIYUN_CODES, vc.server.base_url)
        expected = "SignatureDoesNotMatch"
    else:
        wrong = TencentVoiceProvider(vc.server.secret_id, "not-the-secret", vc.server.voice_sdk_app_id, TENCENT_CODES,
                                     vc.server.base_url)
        expected = "AuthFailure.SignatureFailure"
    with pytest.raises(ProviderError) as refused:
        wrong.call(WANG, SOS, "n-1")
    assert refused.value.code == expected and refused.value.recoverable
    assert not vc.server.calls


# --- results ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "state", "key"),
    [
        ("answered", CallState.ANSWERED, None),
        ("not_answered", CallState.NOT_ANSWERED, None),
        ("busy", CallState.BUSY, None),
        ("failed", CallState.FAILED, None),
        ("key_1", CallState.ANSWERED, "1"),
    ],
)
def test_pushed_results_reach_the_hub_in_our_states(vc: Voice, event: str, state: CallState, key: str | None) -> None:
    call_id = vc.provider.call(WANG, SOS, "n-1")
    response = vc.client().post(vc.path, content=vc.push(event, call_id, WANG))
    assert (response.status_code, response.json()) == (200, vc.ok_answer())
    [result] = vc.taken
    assert (result.call_id, result.state, result.key_pressed) == (call_id, state, key)


def test_a_repeated_push_acts_once_and_a_later_result_of_the_call_acts(vc: Voice) -> None:
    call_id = vc.provider.call(WANG, SOS, "n-1")
    client = vc.client()
    for _ in range(3):  # the provider retries
        response = client.post(vc.path, content=vc.push("key_1", call_id, WANG))
        assert (response.status_code, response.json()) == (200, vc.ok_answer())
    client.post(vc.path, content=vc.push("answered", call_id, WANG))
    assert [(r.state, r.key_pressed) for r in vc.taken] == [(CallState.ANSWERED, "1"), (CallState.ANSWERED, None)]


def test_results_out_of_order_each_act_once(vc: Voice) -> None:
    """The end of the call may be pushed before the key press it contained: both reach the hub."""
    call_id = vc.provider.call(WANG, SOS, "n-1")
    client = vc.client()
    for event in ("answered", "key_1", "answered", "key_1"):
        assert client.post(vc.path, content=vc.push(event, call_id, WANG)).status_code == 200
    assert [(r.state, r.key_pressed) for r in vc.taken] == [(CallState.ANSWERED, None), (CallState.ANSWERED, "1")]


def test_a_push_the_hub_could_not_take_is_answered_5xx_and_its_retry_acts(vc: Voice) -> None:
    call_id = vc.provider.call(WANG, SOS, "n-1")
    client = vc.client()
    vc.accept = False
    refused = client.post(vc.path, content=vc.push("busy", call_id, WANG))
    assert refused.status_code == 503 and refused.json() != vc.ok_answer()
    vc.accept = True
    retried = client.post(vc.path, content=vc.push("busy", call_id, WANG))
    assert (retried.status_code, [r.state for r in vc.taken]) == (200, [CallState.BUSY])


def test_a_wrong_token_is_a_404_and_a_bad_body_a_400(vc: Voice) -> None:
    call_id = vc.provider.call(WANG, SOS, "n-1")
    client = vc.client()
    wrong = client.post(vc.path.replace(TOKEN, TOKEN[:-1] + "x"), content=vc.push("key_1", call_id, WANG))
    assert wrong.status_code == 404
    assert client.post(vc.path, content=b"not json").status_code == 400
    assert client.post(vc.path, content=json.dumps([{"call_id": ""}]).encode()).status_code == 400
    assert vc.taken == []


def test_the_router_refuses_a_short_token_and_the_console_provider() -> None:
    with voice("aliyun") as v, pytest.raises(ValueError, match="16 characters"):
        voice_webhooks_router(v.provider, v.on_results, "short")
    with pytest.raises(ValueError, match="no voice webhook"):
        voice_webhooks_router(ConsoleVoice(), lambda results: True, TOKEN)


def test_aliyun_progress_states_are_no_result_and_a_report_carries_its_key() -> None:
    with voice("aliyun") as v:
        body = json.dumps([
            {"call_id": "1^2", "status_code": "200101", "status_time": "2026-12-06 08:00:01", "out_id": ""},
            {"call_id": "1^2", "status_code": "200000", "dtmf": "1", "status_msg": "用户听音结束", "duration": "20"},
        ]).encode()
        [result] = v.provider.parse_call_push(body)
    assert (result.state, result.key_pressed, result.provider_status) == (CallState.ANSWERED, "1", "200000 用户听音结束")


def test_hubs_sharing_the_database_take_a_push_once(db: Db) -> None:
    """With SmsReplies as the delivery log, a retry that reaches another hub acts no more."""
    clock = VirtualClock(T0)
    dispatcher = Dispatcher(policy())
    replies = SmsReplies(db.sessions, TableAlertCommands(db.sessions, dispatcher, clock),
                         OutboxOnly(db.sessions, dispatcher, clock), clock.now)
    with voice("tencent") as v:
        call_id = v.provider.call(WANG, SOS, "n-1")
        taken: list[CallResult] = []

        def on_results(results: list[CallResult]) -> bool:
            taken.extend(results)
            return True

        hubs = []
        for _ in range(2):
            app = FastAPI()
            app.include_router(voice_webhooks_router(v.provider, on_results, TOKEN, deliveries=replies))
            hubs.append(TestClient(app))
        for hub in hubs:
            response = hub.post(v.path, content=v.push("key_1", call_id, WANG))
            assert (response.status_code, response.json()) == (200, v.ok_answer())
    assert [(r.call_id, r.key_pressed) for r in taken] == [(call_id, "1")]


def test_recent_pushes_forget_the_oldest_beyond_their_size() -> None:
    pushes = RecentPushes(size=2)
    assert all(pushes.first_delivery("aliyun-voice", p) for p in ("a", "b", "c"))
    assert not pushes.first_delivery("aliyun-voice", "c")
    assert pushes.first_delivery("aliyun-voice", "a")  # the oldest was let go


def test_aliyun_query_answers_where_no_push_came() -> None:
    with voice("aliyun") as v:
        call_id = v.provider.call(WANG, SOS, "n-1")
        assert v.provider.query_call(call_id, placed_at=1_764_979_200.0).state is CallState.PLACED  # still connecting
        v.server.call_states[call_id] = "200003"
        result = v.provider.query_call(call_id, placed_at=1_764_979_200.0)
        assert (result.state, result.provider_status) == (CallState.NOT_ANSWERED, "200003 用户未接听")
        with pytest.raises(ValueError, match="time the call was placed"):
            v.provider.query_call(call_id)
    # The server answers only for the product of the API that placed the call (IvrCall here).
    with voice("aliyun", codes={"voice_alert": "TTS_300001"}) as v:
        call_id = v.provider.call(WANG, SOS, "n-1")
        v.server.call_states[call_id] = "200000"
        assert v.provider.query_call(call_id, placed_at=1_764_979_200.0).state is CallState.ANSWERED


def test_tencent_has_no_lookup_and_says_placed() -> None:
    with voice("tencent") as v:
        assert v.provider.query_call("x", placed_at=1.0).state is CallState.PLACED


# --- templates, configuration, production -------------------------------------------------------


def test_the_voice_message_says_who_what_where_and_the_code() -> None:
    resident = Resident("r-1", "李奶奶", "g-01", "Asia/Harbin", Point(45.75, 126.64), address="宣信街12号3单元501")
    alert = Alert("a-1", "A7K2", AlertKind.FALL, Severity.CRITICAL, AlertState.OPEN, "r-1", "cat-1", None,
                  opened_at=1e9, triggered_at=1e9, reason="")
    zh, en = voice_message(alert, resident, Lang.ZH), voice_message(alert, resident, Lang.EN)
    assert zh.body == "平安紧急通知:李奶奶疑似跌倒,地址宣信街12号3单元501,警报码A7K2。您前往处理请按1。"
    assert en.body == "Ping'an emergency: 李奶奶, may have fallen, at 宣信街12号3单元501, alert code A7K2. Press 1 if you are going."
    assert zh.body == render(zh.template, zh.params, "zh") and zh.template == "voice_alert"


def test_docs_list_the_voice_templates_as_filed() -> None:
    section = DOCS.read_text(encoding="utf-8").split("## Voice calls", 1)[1]
    for t in VOICE_CATALOGUE.values():
        assert f"`{t.id}`" in section and aliyun_form(t.zh) in section and tencent_form(t, t.zh) in section, t.id
        assert aliyun_form(t.en) in section, t.id


def test_the_factory_builds_each_provider_with_the_sms_credentials_as_fallback(tmp_path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("escalation: {critical: [{notify: [operator]}], high: [{notify: [operator]}], low: [{notify: [operator]}]}\n")
    assert build_voice_provider(load_config(path, {})) is None
    assert isinstance(build_voice_provider(load_config(path, {"PINGAN_VOICE__PROVIDER": "console"})), ConsoleVoice)
    aliyun = load_config(path, {"PINGAN_VOICE__PROVIDER": "aliyun", "PINGAN_SMS__ALIYUN__ACCESS_KEY_ID": "LTAI-x",
                                "PINGAN_SMS__ALIYUN__ACCESS_KEY_SECRET": "s", "PINGAN_VOICE__ALIYUN__CALLED_SHOW_NUMBER": "'057188880000'"})
    assert isinstance(build_voice_provider(aliyun), AliyunVoiceProvider)
    tencent = load_config(path, {"PINGAN_VOICE__PROVIDER": "tencent", "PINGAN_VOICE__TENCENT__SECRET_ID": "AKID",
                                 "PINGAN_VOICE__TENCENT__SECRET_KEY": "k", "PINGAN_VOICE__TENCENT__SDK_APP_ID": "1400006666"})
    assert isinstance(build_voice_provider(tencent), TencentVoiceProvider)
    assert build_voice_provider(aliyun).called_show_number == "057188880000"  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="called_show_number"):
        build_voice_provider(load_config(path, {"PINGAN_VOICE__PROVIDER": "aliyun"}))
    with pytest.raises(ConfigError, match=r"voice\.aliyun\.called_show_number: .*in quotes"):
        load_config(path, {"PINGAN_VOICE__ALIYUN__CALLED_SHOW_NUMBER": "057123456701"})  # octal to YAML


def test_voice_secrets_are_refused_in_the_file_and_unknown_templates_named(tmp_path) -> None:
    path = tmp_path / "config.yaml"
    base = "escalation: {critical: [{notify: [operator]}], high: [{notify: [operator]}], low: [{notify: [operator]}]}\n"
    path.write_text(base + "voice:\n  aliyun: {access_key_secret: oops}\n")
    with pytest.raises(ConfigError, match=r"config.yaml:3 voice.aliyun.access_key_secret: .*PINGAN_VOICE__ALIYUN__ACCESS_KEY_SECRET"):
        load_config(path, {})
    path.write_text(base + "voice:\n  tencent: {templates: {voice_sos: '1'}}\n")
    with pytest.raises(ConfigError, match="unknown voice template ids voice_sos"):
        load_config(path, {})


def test_production_refuses_a_voice_provider_that_cannot_call(tmp_path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("escalation: {critical: [{notify: [operator]}], high: [{notify: [operator]}], low: [{notify: [operator]}]}\n")
    config = load_config(path, {"PINGAN_VOICE__PROVIDER": "aliyun"})
    assert {r.key for r in voice_refusals(config)} == {
        "voice.aliyun.access_key_secret", "voice.aliyun.called_show_number", "voice.aliyun.templates"}
    ready = load_config(path, {"PINGAN_VOICE__PROVIDER": "aliyun", "PINGAN_VOICE__ALIYUN__TEMPLATES__VOICE_ALERT": "TTS_1",
                               "PINGAN_SMS__ALIYUN__ACCESS_KEY_SECRET": "shared",  # the SMS account's secret serves
                               "PINGAN_VOICE__ALIYUN__CALLED_SHOW_NUMBER": "'057188880000'"})
    assert voice_refusals(ready) == []
    tencent = load_config(path, {"PINGAN_VOICE__PROVIDER": "tencent"})
    assert {r.key for r in voice_refusals(tencent)} == {
        "voice.tencent.secret_key", "voice.tencent.sdk_app_id", "voice.tencent.templates"}
    console = load_config(path, {"PINGAN_VOICE__PROVIDER": "console"})
    assert [r.key for r in voice_refusals(console)] == ["voice.provider"]
    assert voice_refusals(load_config(path, {})) == []
