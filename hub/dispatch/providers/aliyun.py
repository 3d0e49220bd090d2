"""Aliyun SMS (dysmsapi 2017-05-25) through the official SDK, `alibabacloud-dysmsapi20170525`.

- SendSms with the template's code (`sms.aliyun.templates.<id>`, `<id>_en` for an English
  version when the office filed one) and its parameters as TemplateParam JSON; mainland numbers
  go without `+86` (Aliyun's form), others as `00<country><number>`; the BizId is our sid.
- Receipts come from the SmsReport push; QuerySendDetails answers for a message none came for.
- Replies come from the SmsUp push (a JSON array), identified by `sequence_id`.
- `endpoint` (a URL) points the SDK elsewhere; its scheme sets the protocol (tests use http).

Error mapping (Code in the answer, also with HTTP 200): throttling (`isv.BUSINESS_LIMIT_CONTROL`,
`Throttling.*`), Aliyun's own faults (`isp.*`, HTTP 5xx), timeouts and connection errors are
recoverable; a refused number (`isv.MOBILE_NUMBER_ILLEGAL`, blacklisted, ...) is permanent.
A refused template or sign name (`isv.SMS_TEMPLATE_ILLEGAL`, `isv.SMS_SIGNATURE_ILLEGAL`),
missing parameters or bad credentials are recoverable, like Twilio's 401/403: the operator
fixes the configuration, and failing every queued alert text meanwhile would escalate into
nothing (the texts of open alerts wait and go out once it is fixed; the log says why).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from alibabacloud_dysmsapi20170525 import models as sms_models
from alibabacloud_dysmsapi20170525.client import Client
from alibabacloud_tea_openapi import utils_models as open_api_models
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException
from darabonba.runtime import RuntimeOptions

from hub.dispatch.providers.base import (
    DeliveryState,
    InboundReply,
    NoFormWebhooks,
    ProviderError,
    SendResult,
    StatusUpdate,
    TemplateMessage,
)

log = logging.getLogger("pingan.sms.aliyun")

DEFAULT_ENDPOINT = "https://dysmsapi.aliyuncs.com"
CHINA = ZoneInfo("Asia/Shanghai")  # Aliyun's dates (SendDate, send_time) are Beijing time
PERMANENT_CODES = frozenset(
    {
        "isv.MOBILE_NUMBER_ILLEGAL",
        "isv.BLACK_KEY_CONTROL_LIMIT",
        "isv.MOBILE_COUNT_OVER_LIMIT",
        "isv.DENY_IP_RANGE",
    }
)
#: Refusals the operator fixes (configuration): kept recoverable, logged as errors.
CONFIG_CODES = frozenset(
    {
        "isv.SMS_TEMPLATE_ILLEGAL",
        "isv.SMS_SIGNATURE_ILLEGAL",
        "isv.TEMPLATE_MISSING_PARAMETERS",
        "isv.TEMPLATE_PARAMS_ILLEGAL",
        "isv.INVALID_PARAMETERS",
        "isv.PARAM_LENGTH_LIMIT",
        "isv.AMOUNT_NOT_ENOUGH",
        "isv.OUT_OF_SERVICE",
        "isv.ACCOUNT_NOT_EXISTS",
        "isv.ACCOUNT_ABNORMAL",
        "InvalidAccessKeyId.NotFound",
        "SignatureDoesNotMatch",
        "Forbidden.RAM",
    }
)


class AliyunSmsProvider(NoFormWebhooks):
    name = "aliyun"

    def __init__(
        self,
        access_key_id: str,
        access_key_secret: str,
        sign_name: str,
        templates: Mapping[str, str | None],
        endpoint: str | None = None,
        timeout_s: float = 15.0,
    ) -> None:
        config = sdk_config(access_key_id, access_key_secret, endpoint or DEFAULT_ENDPOINT, "sms.aliyun.endpoint")
        self.client = Client(config)
        self.sign_name = sign_name
        self.templates = {k: v for k, v in templates.items() if v}
        self.runtime = runtime_options(timeout_s)

    # --- sending --------------------------------------------------------------------------

    def send(
        self,
        to: str,
        body: str,
        validity_s: int,
        status_callback: str | None,
        template: TemplateMessage | None = None,
    ) -> SendResult:
        # Aliyun has no per-message validity period: the outbox's own expiry (it does not send
        # late texts except for alerts nobody took) is what keeps an SOS text from arriving late.
        if template is None:
            raise ProviderError(False, "no_template", "Aliyun sends approved templates only; this row has none")
        code = self.template_code(template)
        request = sms_models.SendSmsRequest(
            phone_numbers=aliyun_number(to),
            sign_name=self.sign_name,
            template_code=code,
            template_param=json.dumps(dict(template.params), ensure_ascii=False),
        )
        answer = self._call(lambda: self.client.send_sms_with_options(request, self.runtime))
        if answer.body is None or answer.body.code != "OK":
            raise _refusal(getattr(answer.body, "code", None) or "no_code", getattr(answer.body, "message", "") or "")
        return SendResult(str(answer.body.biz_id), accepted=True, status="sent")

    def template_code(self, template: TemplateMessage) -> str:
        if template.language == "en" and f"{template.template}_en" in self.templates:
            return str(self.templates[f"{template.template}_en"])
        code = self.templates.get(template.template)
        if code is None:
            raise ProviderError(True, "no_template_code", f"sms.aliyun.templates.{template.template} is not set")
        return code

    def query_status(self, sid: str, phone: str = "", sent_at: float | None = None) -> StatusUpdate:
        """QuerySendDetails: needs the number and the day it was sent (Beijing time)."""
        if sent_at is None or not phone:
            raise ValueError("QuerySendDetails needs the number and the time the message was sent")
        day = dt.datetime.fromtimestamp(sent_at, CHINA)
        request = sms_models.QuerySendDetailsRequest(
            phone_number=aliyun_number(phone), biz_id=sid, send_date=day.strftime("%Y%m%d"), page_size=10, current_page=1
        )
        answer = self._call(lambda: self.client.query_send_details_with_options(request, self.runtime))
        body = answer.body
        if body is None or body.code != "OK":
            raise _refusal(getattr(body, "code", None) or "no_code", getattr(body, "message", "") or "")
        details = body.sms_send_detail_dtos.sms_send_detail_dto if body.sms_send_detail_dtos else []
        if not details:
            return StatusUpdate(sid, DeliveryState.SENT, "unknown")
        detail = details[0]
        state = {1: DeliveryState.SENT, 2: DeliveryState.UNDELIVERED, 3: DeliveryState.DELIVERED}.get(
            int(detail.send_status or 1), DeliveryState.SENT
        )
        return StatusUpdate(sid, state, f"send_status={detail.send_status}", detail.err_code or None)

    def _call(self, request: Any) -> Any:
        return call_sdk(request, _refusal)

    # --- pushes ---------------------------------------------------------------------------

    def parse_status_push(self, body: bytes) -> list[StatusUpdate]:
        """SmsReport: [{"biz_id", "phone_number", "success", "err_code", "report_time", ...}]."""
        updates = []
        for item in json_array(body, "SmsReport"):
            biz_id = str(item.get("biz_id") or "")
            if not biz_id or "success" not in item:
                raise ValueError("an SmsReport item needs biz_id and success")
            ok = item["success"] in (True, "true", "True", 1)
            code = str(item.get("err_code") or "") or None
            state = DeliveryState.DELIVERED if ok else DeliveryState.UNDELIVERED
            updates.append(StatusUpdate(biz_id, state, code or "DELIVERED", None if ok else code))
        return updates

    def parse_reply_push(self, body: bytes) -> list[InboundReply]:
        """SmsUp: [{"phone_number", "content", "sequence_id", "dest_code", "send_time", ...}]."""
        replies = []
        for item in json_array(body, "SmsUp"):
            phone = str(item.get("phone_number") or "")
            sequence = str(item.get("sequence_id") or "")
            if not phone or not sequence:
                raise ValueError("an SmsUp item needs phone_number and sequence_id")
            replies.append(InboundReply(e164(phone), str(item.get("dest_code") or ""), str(item.get("content") or ""), sequence))
        return replies

    def push_answer(self, ok: bool) -> dict[str, object]:
        return {"code": 0, "msg": "成功"} if ok else {"code": 1, "msg": "稍后重试"}


def sdk_config(access_key_id: str, access_key_secret: str, endpoint: str, key: str) -> open_api_models.Config:
    """The SDK's configuration for an endpoint URL (`key` names it in the error): host and scheme."""
    url = urlsplit(endpoint)
    if url.scheme not in ("http", "https") or not url.netloc:
        raise ValueError(f"{key} {endpoint!r} is not an http(s) URL")
    return open_api_models.Config(
        access_key_id=access_key_id, access_key_secret=access_key_secret, endpoint=url.netloc, protocol=url.scheme
    )


def runtime_options(timeout_s: float) -> RuntimeOptions:
    # The outbox retries (with backoff, and with the lease in mind): the SDK must not.
    ms = int(timeout_s * 1000)
    return RuntimeOptions(autoretry=False, max_attempts=0, read_timeout=ms, connect_timeout=ms)


def call_sdk(request: Callable[[], Any], refusal: Callable[[str, str], ProviderError]) -> Any:
    """Run one SDK request; 5xx, 429, timeouts and connection errors are recoverable, the rest
    goes through `refusal` (the product's own mapping of Aliyun's codes)."""
    try:
        return request()
    except AlibabaCloudException as exc:
        status = int(getattr(exc, "status_code", 0) or 0)
        code = str(getattr(exc, "code", "") or status)
        if status >= 500 or status == 429:
            raise ProviderError(True, code, str(exc)) from exc
        raise refusal(code, str(exc)) from exc
    except Exception as exc:  # timeouts and connection errors arrive wrapped in the SDK's own exception
        kind = "timeout" if "timed out" in str(exc).lower() else "connection"
        raise ProviderError(True, kind, f"{type(exc).__name__}: {exc}") from exc


def _refusal(code: str, message: str) -> ProviderError:
    if code in PERMANENT_CODES:
        return ProviderError(False, code, message)
    if code in CONFIG_CODES:
        log.error("sms.aliyun.refused code=%s: fix the configuration or the template; texts wait: %s", code, message)
    return ProviderError(True, code, message)


def json_array(body: bytes, what: str) -> list[dict[str, Any]]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{what} push is not JSON: {exc}") from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise ValueError(f"{what} push must be a JSON array of objects")
    return data


def aliyun_number(e164_number: str) -> str:
    """+8613800000001 → 13800000001 (Aliyun's mainland form); +85291234567 → 0085291234567."""
    if e164_number.startswith("+86"):
        return e164_number[3:]
    if e164_number.startswith("+"):
        return "00" + e164_number[1:]
    return e164_number


def e164(aliyun: str) -> str:
    """The inverse of `aliyun_number`: the hub keeps E.164."""
    digits = aliyun.strip()
    if digits.startswith("+"):
        return digits
    if digits.startswith("00"):
        return "+" + digits[2:]
    if digits.startswith("86") and len(digits) == 13:
        return "+" + digits
    return "+86" + digits
