"""Tencent Cloud voice calls (VMS 2020-09-02) through the official SDK, `tencentcloud-sdk-python-vms`.

- The call: `SendTtsVoice` with TemplateId (`voice.tencent.templates.voice_alert`),
  TemplateParamSet (the catalogue's order: Tencent numbers them `{1}`, `{2}`, ...), CalledNumber
  in E.164, VoiceSdkAppid, PlayTimes and SessionContext = our reference; the CallId is our call id.
- Results: Tencent's event callback (one URL for all events, one JSON object each):
  `voiceprompt_callback` (语音通知状态: `result` 0 answered, 1 not answered, 2 call failed),
  `voicekey_callback` (按键: `keypress`), `voice_failure_callback` (送达失败: `failure_code`,
  `failure_reason`). VMS has no look-up by CallId, so `query_call` answers "placed": the
  callback is the one source.
- Errors: mapped like the SMS provider's (tencent.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.vms.v20200902 import models as vms_models
from tencentcloud.vms.v20200902.vms_client import VmsClient

from alerts.templates import ordered_params
from hub.dispatch.providers.base import ProviderError, TemplateMessage
from hub.dispatch.providers.tencent import client_profile, is_transient
from hub.dispatch.providers.voice import CallResult, CallState, push_id, template_code

log = logging.getLogger("pingan.voice.tencent")

DEFAULT_ENDPOINT = "https://vms.tencentcloudapi.com"
PROMPT_STATES = {"0": CallState.ANSWERED, "1": CallState.NOT_ANSWERED, "2": CallState.FAILED}
PERMANENT_CODES = frozenset({"InvalidParameterValue.CalledNumberVerifyFail"})


class TencentVoiceProvider:
    name = "tencent"

    def __init__(
        self,
        secret_id: str,
        secret_key: str,
        sdk_app_id: str,
        templates: Mapping[str, str | None],
        endpoint: str | None = None,
        region: str = "ap-guangzhou",
        play_times: int = 2,
        timeout_s: float = 15.0,
    ) -> None:
        profile = client_profile(endpoint or DEFAULT_ENDPOINT, "voice.tencent.endpoint", timeout_s)
        self.client = VmsClient(credential.Credential(secret_id, secret_key), region, profile)
        self.sdk_app_id = sdk_app_id
        self.templates = {k: v for k, v in templates.items() if v}
        self.play_times = play_times

    def call(self, to: str, message: TemplateMessage, reference: str) -> str:
        request = vms_models.SendTtsVoiceRequest()
        request.TemplateId = template_code(self.templates, message, "voice.tencent")
        request.TemplateParamSet = ordered_params(message.template, message.params)
        request.CalledNumber = to
        request.VoiceSdkAppid = self.sdk_app_id
        request.PlayTimes = self.play_times
        request.SessionContext = reference
        try:
            answer = self.client.SendTtsVoice(request)
        except TencentCloudSDKException as exc:
            raise _classify(str(exc.code or ""), str(exc.message or "")) from exc
        except Exception as exc:  # network errors the SDK did not wrap
            raise ProviderError(True, "connection", f"{type(exc).__name__}: {exc}") from exc
        if answer.SendStatus is None or not answer.SendStatus.CallId:
            raise ProviderError(True, "no_call_id", "SendTtsVoice answered without a CallId")
        return str(answer.SendStatus.CallId)

    def parse_call_push(self, body: bytes) -> list[CallResult]:
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"Tencent voice callback is not JSON: {exc}") from None
        items = data if isinstance(data, list) else [data]
        if not items or not all(isinstance(item, dict) for item in items):
            raise ValueError("a Tencent voice callback is a JSON object (or an array of them)")
        return [_event(item) for item in items]

    def push_answer(self, ok: bool) -> dict[str, object]:
        return {"result": 0, "errmsg": "OK"} if ok else {"result": 1, "errmsg": "retry"}

    def query_call(self, call_id: str, placed_at: float | None = None) -> CallResult:
        return CallResult(call_id, CallState.PLACED, "unknown")


def _event(item: dict[str, Any]) -> CallResult:
    """One callback object: exactly one of the three events."""
    if isinstance(prompt := item.get("voiceprompt_callback"), dict):
        call_id, result = _need(prompt, "callid"), str(prompt.get("result", ""))
        if result not in PROMPT_STATES:
            raise ValueError(f"voiceprompt_callback result {result!r} is not 0, 1 or 2")
        return CallResult(call_id, PROMPT_STATES[result], f"result={result}", None, push_id(call_id, "end", result))
    if isinstance(key := item.get("voicekey_callback"), dict):
        call_id, pressed = _need(key, "callid"), _need(key, "keypress")
        return CallResult(call_id, CallState.ANSWERED, "keypress", pressed[:1], push_id(call_id, "key", pressed))
    if isinstance(failure := item.get("voice_failure_callback"), dict):
        call_id, reason = _need(failure, "callid"), str(failure.get("failure_reason") or "")
        code = str(failure.get("failure_code", ""))
        state = CallState.BUSY if "忙" in reason else CallState.FAILED
        return CallResult(call_id, state, f"failure {code} {reason}".strip(), None, push_id(call_id, "fail", code))
    raise ValueError("a Tencent voice callback needs voiceprompt_callback, voicekey_callback or voice_failure_callback")


def _need(event: dict[str, Any], key: str) -> str:
    value = str(event.get(key) or "")
    if not value:
        raise ValueError(f"the Tencent voice callback has no {key}")
    return value


def _classify(code: str, message: str) -> ProviderError:
    if code in PERMANENT_CODES:
        return ProviderError(False, code, message)
    if not is_transient(code):
        log.error("voice.tencent.refused code=%s: fix the configuration or the template; calls wait: %s", code, message)
    return ProviderError(True, code or "unknown", message)
