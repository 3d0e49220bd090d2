"""Aliyun and Tencent behind one small test harness: the local server, the provider through its
official SDK pointed at it, and the pushes each provider sends, so one test runs for both."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from support.aliyun_server import AliyunTestServer, sms_report, sms_up
from support.aliyun_server import Behaviour as AliyunBehaviour
from support.tencent_server import Behaviour as TencentBehaviour
from support.tencent_server import TencentTestServer, reply_callback, status_callback

from alerts.templates import CATALOGUE
from hub.dispatch.providers.aliyun import AliyunSmsProvider
from hub.dispatch.providers.tencent import TencentSmsProvider

TOKEN = "push-token-0123456789abcdef"
#: Approved template codes, as an office would configure them.
ALIYUN_CODES = {tid: f"SMS_{100 + i}" for i, tid in enumerate(CATALOGUE)}
TENCENT_CODES = {tid: str(200000 + i) for i, tid in enumerate(CATALOGUE)}
#: What each fault looks like at each provider.
FAULTS = {
    "aliyun": {
        "throttled": AliyunBehaviour(code="isv.BUSINESS_LIMIT_CONTROL"),
        "5xx": AliyunBehaviour(status=503),
        "timeout": AliyunBehaviour(delay_s=3.0),
        "template_refused": AliyunBehaviour(code="isv.SMS_TEMPLATE_ILLEGAL"),
        "bad_number": AliyunBehaviour(code="isv.MOBILE_NUMBER_ILLEGAL"),
    },
    "tencent": {
        "throttled": TencentBehaviour(code="LimitExceeded.PhoneNumberThirtySecondLimit"),
        "5xx": TencentBehaviour(status=502),
        "timeout": TencentBehaviour(delay_s=3.0),
        "template_refused": TencentBehaviour(error="FailedOperation.TemplateIncorrectOrUnapproved"),
        "bad_number": TencentBehaviour(code="InvalidParameterValue.IncorrectPhoneNumber"),
    },
}
FAULT_CODES = {
    "aliyun": {"throttled": "isv.BUSINESS_LIMIT_CONTROL", "5xx": "ServiceUnavailable", "timeout": "timeout",
               "template_refused": "isv.SMS_TEMPLATE_ILLEGAL", "bad_number": "isv.MOBILE_NUMBER_ILLEGAL"},
    "tencent": {"throttled": "LimitExceeded.PhoneNumberThirtySecondLimit", "5xx": "ServerNetworkError",
                "timeout": "ClientNetworkError", "template_refused": "FailedOperation.TemplateIncorrectOrUnapproved",
                "bad_number": "InvalidParameterValue.IncorrectPhoneNumber"},
}


@dataclass(frozen=True)
class Sent:
    """One accepted SendSms, the same for both providers."""

    sid: str
    to: str  # as the provider was given it
    template_code: str
    params: dict[str, str]  # by name (Tencent's positional set mapped back by the catalogue)


@dataclass
class Domestic:
    name: str
    server: Any
    provider: AliyunSmsProvider | TencentSmsProvider

    @property
    def codes(self) -> dict[str, str]:
        return ALIYUN_CODES if self.name == "aliyun" else TENCENT_CODES

    @property
    def reply_path(self) -> str:
        return f"/webhooks/aliyun/sms-up/{TOKEN}" if self.name == "aliyun" else f"/webhooks/tencent/sms-reply/{TOKEN}"

    @property
    def status_path(self) -> str:
        return (
            f"/webhooks/aliyun/sms-report/{TOKEN}" if self.name == "aliyun" else f"/webhooks/tencent/sms-status/{TOKEN}"
        )

    def accepted(self) -> list[Sent]:
        if self.name == "aliyun":
            return [Sent(s.biz_id, s.phone_numbers, s.template_code, s.template_param) for s in self.server.accepted()]
        by_code = {code: tid for tid, code in TENCENT_CODES.items()}
        return [
            Sent(s.serial_no, s.phone, s.template_id, dict(zip(CATALOGUE[by_code[s.template_id]].params, s.params, strict=True)))
            for s in self.server.accepted()
        ]

    def fail_next(self, fault: str) -> None:
        self.server.script.append(FAULTS[self.name][fault])

    def reply_push(self, e164: str, text: str, n: int) -> bytes:
        """The push carrying reply number `n` (the same n: the same message, pushed again)."""
        mobile = e164.removeprefix("+86")
        if self.name == "aliyun":
            return json.dumps([sms_up(mobile, text, 1_000_000 + n)], ensure_ascii=False).encode()
        return json.dumps(reply_callback(mobile, text, 1_764_900_000 + n), ensure_ascii=False).encode()

    def status_push(self, sid: str, e164: str, success: bool = True) -> bytes:
        mobile = e164.removeprefix("+86")
        if self.name == "aliyun":
            return json.dumps([sms_report(sid, mobile, success, "DELIVERED" if success else "MK:0001")]).encode()
        return json.dumps([status_callback(sid, mobile, success)]).encode()

    def taken(self, answer: dict[str, Any]) -> bool:
        return answer == ({"code": 0, "msg": "成功"} if self.name == "aliyun" else {"result": 0, "errmsg": "OK"})

    def config(self, with_secret: bool = False) -> dict[str, Any]:
        """The `sms` section that selects this provider, pointed at the local server (its secret
        comes from the environment in a deployment; `with_secret` puts it in for a test)."""
        if self.name == "aliyun":
            section = {"access_key_id": self.server.access_key_id, "sign_name": self.server.sign_name,
                       "endpoint": self.server.base_url, "templates": ALIYUN_CODES}
        else:
            section = {"secret_id": self.server.secret_id, "sdk_app_id": self.server.sdk_app_id,
                       "sign_name": self.server.sign_name, "endpoint": self.server.base_url, "templates": TENCENT_CODES}
        if with_secret and self.name == "aliyun":
            section["access_key_secret"] = self.server.access_key_secret
        elif with_secret:
            section["secret_key"] = self.server.secret_key
        return {"provider": self.name, self.name: section}


@contextmanager
def domestic(name: str, timeout_s: float = 1.0) -> Iterator[Domestic]:
    if name == "aliyun":
        variables = {ALIYUN_CODES[t.id]: t.params for t in CATALOGUE.values()}
        with AliyunTestServer(templates=variables) as server:
            provider: AliyunSmsProvider | TencentSmsProvider = AliyunSmsProvider(
                server.access_key_id, server.access_key_secret, server.sign_name, ALIYUN_CODES, server.base_url,
                timeout_s=timeout_s,
            )
            yield Domestic(name, server, provider)
    else:
        counts = {TENCENT_CODES[t.id]: len(t.params) for t in CATALOGUE.values()}
        with TencentTestServer(templates=counts) as server:
            provider = TencentSmsProvider(
                server.secret_id, server.secret_key, server.sdk_app_id, server.sign_name, TENCENT_CODES,
                server.base_url, timeout_s=timeout_s,
            )
            yield Domestic(name, server, provider)
