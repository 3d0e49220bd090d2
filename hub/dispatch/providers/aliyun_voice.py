"""Aliyun voice calls (Dyvms 2017-05-25) through the official SDK, `alibabacloud-dyvmsapi20170525`.

- The call: `IvrCall` when the office filed the `voice_acknowledged` template (press 1 to
  acknowledge: StartCode = the `voice_alert` TTS code, MenuKeyMap key 1 = `voice_acknowledged`),
  else `SingleCallByTts` (TtsCode, TtsParam JSON: the message only, no key). CalledShowNumber is
  the bought number (`voice.aliyun.called_show_number`); CalledNumber a mainland number without
  `+86` (Dyvms calls only mainland numbers: others are refused here, permanently); OutId our
  reference when it fits Aliyun's 15 bytes. The CallId is our call id.
- Results: the VoiceReport push (one record per finished call: `status_code`, `duration`,
  `dtmf`) and the VoiceCallReport push (states during the call; `300000` carries a key press,
  `dtmf`); both are JSON arrays, accepted on the same webhook. Where none came,
  `QueryCallDetailByCallId` (needs the day of the call, and the product id of the call's API).
- Errors: mapped like the SMS provider's (aliyun.py): throttling, 5xx, timeouts recoverable; a
  refused number permanent; configuration faults recoverable and logged as errors.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from alibabacloud_dyvmsapi20170525 import models as vms_models
from alibabacloud_dyvmsapi20170525.client import Client

from hub.dispatch.providers.aliyun import aliyun_number, call_sdk, json_array, runtime_options, sdk_config
from hub.dispatch.providers.base import ProviderError, TemplateMessage
from hub.dispatch.providers.voice import CallResult, CallState, push_id, template_code

log = logging.getLogger("pingan.voice.aliyun")

DEFAULT_ENDPOINT = "https://dyvmsapi.aliyuncs.com"
#: QueryCallDetailByCallId's ProdId: which API placed the call.
PROD_TTS = 11010000138001  # SingleCallByTts
PROD_IVR = 11000000300005  # IvrCall
KEY_PRESSED = "300000"  # VoiceCallReport: the callee pressed a key (`dtmf`)
#: Aliyun's call status codes (运营商回执状态码) in our states; not listed: failed.
STATES = {
    "200000": CallState.ANSWERED,  # heard the whole message
    "200001": CallState.ANSWERED,  # hung up before the end: heard part of it
    "200008": CallState.ANSWERED,  # IVR: picked up, no key before the timeout
    "200002": CallState.BUSY,
    "200003": CallState.NOT_ANSWERED,  # rang, not picked up
    "200005": CallState.NOT_ANSWERED,  # could not be reached, or rejected
    "200007": CallState.NOT_ANSWERED,  # out of the service area
    "200010": CallState.NOT_ANSWERED,  # switched off
}
#: VoiceCallReport states during a call (ringing, connecting): not a result yet.
PROGRESS = frozenset({"200101", "200102", "200103"})
PERMANENT_CODES = frozenset({"isv.MOBILE_NUMBER_ILLEGAL", "isv.BLACK_KEY_CONTROL_LIMIT", "isv.DENY_IP_RANGE"})
MAX_OUT_ID = 15  # bytes, Aliyun's limit


class AliyunVoiceProvider:
    name = "aliyun"

    def __init__(
        self,
        access_key_id: str,
        access_key_secret: str,
        called_show_number: str,
        templates: Mapping[str, str | None],
        endpoint: str | None = None,
        play_times: int = 2,
        key_timeout_s: float = 10.0,
        timeout_s: float = 15.0,
    ) -> None:
        config = sdk_config(access_key_id, access_key_secret, endpoint or DEFAULT_ENDPOINT, "voice.aliyun.endpoint")
        self.client = Client(config)
        self.called_show_number = called_show_number
        self.templates = {k: v for k, v in templates.items() if v}
        self.play_times = play_times
        self.key_timeout_ms = int(key_timeout_s * 1000)
        self.runtime = runtime_options(timeout_s)

    @property
    def interactive(self) -> bool:
        """Press 1 to acknowledge: only with an approved template to answer the key."""
        return "voice_acknowledged" in self.templates

    def call(self, to: str, message: TemplateMessage, reference: str) -> str:
        if not to.startswith("+86"):
            raise ProviderError(False, "not_mainland", f"Aliyun Dyvms calls mainland numbers only, not {to}")
        code = template_code(self.templates, message, "voice.aliyun")
        params = json.dumps(dict(message.params), ensure_ascii=False)
        out_id = reference if 0 < len(reference.encode()) <= MAX_OUT_ID else None
        if self.interactive:
            return self._ivr_call(aliyun_number(to), code, params, message, out_id)
        request = vms_models.SingleCallByTtsRequest(
            called_show_number=self.called_show_number, called_number=aliyun_number(to), tts_code=code,
            tts_param=params, play_times=self.play_times, out_id=out_id,
        )
        return _call_id(call_sdk(lambda: self.client.single_call_by_tts_with_options(request, self.runtime), _refusal))

    def _ivr_call(self, number: str, code: str, params: str, message: TemplateMessage, out_id: str | None) -> str:
        answer = TemplateMessage("voice_acknowledged", {"code": message.params.get("code", "")}, message.language)
        key_1 = vms_models.IvrCallRequestMenuKeyMap(
            key="1", code=template_code(self.templates, answer, "voice.aliyun"),
            tts_params=json.dumps(dict(answer.params), ensure_ascii=False),
        )
        request = vms_models.IvrCallRequest(
            called_show_number=self.called_show_number, called_number=number, start_code=code,
            start_tts_params=params, menu_key_map=[key_1], play_times=self.play_times,
            timeout=self.key_timeout_ms, out_id=out_id,
        )
        return _call_id(call_sdk(lambda: self.client.ivr_call_with_options(request, self.runtime), _refusal))

    # --- results --------------------------------------------------------------------------

    def parse_call_push(self, body: bytes) -> list[CallResult]:
        """VoiceReport and VoiceCallReport items; states during a call are left out."""
        results = []
        for item in json_array(body, "VoiceReport"):
            call_id = str(item.get("call_id") or "")
            status = str(item.get("status_code") or "")
            if not call_id or not status:
                raise ValueError("a VoiceReport item needs call_id and status_code")
            key = str(item.get("dtmf") or "")[:1] or None
            if status == KEY_PRESSED:
                results.append(CallResult(call_id, CallState.ANSWERED, status, key, push_id(call_id, "key", key or "")))
            elif status not in PROGRESS:
                word = str(item.get("status_msg") or item.get("state_desc") or "")
                results.append(call_result(call_id, status, word, key))
        return results

    def push_answer(self, ok: bool) -> dict[str, object]:
        return {"code": 0, "msg": "接收成功"} if ok else {"code": 1, "msg": "稍后重试"}

    def query_call(self, call_id: str, placed_at: float | None = None) -> CallResult:
        """QueryCallDetailByCallId: the call's state (no key: only pushes carry it)."""
        if placed_at is None:
            raise ValueError("QueryCallDetailByCallId needs the time the call was placed")
        request = vms_models.QueryCallDetailByCallIdRequest(
            call_id=call_id, prod_id=PROD_IVR if self.interactive else PROD_TTS,
            query_date=int((placed_at - 60) * 1000),  # it looks 24 h ahead of this
        )
        answer = call_sdk(lambda: self.client.query_call_detail_by_call_id_with_options(request, self.runtime), _refusal)
        body = answer.body
        if body is None or body.code != "OK":
            raise _refusal(getattr(body, "code", None) or "no_code", getattr(body, "message", "") or "")
        detail = json.loads(body.data) if body.data else {}
        status = str(detail.get("state") or "")
        if not status or status in PROGRESS:
            return CallResult(call_id, CallState.PLACED, status or "unknown")
        return call_result(call_id, status, str(detail.get("stateDesc") or ""), None)


def call_result(call_id: str, status: str, word: str, key: str | None) -> CallResult:
    state = STATES.get(status, CallState.FAILED)
    return CallResult(call_id, state, f"{status} {word}".strip(), key, push_id(call_id, "end", status, key or ""))


def _call_id(answer: Any) -> str:
    body = answer.body
    if body is None or body.code != "OK" or not body.call_id:
        raise _refusal(getattr(body, "code", None) or "no_code", getattr(body, "message", "") or "")
    return str(body.call_id)


def _refusal(code: str, message: str) -> ProviderError:
    if code in PERMANENT_CODES:
        return ProviderError(False, code, message)
    if not code.startswith(("isv.BUSINESS_LIMIT_CONTROL", "Throttling", "isp.")):
        log.error("voice.aliyun.refused code=%s: fix the configuration or the template; calls wait: %s", code, message)
    return ProviderError(True, code, message)
