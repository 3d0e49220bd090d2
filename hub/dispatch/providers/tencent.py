"""Tencent Cloud SMS (API 2021-01-11) through the official SDK, `tencentcloud-sdk-python-sms`.

- SendSms with TemplateId (`sms.tencent.templates.<id>`, `<id>_en` for an English version) and
  TemplateParamSet (the parameters in the catalogue's order: Tencent numbers them `{1}`, `{2}`,
  ...); numbers in E.164; the SerialNo is our sid.
- Receipts from the status callback (a JSON array), replies from the reply callback (a JSON
  object per reply; it carries no message id, so the id is a hash of number, time and text,
  which a repeated callback repeats).
- `endpoint` (a URL) points the SDK elsewhere; its scheme sets the protocol (tests use http).

Error mapping: `LimitExceeded.*`, `RequestLimitExceeded`, `InternalError.*`, 5xx, timeouts
and network errors are recoverable; a refused number (`InvalidParameterValue.IncorrectPhoneNumber`,
blacklisted) is permanent; a refused template or sign name, bad parameters, credentials or an
empty SMS package are recoverable and logged as errors: the operator fixes them (see aliyun.py).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models as sms_models
from tencentcloud.sms.v20210111.sms_client import SmsClient

from alerts.templates import ordered_params
from hub.dispatch.providers.base import (
    DeliveryState,
    InboundReply,
    NoFormWebhooks,
    ProviderError,
    SendResult,
    StatusUpdate,
    TemplateMessage,
)

log = logging.getLogger("pingan.sms.tencent")

DEFAULT_ENDPOINT = "https://sms.tencentcloudapi.com"
PERMANENT_CODES = frozenset(
    {
        "InvalidParameterValue.IncorrectPhoneNumber",
        "FailedOperation.PhoneNumberInBlacklist",
        "FailedOperation.PhoneNumberOnBlacklist",
        "UnsupportedOperation.UnsupportedRegion",
    }
)


class TencentSmsProvider(NoFormWebhooks):
    name = "tencent"

    def __init__(
        self,
        secret_id: str,
        secret_key: str,
        sdk_app_id: str,
        sign_name: str,
        templates: Mapping[str, str | None],
        endpoint: str | None = None,
        region: str = "ap-guangzhou",
        timeout_s: float = 15.0,
    ) -> None:
        profile = client_profile(endpoint or DEFAULT_ENDPOINT, "sms.tencent.endpoint", timeout_s)
        self.client = SmsClient(credential.Credential(secret_id, secret_key), region, profile)
        self.sdk_app_id = sdk_app_id
        self.sign_name = sign_name
        self.templates = {k: v for k, v in templates.items() if v}

    def send(
        self,
        to: str,
        body: str,
        validity_s: int,
        status_callback: str | None,
        template: TemplateMessage | None = None,
    ) -> SendResult:
        # No per-message validity at Tencent either: the outbox's expiry keeps texts from going out late.
        if template is None:
            raise ProviderError(False, "no_template", "Tencent sends approved templates only; this row has none")
        request = sms_models.SendSmsRequest()
        request.PhoneNumberSet = [to]
        request.SmsSdkAppId = self.sdk_app_id
        request.SignName = self.sign_name
        request.TemplateId = self.template_id(template)
        request.TemplateParamSet = ordered_params(template.template, template.params)
        try:
            answer = self.client.SendSms(request)
        except TencentCloudSDKException as exc:
            raise _classify(str(exc.code or ""), str(exc.message or "")) from exc
        except Exception as exc:  # network errors the SDK did not wrap
            raise ProviderError(True, "connection", f"{type(exc).__name__}: {exc}") from exc
        statuses = answer.SendStatusSet or []
        if not statuses:
            raise ProviderError(True, "no_status", "SendSms answered without a SendStatusSet")
        status = statuses[0]
        if status.Code != "Ok":
            raise _classify(str(status.Code), str(status.Message or ""))
        return SendResult(str(status.SerialNo), accepted=True, status="sent")

    def template_id(self, template: TemplateMessage) -> str:
        if template.language == "en" and f"{template.template}_en" in self.templates:
            return str(self.templates[f"{template.template}_en"])
        code = self.templates.get(template.template)
        if code is None:
            raise ProviderError(True, "no_template_code", f"sms.tencent.templates.{template.template} is not set")
        return code

    def query_status(self, sid: str, phone: str = "", sent_at: float | None = None) -> StatusUpdate:
        # Tencent's pull APIs list receipts by number and time, not by SerialNo; the callback is
        # the one source, so this answers what the outbox knows.
        return StatusUpdate(sid, DeliveryState.SENT, "unknown")

    # --- pushes ---------------------------------------------------------------------------

    def parse_status_push(self, body: bytes) -> list[StatusUpdate]:
        """[{"sid", "mobile", "nationcode", "report_status": SUCCESS|FAIL, "errmsg", ...}]."""
        data = _json(body, "status callback")
        items = data if isinstance(data, list) else [data]
        updates = []
        for item in items:
            if not isinstance(item, dict) or not item.get("sid") or "report_status" not in item:
                raise ValueError("a Tencent status callback item needs sid and report_status")
            ok = item["report_status"] == "SUCCESS"
            errmsg = str(item.get("errmsg") or "")
            state = DeliveryState.DELIVERED if ok else DeliveryState.UNDELIVERED
            updates.append(StatusUpdate(str(item["sid"]), state, errmsg or item["report_status"], None if ok else errmsg))
        return updates

    def parse_reply_push(self, body: bytes) -> list[InboundReply]:
        """{"mobile", "nationcode", "text", "time", "sign", "extend"} (one reply; a list is taken too)."""
        data = _json(body, "reply callback")
        replies = []
        for item in data if isinstance(data, list) else [data]:
            if not isinstance(item, dict) or not item.get("mobile") or "time" not in item:
                raise ValueError("a Tencent reply callback needs mobile and time")
            phone = "+" + str(item.get("nationcode") or "86") + str(item["mobile"])
            text = str(item.get("text") or "")
            # No message id in the callback: number, time and text identify it, and repeat with it.
            sid = hashlib.blake2b(f"{phone}|{item['time']}|{text}".encode(), digest_size=16).hexdigest()
            replies.append(InboundReply(phone, str(item.get("extend") or ""), text, sid))
        return replies

    def push_answer(self, ok: bool) -> dict[str, object]:
        return {"result": 0, "errmsg": "OK"} if ok else {"result": 1, "errmsg": "retry"}


def client_profile(endpoint: str, key: str, timeout_s: float) -> ClientProfile:
    """The SDK's profile for an endpoint URL (`key` names it in the error): host and scheme."""
    url = urlsplit(endpoint)
    if url.scheme not in ("http", "https") or not url.netloc:
        raise ValueError(f"{key} {endpoint!r} is not an http(s) URL")
    http = HttpProfile(protocol=url.scheme, endpoint=url.netloc, reqTimeout=max(1, int(timeout_s)))
    return ClientProfile(httpProfile=http)


def is_transient(code: str) -> bool:
    """Throttling, Tencent's own faults and the network: try again later."""
    return code.startswith(("LimitExceeded", "RequestLimitExceeded", "InternalError", "ServerNetworkError",
                            "ClientNetworkError"))


def _classify(code: str, message: str) -> ProviderError:
    if code in PERMANENT_CODES:
        return ProviderError(False, code, message)
    if is_transient(code):
        return ProviderError(True, code, message)
    log.error("sms.tencent.refused code=%s: fix the configuration or the template; texts wait: %s", code, message)
    return ProviderError(True, code or "unknown", message)


def _json(body: bytes, what: str) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"Tencent {what} is not JSON: {exc}") from None
