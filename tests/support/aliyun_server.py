"""A local server that speaks Aliyun's dysmsapi (2017-05-25, RPC style) for tests.

The official SDK (`alibabacloud-dysmsapi20170525`) talks to it through `sms.aliyun.endpoint`.
It checks what Aliyun checks: the signature — V3 (`Authorization: ACS3-HMAC-SHA256 ...` over
the canonical request: method, path, sorted query, the signed headers, the payload hash; what
the SDK sends by default) or the classic RPC V1 (HMAC-SHA1 over the sorted, percent-encoded
query) — the AccessKeyId, a fresh signature nonce (a repeated one is `SignatureNonceUsed`),
Action and Version; for SendSms a mainland number without `+86`
(`isv.MOBILE_NUMBER_ILLEGAL` otherwise), the sign name, an approved TemplateCode
(`isv.SMS_TEMPLATE_ILLEGAL`), TemplateParam JSON naming every variable of the template
(`isv.TEMPLATE_MISSING_PARAMETERS`). Answers are JSON with Code/Message/RequestId (and BizId).
It can be told to misbehave per request: an error code (e.g. `isv.BUSINESS_LIMIT_CONTROL`,
with HTTP 200 as Aliyun does), an HTTP 5xx, or a slow answer (a timeout).
QuerySendDetails answers from `statuses` (1 waiting, 2 failed, 3 delivered).

Voice calls (Dyvms, the same version 2017-05-25 and signatures): SingleCallByTts and IvrCall
check the CalledShowNumber (a bought number, `isv.DISPLAY_NUMBER_ILLEGAL` otherwise), a mainland
CalledNumber without `+86`, an approved TTS code with every variable in its JSON parameters
(StartCode/StartTtsParams and each `MenuKeyMap.N.Code`/`TtsParams` for IvrCall), OutId at most
15 bytes, PlayTimes 1-3; they answer a CallId. QueryCallDetailByCallId answers from
`call_states` (the call's status code) with the ProdId of the API that placed it.

`sms_up`, `sms_report`, `voice_report` and `voice_call_report` build the JSON pushes Aliyun sends
to the hub's webhooks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
import urllib.parse
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from support.local_server import LocalServer


@dataclass
class Behaviour:
    status: int = 200
    code: str = "OK"  # Aliyun's Code; anything but OK is a refusal
    delay_s: float = 0.0


@dataclass
class SentSms:
    biz_id: str | None
    phone_numbers: str
    sign_name: str
    template_code: str
    template_param: dict[str, Any]
    code: str
    query: dict[str, str] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return self.code == "OK"


@dataclass
class PlacedCall:
    call_id: str | None
    action: str  # SingleCallByTts or IvrCall
    called_number: str
    show_number: str
    tts_code: str
    tts_param: dict[str, Any]
    code: str
    query: dict[str, str] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return self.code == "OK"

    def menu(self) -> dict[str, tuple[str, dict[str, Any]]]:
        """IvrCall's MenuKeyMap: key -> (TTS code, parameters)."""
        keys = {k.split(".")[1] for k in self.query if k.startswith("MenuKeyMap.")}
        return {
            self.query[f"MenuKeyMap.{n}.Key"]: (self.query.get(f"MenuKeyMap.{n}.Code", ""),
                                               json.loads(self.query.get(f"MenuKeyMap.{n}.TtsParams") or "{}"))
            for n in sorted(keys)
        }


PROD_IDS = {"SingleCallByTts": 11010000138001, "IvrCall": 11000000300005}


def rpc_signature(params: dict[str, str], method: str, secret: str) -> str:
    """Aliyun's RPC signature, written from its documentation (not the SDK's code)."""

    def enc(value: str) -> str:
        return urllib.parse.quote(value, safe="~")

    canonical = "&".join(f"{enc(k)}={enc(params[k])}" for k in sorted(params) if k != "Signature")
    to_sign = f"{method}&{enc('/')}&{enc(canonical)}"
    digest = hmac.new((secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class AliyunTestServer(LocalServer):
    thread_name = "aliyun-test-server"

    def __init__(
        self,
        access_key_id: str = "LTAI-test-key",
        access_key_secret: str = "test-secret",
        sign_name: str = "平安",
        templates: dict[str, tuple[str, ...]] | None = None,
        voice_templates: dict[str, tuple[str, ...]] | None = None,
        show_numbers: tuple[str, ...] = ("057188880000",),
    ) -> None:
        self.voice_templates = voice_templates or {}  # approved TTS code -> its variables
        self.show_numbers = show_numbers  # bought numbers a call may show
        self.calls: list[PlacedCall] = []
        self.call_states: dict[str, str] = {}  # CallId -> status code for QueryCallDetailByCallId
        self.access_key_id = access_key_id
        self.access_key_secret = access_key_secret
        self.sign_name = sign_name
        self.templates = templates or {}  # approved TemplateCode -> its variables
        self.sent: list[SentSms] = []
        self.requests: list[dict[str, str]] = []
        self.script: deque[Behaviour] = deque()
        self.default = Behaviour()
        self.statuses: dict[str, int] = {}  # BizId -> SendStatus for QuerySendDetails
        self._nonces: set[str] = set()
        self._lock = threading.Lock()
        self._counter = 0

    def accepted(self) -> list[SentSms]:
        with self._lock:
            return [s for s in self.sent if s.accepted]

    # --- the API --------------------------------------------------------------------------

    def handle(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any], float]:
        with self._lock:
            self.requests.append(query)
            behaviour = self.script.popleft() if self.script else self.default
            self._counter += 1
            request_id = f"REQ-{self._counter:06d}"
        if "authorization" in headers:
            problem = self._check_v3(method, path, query, headers, body)
            query = {**query, "Action": headers.get("x-acs-action", ""), "Version": headers.get("x-acs-version", "")}
        else:
            problem = self._check_signature(method, query)
        if problem:
            return 400 if problem[0] != "InvalidAccessKeyId.NotFound" else 404, _error(problem, request_id), 0.0
        if behaviour.status >= 500:
            return behaviour.status, _error(("ServiceUnavailable", "The request has failed due to a temporary failure"), request_id), behaviour.delay_s
        action = query.get("Action")
        if action == "SendSms":
            return 200, self._send(query, behaviour, request_id), behaviour.delay_s
        if action == "QuerySendDetails":
            return 200, self._details(query, request_id), behaviour.delay_s
        if action in PROD_IDS:
            return 200, self._call(action, query, behaviour, request_id), behaviour.delay_s
        if action == "QueryCallDetailByCallId":
            return 200, self._call_detail(query, request_id), behaviour.delay_s
        return 404, _error(("InvalidAction.NotFound", f"Specified api is not found: {action}"), request_id), 0.0

    def _check_v3(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> tuple[str, str] | None:
        match = re.fullmatch(
            r"ACS3-HMAC-SHA256 Credential=([^,]+),SignedHeaders=([^,]+),Signature=([0-9a-f]{64})", headers["authorization"]
        )
        if match is None:
            return "IncompleteSignature", "The request signature does not conform to Aliyun standards."
        key_id, signed, signature = match.groups()
        if key_id != self.access_key_id:
            return "InvalidAccessKeyId.NotFound", "Specified access key is not found."
        names = signed.split(";")
        for needed in ("host", "x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce",
                       "x-acs-content-sha256"):
            if needed not in names:
                return "IncompleteSignature", f"header {needed} must be signed"
        if headers["x-acs-version"] != "2017-05-25":
            return "InvalidVersion", f"Specified parameter Version is not valid: {headers['x-acs-version']}"
        payload_hash = hashlib.sha256(body).hexdigest()
        if headers["x-acs-content-sha256"] != payload_hash:
            return "IncompleteSignature", "x-acs-content-sha256 does not match the body"

        def enc(value: str) -> str:
            return urllib.parse.quote(value, safe="~")

        canonical_query = "&".join(f"{k}={enc(query[k])}" for k in sorted(query))
        canonical_headers = "".join(f"{n}:{headers.get(n, '').strip()}\n" for n in names)
        canonical = f"{method}\n{path or '/'}\n{canonical_query}\n{canonical_headers}\n{signed}\n{payload_hash}"
        to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
        expected = hmac.new(self.access_key_secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            return "SignatureDoesNotMatch", "Specified signature is not matched with our calculation."
        with self._lock:
            nonce = headers["x-acs-signature-nonce"]
            if nonce in self._nonces:
                return "SignatureNonceUsed", "Specified signature nonce was used already."
            self._nonces.add(nonce)
        return None

    def _check_signature(self, method: str, query: dict[str, str]) -> tuple[str, str] | None:
        for key in ("Action", "Version", "Format", "Timestamp", "SignatureNonce", "SignatureMethod",
                    "SignatureVersion", "AccessKeyId", "Signature"):
            if key not in query:
                return "MissingParameter", f"{key} is mandatory for this action."
        if query["Version"] != "2017-05-25":
            return "InvalidVersion", f"Specified parameter Version is not valid: {query['Version']}"
        if query["SignatureMethod"] != "HMAC-SHA1" or query["SignatureVersion"] != "1.0":
            return "InvalidSignatureMethod", "unsupported signature method"
        if query["AccessKeyId"] != self.access_key_id:
            return "InvalidAccessKeyId.NotFound", "Specified access key is not found."
        expected = rpc_signature(query, method, self.access_key_secret)
        if not hmac.compare_digest(expected, query["Signature"]):
            return "SignatureDoesNotMatch", "Specified signature is not matched with our calculation."
        with self._lock:
            if query["SignatureNonce"] in self._nonces:
                return "SignatureNonceUsed", "Specified signature nonce was used already."
            self._nonces.add(query["SignatureNonce"])
        return None

    def _send(self, query: dict[str, str], behaviour: Behaviour, request_id: str) -> dict[str, Any]:
        phone = query.get("PhoneNumbers", "")
        code = behaviour.code
        try:
            params = json.loads(query.get("TemplateParam") or "{}")
        except ValueError:
            params, code = {}, "isv.INVALID_JSON_PARAM"
        template = query.get("TemplateCode", "")
        if code == "OK":
            if not re.fullmatch(r"1\d{10}|00\d{6,15}", phone):
                code = "isv.MOBILE_NUMBER_ILLEGAL"
            elif query.get("SignName") != self.sign_name:
                code = "isv.SMS_SIGNATURE_ILLEGAL"
            elif template not in self.templates:
                code = "isv.SMS_TEMPLATE_ILLEGAL"
            elif any(v not in params for v in self.templates[template]):
                code = "isv.TEMPLATE_MISSING_PARAMETERS"
        biz_id = f"{900000 + self._counter}^{self._counter}" if code == "OK" else None
        with self._lock:
            self.sent.append(SentSms(biz_id, phone, query.get("SignName", ""), template, params, code, query))
            if biz_id:
                self.statuses.setdefault(biz_id, 1)
        answer: dict[str, Any] = {"Code": code, "Message": "OK" if code == "OK" else _MESSAGES.get(code, code),
                                  "RequestId": request_id}
        if biz_id:
            answer["BizId"] = biz_id
        return answer

    def _voice_refusal(self, action: str, query: dict[str, str]) -> str | None:
        """What Dyvms refuses in a call request, as its Code; None: accepted."""
        if query.get("CalledShowNumber") not in self.show_numbers:
            return "isv.DISPLAY_NUMBER_ILLEGAL"
        if not re.fullmatch(r"1\d{10}", query.get("CalledNumber", "")):
            return "isv.MOBILE_NUMBER_ILLEGAL"
        if len(query.get("OutId", "").encode()) > 15 or not 1 <= int(query.get("PlayTimes", "1")) <= 3:
            return "isv.INVALID_PARAMETERS"
        prompts = [("TtsCode", "TtsParam")] if action == "SingleCallByTts" else [("StartCode", "StartTtsParams")]
        prompts += [(k, k.replace(".Code", ".TtsParams")) for k in query if k.startswith("MenuKeyMap.") and k.endswith(".Code")]
        for code_key, params_key in prompts:
            code = query.get(code_key, "")
            if code not in self.voice_templates:
                return "isv.TTS_TEMPLATE_ILLEGAL"
            try:
                params = json.loads(query.get(params_key) or "{}")
            except ValueError:
                return "isv.INVALID_JSON_PARAM"
            if any(v not in params for v in self.voice_templates[code]):
                return "isv.TEMPLATE_MISSING_PARAMETERS"
        return None

    def _call(self, action: str, query: dict[str, str], behaviour: Behaviour, request_id: str) -> dict[str, Any]:
        code = behaviour.code if behaviour.code != "OK" else (self._voice_refusal(action, query) or "OK")
        prompt = ("TtsCode", "TtsParam") if action == "SingleCallByTts" else ("StartCode", "StartTtsParams")
        try:
            params = json.loads(query.get(prompt[1]) or "{}")
        except ValueError:
            params = {}
        with self._lock:
            call_id = f"{116000000000 + self._counter}^{104000000000 + self._counter}" if code == "OK" else None
            self.calls.append(PlacedCall(call_id, action, query.get("CalledNumber", ""), query.get("CalledShowNumber", ""),
                                         query.get(prompt[0], ""), params, code, query))
            if call_id:
                self.call_states[call_id] = "200101"  # connecting
        answer: dict[str, Any] = {"Code": code, "Message": "OK" if code == "OK" else _MESSAGES.get(code, code),
                                  "RequestId": request_id}
        if call_id:
            answer["CallId"] = call_id
        return answer

    def _call_detail(self, query: dict[str, str], request_id: str) -> dict[str, Any]:
        call_id = query.get("CallId", "")
        with self._lock:
            placed = next((c for c in self.calls if c.call_id == call_id), None)
            state = self.call_states.get(call_id)
        if placed is None or state is None or str(PROD_IDS[placed.action]) != query.get("ProdId") or not query.get("QueryDate"):
            return {"Code": "OK", "Message": "OK", "RequestId": request_id, "Data": None}
        data = {"callId": call_id, "callee": placed.called_number, "caller": placed.show_number, "state": state,
                "stateDesc": _STATE_DESC.get(state, ""), "duration": 12 if state == "200000" else 0,
                "startDate": "2026-12-06 08:00:00", "endDate": "2026-12-06 08:00:30"}
        return {"Code": "OK", "Message": "OK", "RequestId": request_id, "Data": json.dumps(data, ensure_ascii=False)}

    def _details(self, query: dict[str, str], request_id: str) -> dict[str, Any]:
        biz_id = query.get("BizId", "")
        with self._lock:
            found = [s for s in self.sent if s.biz_id == biz_id and s.phone_numbers == query.get("PhoneNumber")]
            status = self.statuses.get(biz_id, 1)
        details = [
            {"PhoneNum": s.phone_numbers, "SendStatus": status, "ErrCode": "DELIVERED" if status == 3 else
             ("MK:0001" if status == 2 else ""), "TemplateCode": s.template_code, "Content": "",
             "SendDate": "", "ReceiveDate": "", "OutId": ""}
            for s in found
        ]
        return {"Code": "OK", "Message": "OK", "RequestId": request_id, "TotalCount": str(len(details)),
                "SmsSendDetailDTOs": {"SmsSendDetailDTO": details}}


_MESSAGES = {
    "isv.BUSINESS_LIMIT_CONTROL": "触发分钟级流控Permits:1",
    "isv.SMS_TEMPLATE_ILLEGAL": "该账号下找不到对应模板",
    "isv.MOBILE_NUMBER_ILLEGAL": "非法手机号",
    "isv.TEMPLATE_MISSING_PARAMETERS": "模板变量缺少对应参数值",
    "isv.SMS_SIGNATURE_ILLEGAL": "该账号下找不到对应签名",
    "isv.TTS_TEMPLATE_ILLEGAL": "文本转语音模板不合法",
    "isv.DISPLAY_NUMBER_ILLEGAL": "号显不合法",
}
_STATE_DESC = {"200000": "用户听音结束", "200002": "用户忙", "200003": "用户未接听", "200101": "正在接通"}


def _error(problem: tuple[str, str], request_id: str) -> dict[str, Any]:
    return {"Code": problem[0], "Message": problem[1], "RequestId": request_id, "HostId": "dysmsapi.aliyuncs.com"}


class _Handler(BaseHTTPRequestHandler):
    owner: AliyunTestServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, body, delay_s = self.owner.handle("POST", url.path, query, headers, raw)
        if delay_s:
            time.sleep(delay_s)
        data = json.dumps(body, ensure_ascii=False).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout)


# --- pushes -------------------------------------------------------------------------------


def sms_up(phone: str, content: str, sequence_id: int, sign_name: str = "平安") -> dict[str, Any]:
    """One SmsUp item (the push is a JSON array of these); `phone` as Aliyun writes it."""
    return {"phone_number": phone, "send_time": "2026-12-06 08:00:00", "content": content,
            "sign_name": sign_name, "dest_code": "1234", "sequence_id": sequence_id}


def sms_report(biz_id: str, phone: str, success: bool = True, err_code: str = "DELIVERED") -> dict[str, Any]:
    """One SmsReport item."""
    return {"phone_number": phone, "send_time": "2026-12-06 08:00:00", "report_time": "2026-12-06 08:00:05",
            "success": success, "err_code": err_code, "err_msg": "用户接收成功" if success else "失败",
            "sms_size": "1", "biz_id": biz_id, "out_id": ""}


def voice_report(call_id: str, status_code: str, callee: str, dtmf: str = "", out_id: str = "") -> dict[str, Any]:
    """One VoiceReport record (the push is a JSON array of these): a finished call."""
    answered = status_code in ("200000", "200001", "200008")
    return {"status_code": status_code, "callee": callee, "caller": "057188880000", "call_id": call_id,
            "ring_time": "2026-12-06 08:00:02", "originate_time": "2026-12-06 08:00:00",
            "b_start_time": "2026-12-06 08:00:06" if answered else "", "end_time": "2026-12-06 08:00:30",
            "duration": "24" if answered else "0", "voice_type": "voice", "status_msg": _STATE_DESC.get(status_code, ""),
            "out_id": out_id, "dtmf": dtmf, "toll_type": "LOCAL"}


def voice_call_report(call_id: str, status_code: str, dtmf: str = "", out_id: str = "") -> dict[str, Any]:
    """One VoiceCallReport state (`300000` with `dtmf`: a key pressed during the call)."""
    item = {"status_code": status_code, "status_time": "2026-12-06 08:00:10", "out_id": out_id, "call_id": call_id}
    if dtmf:
        item["dtmf"] = dtmf
    return item


AliyunTestServer.handler = _Handler  # defined after the server it serves
