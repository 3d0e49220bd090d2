"""Aliyun Dyvms and Tencent VMS behind one small test harness: the local server (the SMS test
servers, which speak the voice APIs too), the provider through its official SDK pointed at it,
the pushes each provider sends, and the webhook router in an app, so one test runs for both."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from support import aliyun_server, tencent_server
from support.aliyun_server import AliyunTestServer
from support.tencent_server import TencentTestServer

from alerts.templates import VOICE_CATALOGUE
from dashboards.routers.voice_webhooks import voice_webhooks_router
from hub.dispatch.providers.aliyun_voice import AliyunVoiceProvider
from hub.dispatch.providers.base import TemplateMessage
from hub.dispatch.providers.tencent_voice import TencentVoiceProvider
from hub.dispatch.providers.voice import CallResult

TOKEN = "push-token-0123456789abcdef"
ALIYUN_CODES = {"voice_alert": "TTS_300001", "voice_acknowledged": "TTS_300002"}
TENCENT_CODES = {"voice_alert": "1900001", "voice_acknowledged": "1900002"}
SOS = TemplateMessage(
    "voice_alert", {"name": "李奶奶", "event": "按了SOS求救", "address": "宣信街12号3单元501", "code": "A7K2"}
)
#: What each fault looks like at each provider, and the code the provider reports it with.
FAULTS = {
    "aliyun": {
        "throttled": (aliyun_server.Behaviour(code="isv.BUSINESS_LIMIT_CONTROL"), "isv.BUSINESS_LIMIT_CONTROL"),
        "5xx": (aliyun_server.Behaviour(status=503), "ServiceUnavailable"),
        "timeout": (aliyun_server.Behaviour(delay_s=3.0), "timeout"),
        "template_refused": (aliyun_server.Behaviour(code="isv.TTS_TEMPLATE_ILLEGAL"), "isv.TTS_TEMPLATE_ILLEGAL"),
    },
    "tencent": {
        "throttled": (tencent_server.Behaviour(error="LimitExceeded.DeliveryFrequencyLimit"), "LimitExceeded.DeliveryFrequencyLimit"),
        "5xx": (tencent_server.Behaviour(status=502), "ServerNetworkError"),
        "timeout": (tencent_server.Behaviour(delay_s=3.0), "ClientNetworkError"),
        "template_refused": (tencent_server.Behaviour(error="FailedOperation.TemplateIncorrectOrUnapproved"),
                             "FailedOperation.TemplateIncorrectOrUnapproved"),
    },
}


@dataclass
class Voice:
    name: str
    server: Any
    provider: AliyunVoiceProvider | TencentVoiceProvider
    taken: list[CallResult] = field(default_factory=list)
    accept: bool = True  # what the hub's on_results answers

    @property
    def path(self) -> str:
        return f"/webhooks/aliyun/voice-report/{TOKEN}" if self.name == "aliyun" else f"/webhooks/tencent/voice-status/{TOKEN}"

    def on_results(self, results: list[CallResult]) -> bool:
        if self.accept:
            self.taken.extend(results)
        return self.accept

    def client(self) -> TestClient:
        app = FastAPI()
        app.include_router(voice_webhooks_router(self.provider, self.on_results, TOKEN))
        return TestClient(app)

    def fail_next(self, fault: str) -> str:
        behaviour, code = FAULTS[self.name][fault]
        self.server.script.append(behaviour)
        return code

    def ok_answer(self) -> dict[str, object]:
        return {"code": 0, "msg": "接收成功"} if self.name == "aliyun" else {"result": 0, "errmsg": "OK"}

    def push(self, event: str, call_id: str, e164: str) -> bytes:
        """The push saying `event` (answered, not_answered, busy, failed, key_1) about a call."""
        mobile = e164.removeprefix("+86")
        if self.name == "aliyun":
            status = {"answered": "200000", "not_answered": "200003", "busy": "200002", "failed": "200004"}
            if event == "key_1":
                return json.dumps([aliyun_server.voice_call_report(call_id, "300000", dtmf="1")]).encode()
            return json.dumps([aliyun_server.voice_report(call_id, status[event], mobile)], ensure_ascii=False).encode()
        if event == "key_1":
            return json.dumps(tencent_server.voice_key_callback(call_id, mobile, "1")).encode()
        if event == "busy":
            return json.dumps(tencent_server.voice_failure_callback(call_id, mobile, 5, "用户忙"), ensure_ascii=False).encode()
        result = {"answered": "0", "not_answered": "1", "failed": "2"}[event]
        return json.dumps(tencent_server.voice_prompt_callback(call_id, mobile, result)).encode()


@contextmanager
def voice(name: str, codes: dict[str, str] | None = None, timeout_s: float = 1.0) -> Iterator[Voice]:
    """A provider with the given approved template codes (all of them when None)."""
    if name == "aliyun":
        chosen = ALIYUN_CODES if codes is None else codes
        variables = {ALIYUN_CODES[t.id]: t.params for t in VOICE_CATALOGUE.values()}
        with AliyunTestServer(voice_templates=variables) as server:
            provider: AliyunVoiceProvider | TencentVoiceProvider = AliyunVoiceProvider(
                server.access_key_id, server.access_key_secret, server.show_numbers[0], chosen, server.base_url,
                timeout_s=timeout_s,
            )
            yield Voice(name, server, provider)
    else:
        chosen = TENCENT_CODES if codes is None else codes
        counts = {TENCENT_CODES[t.id]: len(t.params) for t in VOICE_CATALOGUE.values()}
        with TencentTestServer(voice_templates=counts) as server:
            provider = TencentVoiceProvider(
                server.secret_id, server.secret_key, server.voice_sdk_app_id, chosen, server.base_url, timeout_s=timeout_s,
            )
            yield Voice(name, server, provider)
