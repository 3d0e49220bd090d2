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

`sms_up` and `sms_report` build the JSON pushes Aliyun sends to the hub's webhooks.
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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


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


def rpc_signature(params: dict[str, str], method: str, secret: str) -> str:
    """Aliyun's RPC signature, written from its documentation (not the SDK's code)."""

    def enc(value: str) -> str:
        return urllib.parse.quote(value, safe="~")

    canonical = "&".join(f"{enc(k)}={enc(params[k])}" for k in sorted(params) if k != "Signature")
    to_sign = f"{method}&{enc('/')}&{enc(canonical)}"
    digest = hmac.new((secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class AliyunTestServer:
    def __init__(
        self,
        access_key_id: str = "LTAI-test-key",
        access_key_secret: str = "test-secret",
        sign_name: str = "平安",
        templates: dict[str, tuple[str, ...]] | None = None,
    ) -> None:
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
        self._httpd: ThreadingHTTPServer | None = None

    def start(self) -> AliyunTestServer:
        server = self

        class Handler(_Handler):
            owner = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, name="aliyun-test-server", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> AliyunTestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

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
}


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
