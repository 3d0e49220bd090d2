"""The voice port: a text-to-speech call that says an alert, and what became of the call.

The fallback channel of a critical step (docs/DISPATCH.md): when nobody acknowledged a text in
`voice.after`, the same people are called. A call is a template of the catalogue
(alerts/templates.py) like a text: domestic providers get the approved TTS template code and its
parameters (Aliyun Dyvms `SingleCallByTts`/`IvrCall`, Tencent VMS `SendTtsVoice`); the console
provider speaks it into the log. Call results (answered, not answered, busy, failed, a key pressed)
come back as pushes or a status query and feed escalation like SMS receipts do: key "1" is an
acknowledgement by that number, like the SMS reply "1".

Implementations: `console` (here), `aliyun` and `tencent` (their own modules, imported by
`build_voice_provider` only when configured). Results come in through
dashboards/routers/voice_webhooks.py; docs/DISPATCH.md "Voice calls".
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol
from uuid import uuid4

from hub.dispatch.providers.base import ProviderError, TemplateMessage

if TYPE_CHECKING:
    from hub.config import Config

log = logging.getLogger("pingan.voice")


class CallState(StrEnum):
    PLACED = "placed"  # the provider accepted the call request
    ANSWERED = "answered"  # the callee picked up and heard the message
    NOT_ANSWERED = "not_answered"  # rang out, or was rejected
    BUSY = "busy"
    FAILED = "failed"  # could not be placed (bad number, no balance, ...)


@dataclass(frozen=True, slots=True)
class CallResult:
    call_id: str  # the provider's id (Aliyun CallId, Tencent CallId)
    state: CallState
    provider_status: str  # the provider's own word, kept for the log
    key_pressed: str | None = None  # a DTMF key the callee pressed ("1": acknowledge)
    push_id: str | None = None  # identifies a repeated push (the same when the provider retries)


class VoiceProvider(Protocol):
    name: str

    def call(self, to: str, message: TemplateMessage, reference: str) -> str:
        """Place a TTS call to an E.164 number; returns the provider's call id.
        `reference` is ours (the outbox row), echoed back where the provider supports it.
        Raises `ProviderError` (recoverable or not) like an SMS send."""
        ...

    def parse_call_push(self, body: bytes) -> list[CallResult]:
        """Call results (and key presses) in a pushed body; ValueError when it is not one."""
        ...

    def push_answer(self, ok: bool) -> dict[str, object]:
        """The JSON the provider expects back from the push webhook."""
        ...

    def query_call(self, call_id: str, placed_at: float | None = None) -> CallResult:
        """Ask the provider for a call no push came for (`placed_at`, epoch seconds: Aliyun
        looks calls up by day). A call still going or unknown is `PLACED`."""
        ...


class ConsoleVoice:
    """Says the call in the log (demo and tests): every call is placed, nothing more happens
    until a test feeds a result through `parse_call_push`."""

    name = "console"

    def call(self, to: str, message: TemplateMessage, reference: str) -> str:
        if not to:
            raise ProviderError(False, "no_number", "no number to call")
        call_id = f"VC{uuid4().hex[:16]}"
        log.warning("VOICE CALL to %s: %s %s (%s)", to, message.template, dict(message.params), call_id)
        return call_id

    def parse_call_push(self, body: bytes) -> list[CallResult]:
        raise ValueError("the console voice provider takes no pushes")

    def push_answer(self, ok: bool) -> dict[str, object]:
        return {"ok": ok}

    def query_call(self, call_id: str, placed_at: float | None = None) -> CallResult:
        return CallResult(call_id, CallState.PLACED, "console")


def push_id(*parts: str) -> str:
    """A push's identity from what it says (neither provider numbers its pushes): the same
    when the provider repeats it, different for another result of the same call."""
    return hashlib.blake2b("|".join(parts).encode(), digest_size=16).hexdigest()


def template_code(templates: Mapping[str, str], message: TemplateMessage, section: str) -> str:
    """The approved code of a voice template (`<id>_en` for English when filed); a missing one is
    recoverable like an SMS template's: the call waits until the office configures it."""
    if message.language == "en" and f"{message.template}_en" in templates:
        return templates[f"{message.template}_en"]
    code = templates.get(message.template)
    if code is None:
        raise ProviderError(True, "no_template_code", f"{section}.templates.{message.template} is not set")
    return code


def build_voice_provider(config: Config) -> VoiceProvider | None:
    """The configured voice provider (`voice.provider`), None when calls are off. Credentials
    left null in `voice.<provider>` are the SMS provider's of the same cloud (one account)."""
    voice = config.voice
    if voice.provider is None:
        return None
    if voice.provider == "console":
        return ConsoleVoice()
    if voice.provider == "aliyun":
        from hub.dispatch.providers.aliyun_voice import AliyunVoiceProvider

        ali = voice.aliyun
        secret = ali.access_key_secret or config.sms.aliyun.access_key_secret
        key_id = ali.access_key_id or config.sms.aliyun.access_key_id
        if not key_id or secret is None or not ali.called_show_number:
            raise ValueError("voice.aliyun needs access_key_id, access_key_secret and called_show_number")
        return AliyunVoiceProvider(key_id, secret.get_secret_value(), ali.called_show_number, ali.templates,
                                   ali.endpoint, play_times=voice.play_times)
    from hub.dispatch.providers.tencent_voice import TencentVoiceProvider

    ten = voice.tencent
    secret = ten.secret_key or config.sms.tencent.secret_key
    secret_id = ten.secret_id or config.sms.tencent.secret_id
    if not secret_id or secret is None or not ten.sdk_app_id:
        raise ValueError("voice.tencent needs secret_id, secret_key and sdk_app_id")
    return TencentVoiceProvider(secret_id, secret.get_secret_value(), ten.sdk_app_id, ten.templates, ten.endpoint,
                                ten.region, play_times=voice.play_times)
