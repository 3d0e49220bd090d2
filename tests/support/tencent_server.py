"""A local server that speaks Tencent Cloud's SMS API (2021-01-11) for tests.

The official SDK (`tencentcloud-sdk-python-sms`) talks to it through `sms.tencent.endpoint`.
It checks the TC3-HMAC-SHA256 signature (written from Tencent's documentation: canonical
request over content-type and host, the credential scope date/sms/tc3_request, the key
derived from "TC3" + SecretKey), the SecretId, X-TC-Action/Version and a timestamp within
5 minutes; for SendSms the SmsSdkAppId, the sign name, an approved TemplateId with as many
TemplateParamSet values as it has variables, and E.164 numbers. Answers are Tencent's JSON
(`Response.SendStatusSet[]` with SerialNo/Code, or `Response.Error`). It can be told to
misbehave per request: a per-number Code (e.g. `LimitExceeded.PhoneNumberDailyLimit`), an API
error, an HTTP 5xx, or a slow answer (a timeout).

Voice calls (VMS 2020-09-02, service `vms`, the same signature): SendTtsVoice checks the
VoiceSdkAppid (`voice_sdk_app_id`), an approved TemplateId of `voice_templates` with as many
TemplateParamSet values as it has variables, a mainland E.164 CalledNumber and PlayTimes 1-3,
and answers `Response.SendStatus` with a CallId and the SessionContext; faults are API errors.

`status_callback`, `reply_callback`, `voice_prompt_callback`, `voice_key_callback` and
`voice_failure_callback` build the JSON Tencent pushes to the hub's webhooks.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any

from support.local_server import LocalServer


@dataclass
class Behaviour:
    status: int = 200
    code: str = "Ok"  # the per-number Code; "Ok" accepts
    error: str | None = None  # an API-level Response.Error code instead
    delay_s: float = 0.0


@dataclass
class SentSms:
    serial_no: str | None
    phone: str
    sign_name: str
    template_id: str
    params: list[str]
    code: str

    @property
    def accepted(self) -> bool:
        return self.code == "Ok"


@dataclass
class PlacedCall:
    call_id: str
    called_number: str
    template_id: str
    params: list[str]
    play_times: int
    session_context: str


#: The APIs this server speaks: service -> version.
VERSIONS = {"sms": "2021-01-11", "vms": "2020-09-02"}


def tc3_signature(secret_key: str, date: str, service: str, string_to_sign: str) -> str:
    def sign(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    signing = sign(sign(sign(("TC3" + secret_key).encode(), date), service), "tc3_request")
    return hmac.new(signing, string_to_sign.encode(), hashlib.sha256).hexdigest()


class TencentTestServer(LocalServer):
    thread_name = "tencent-test-server"

    def __init__(
        self,
        secret_id: str = "AKID-test",
        secret_key: str = "test-secret-key",
        sdk_app_id: str = "1400000001",
        sign_name: str = "平安",
        templates: dict[str, int] | None = None,
        voice_sdk_app_id: str = "1400000002",
        voice_templates: dict[str, int] | None = None,
    ) -> None:
        self.voice_sdk_app_id = voice_sdk_app_id
        self.voice_templates = voice_templates or {}  # approved voice TemplateId -> number of variables
        self.calls: list[PlacedCall] = []
        self.secret_id = secret_id
        self.secret_key = secret_key
        self.sdk_app_id = sdk_app_id
        self.sign_name = sign_name
        self.templates = templates or {}  # approved TemplateId -> number of variables
        self.sent: list[SentSms] = []
        self.script: deque[Behaviour] = deque()
        self.default = Behaviour()
        self._lock = threading.Lock()
        self._counter = 0

    def accepted(self) -> list[SentSms]:
        with self._lock:
            return [s for s in self.sent if s.accepted]

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any], float]:
        with self._lock:
            behaviour = self.script.popleft() if self.script else self.default
            self._counter += 1
            request_id = f"req-{self._counter:06d}"
        if behaviour.status >= 500:
            return behaviour.status, {"message": "bad gateway"}, behaviour.delay_s
        problem = self._check_signature(path, headers, body)
        if problem is None and behaviour.error:
            problem = (behaviour.error, "scripted error")
        if problem is not None:
            return 200, {"Response": {"Error": {"Code": problem[0], "Message": problem[1]}, "RequestId": request_id}}, 0.0
        if headers.get("x-tc-action") == "SendTtsVoice":
            return 200, self._call(json.loads(body), request_id), behaviour.delay_s
        if headers.get("x-tc-action") != "SendSms":
            return 200, {"Response": {"Error": {"Code": "InvalidAction", "Message": "no such action"},
                                      "RequestId": request_id}}, 0.0
        return 200, self._send(json.loads(body), behaviour, request_id), behaviour.delay_s

    def _check_signature(self, path: str, headers: dict[str, str], body: bytes) -> tuple[str, str] | None:
        match = re.fullmatch(
            r"TC3-HMAC-SHA256 Credential=([^/]+)/(\d{4}-\d\d-\d\d)/(\w+)/tc3_request, "
            r"SignedHeaders=([a-z;-]+), Signature=([0-9a-f]{64})",
            headers.get("authorization", ""),
        )
        if match is None:
            return "AuthFailure.SignatureFailure", "The provided credentials could not be validated."
        secret_id, date, service, signed, signature = match.groups()
        if secret_id != self.secret_id:
            return "AuthFailure.SecretIdNotFound", "The SecretId is not found."
        if headers.get("x-tc-version") != VERSIONS.get(service):
            return "InvalidParameter", "version or service"
        timestamp = int(headers.get("x-tc-timestamp", "0"))
        if abs(time.time() - timestamp) > 300:
            return "AuthFailure.SignatureExpire", "Signature expired."
        if datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d") != date:
            return "AuthFailure.SignatureFailure", "date does not match the timestamp"
        names = signed.split(";")
        canonical_headers = "".join(f"{n}:{headers.get(n, '')}\n" for n in names)
        canonical = f"POST\n{path}\n\n{canonical_headers}\n{signed}\n{hashlib.sha256(body).hexdigest()}"
        to_sign = f"TC3-HMAC-SHA256\n{timestamp}\n{date}/{service}/tc3_request\n" + hashlib.sha256(canonical.encode()).hexdigest()
        if not hmac.compare_digest(tc3_signature(self.secret_key, date, service, to_sign), signature):
            return "AuthFailure.SignatureFailure", "The provided credentials could not be validated."
        return None

    def _call(self, request: dict[str, Any], request_id: str) -> dict[str, Any]:
        def error(code: str) -> dict[str, Any]:
            return {"Response": {"Error": {"Code": code, "Message": code}, "RequestId": request_id}}

        if request.get("VoiceSdkAppid") != self.voice_sdk_app_id:
            return error("UnauthorizedOperation.VoiceSdkAppidVerifyFail")
        template = str(request.get("TemplateId", ""))
        params = [str(p) for p in request.get("TemplateParamSet") or []]
        if template not in self.voice_templates:
            return error("FailedOperation.TemplateIncorrectOrUnapproved")
        if len(params) != self.voice_templates[template]:
            return error("FailedOperation.InvalidParameters")
        if not re.fullmatch(r"\+861\d{10}", str(request.get("CalledNumber", ""))):
            return error("InvalidParameterValue.CalledNumberVerifyFail")
        if not 1 <= int(request.get("PlayTimes") or 2) <= 3:
            return error("FailedOperation.InvalidParameters")
        with self._lock:
            call_id = f"{self._counter:08d}-{len(self.calls):04d}-vms"
            self.calls.append(PlacedCall(call_id, request["CalledNumber"], template, params,
                                         int(request.get("PlayTimes") or 2), str(request.get("SessionContext") or "")))
        return {"Response": {"SendStatus": {"CallId": call_id, "SessionContext": request.get("SessionContext") or ""},
                             "RequestId": request_id}}

    def _send(self, request: dict[str, Any], behaviour: Behaviour, request_id: str) -> dict[str, Any]:
        if request.get("SmsSdkAppId") != self.sdk_app_id:
            return {"Response": {"Error": {"Code": "FailedOperation.SmsSdkAppIdVerifyFail", "Message": "app id"},
                                 "RequestId": request_id}}
        if request.get("SignName") != self.sign_name:
            return {"Response": {"Error": {"Code": "FailedOperation.SignatureIncorrectOrUnapproved",
                                           "Message": "sign"}, "RequestId": request_id}}
        template = str(request.get("TemplateId", ""))
        params = [str(p) for p in request.get("TemplateParamSet") or []]
        if template not in self.templates:
            return {"Response": {"Error": {"Code": "FailedOperation.TemplateIncorrectOrUnapproved",
                                           "Message": "template"}, "RequestId": request_id}}
        if len(params) != self.templates[template]:
            return {"Response": {"Error": {"Code": "InvalidParameterValue.TemplateParameterFormatError",
                                           "Message": "params"}, "RequestId": request_id}}
        statuses = []
        for phone in request.get("PhoneNumberSet") or []:
            code = behaviour.code
            if code == "Ok" and not re.fullmatch(r"\+\d{8,15}", phone):
                code = "InvalidParameterValue.IncorrectPhoneNumber"
            with self._lock:
                serial = f"2433:{self._counter:08d}{len(self.sent):04d}" if code == "Ok" else None
                self.sent.append(SentSms(serial, phone, request["SignName"], template, params, code))
            statuses.append({"SerialNo": serial or "", "PhoneNumber": phone, "Fee": 1 if serial else 0,
                             "SessionContext": "", "Code": code, "Message": "send success" if serial else code,
                             "IsoCode": "CN"})
        return {"Response": {"SendStatusSet": statuses, "RequestId": request_id}}


class _Handler(BaseHTTPRequestHandler):
    owner: TencentTestServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, answer, delay_s = self.owner.handle(self.path, headers, body)
        if delay_s:
            time.sleep(delay_s)
        data = json.dumps(answer, ensure_ascii=False).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass


# --- pushes -------------------------------------------------------------------------------


def status_callback(sid: str, mobile: str, success: bool = True) -> dict[str, Any]:
    """One item of Tencent's status callback (a JSON array of these); `mobile` without +86."""
    return {"user_receive_time": "2026-12-06 08:00:05", "nationcode": "86", "mobile": mobile,
            "report_status": "SUCCESS" if success else "FAIL", "errmsg": "DELIVRD" if success else "MK:0005",
            "description": "用户短信送达成功" if success else "失败", "sid": sid}


def reply_callback(mobile: str, text: str, at: int) -> dict[str, Any]:
    """Tencent's reply callback (one JSON object)."""
    return {"extend": "", "mobile": mobile, "nationcode": "86", "sign": "平安", "text": text, "time": at}


def voice_prompt_callback(call_id: str, mobile: str, result: str) -> dict[str, Any]:
    """The call status event: result 0 answered, 1 not answered, 2 the call failed."""
    return {"voiceprompt_callback": {"result": result, "accept_time": "1764979211" if result == "0" else "0",
                                     "call_from": "075583763333", "callid": call_id, "end_calltime": "1764979221",
                                     "fee": "1" if result == "0" else "0", "mobile": mobile, "nationcode": "86",
                                     "start_calltime": "1764979196"}}


def voice_key_callback(call_id: str, mobile: str, keypress: str) -> dict[str, Any]:
    """The key-press event."""
    return {"voicekey_callback": {"call_from": "075583763333", "callid": call_id, "keypress": keypress,
                                  "mobile": mobile, "nationcode": "86"}}


def voice_failure_callback(call_id: str, mobile: str, code: int, reason: str) -> dict[str, Any]:
    """The failure event (空号, 关机, 用户忙, ...)."""
    return {"voice_failure_callback": {"call_from": "075583763333", "callid": call_id, "failure_code": code,
                                       "failure_reason": reason, "mobile": mobile, "nationcode": "86"}}


TencentTestServer.handler = _Handler  # defined after the server it serves
