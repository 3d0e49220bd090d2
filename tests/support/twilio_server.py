"""A local Twilio-compatible HTTP server for tests and benchmarks (stdlib http.server, one thread).

The official twilio SDK talks to it through `sms.twilio.api_base_url`. It implements
`POST /2010-04-01/Accounts/{sid}/Messages.json` (records the request, answers the JSON Twilio
answers, status `queued`) and `GET .../Messages/{sid}.json`, checks HTTP basic auth, and can be
told to misbehave: refuse a number (400 with a Twilio error code), throttle (429), fail (500),
answer slowly after or before accepting the message, or signal the test when a request
arrives. `fire_status` sends a signed status callback like Twilio does.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import threading
import time
import urllib.parse
import urllib.request
from collections import deque
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler
from typing import Any

from twilio.request_validator import RequestValidator

from support.local_server import LocalServer

ERROR_MESSAGES = {
    21211: "The 'To' number {to} is not a valid phone number.",
    21610: "Attempt to send to unsubscribed recipient",
    21614: "'To' number is not a valid mobile number",
    20429: "Too Many Requests",
    20500: "Internal Server Error",
}


@dataclass
class Behaviour:
    """What to do with one request. status 201 = accept."""

    status: int = 201
    code: int | None = None
    delay_s: float = 0.0
    accept_before_delay: bool = True  # True: the message is accepted, only the answer is late
    arrived: threading.Event | None = None  # set when the request arrives
    release: threading.Event | None = None  # if given, the delay ends early when it is set


@dataclass
class RecordedMessage:
    sid: str | None
    to: str
    from_: str
    body: str
    validity_period: str | None
    status_callback: str | None
    accepted: bool
    status_code: int
    received_mono: float
    answered_mono: float | None = None
    form: dict[str, str] = field(default_factory=dict)


class TwilioTestServer(LocalServer):
    thread_name = "twilio-test-server"

    def __init__(self, account_sid: str = "AC" + "0" * 32, auth_token: str = "test-auth-token") -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.messages: list[RecordedMessage] = []
        self.script: deque[Behaviour] = deque()  # consumed one per request, then `default`
        self.by_number: dict[str, Behaviour] = {}  # persistent behaviour for a recipient
        self.default = Behaviour()
        self.statuses: dict[str, str] = {}
        self._lock = threading.Lock()
        self._counter = 0

    # --- inspection -----------------------------------------------------------------------

    def accepted(self) -> list[RecordedMessage]:
        with self._lock:
            return [m for m in self.messages if m.accepted]

    def bodies(self) -> list[str]:
        return [m.body for m in self.accepted()]

    # --- status callbacks -----------------------------------------------------------------

    def signed_status(
        self, sid: str, status: str, url: str, error_code: int | None = None
    ) -> tuple[dict[str, str], str]:
        """The form Twilio posts to a status callback, and its X-Twilio-Signature."""
        message = next(m for m in self.messages if m.sid == sid)
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "From": message.from_,
            "To": message.to,
            "MessageSid": sid,
            "SmsSid": sid,
            "MessageStatus": status,
            "SmsStatus": status,
        }
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        return params, sign(self.auth_token, url, params)

    def fire_status(self, sid: str, status: str, error_code: int | None = None) -> int:
        """POST a signed status callback to the URL the message named; returns the HTTP status."""
        message = next(m for m in self.messages if m.sid == sid)
        assert message.status_callback, "the message named no status callback"
        self.statuses[sid] = status
        params, signature = self.signed_status(sid, status, message.status_callback, error_code)
        request = urllib.request.Request(
            message.status_callback,
            data=urllib.parse.urlencode(params).encode(),
            headers={"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)

    # --- request handling -----------------------------------------------------------------

    def _behaviour_for(self, to: str) -> Behaviour:
        with self._lock:
            if to in self.by_number:
                return self.by_number[to]
            if self.script:
                return self.script.popleft()
            return self.default

    def _next_sid(self, seed: str) -> str:
        with self._lock:
            self._counter += 1
            return "SM" + hashlib.md5(f"{self._counter}\x1f{seed}".encode()).hexdigest()

    def _record(self, message: RecordedMessage) -> None:
        with self._lock:
            self.messages.append(message)


def sign(auth_token: str, url: str, params: dict[str, str]) -> str:
    return str(RequestValidator(auth_token).compute_signature(url, params))


class _Handler(BaseHTTPRequestHandler):
    owner: TwilioTestServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without TCP_NODELAY, Nagle and delayed ACKs add
    # 40 ms to every keep-alive request.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        owner = self.owner
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length).decode()
        prefix = f"/2010-04-01/Accounts/{owner.account_sid}/Messages.json"
        if self.path != prefix:
            return self._json(404, {"code": 20404, "message": "The requested resource was not found", "status": 404})
        if not self._authorized():
            return self._json(401, {"code": 20003, "message": "Authenticate", "status": 401})
        form = {k: v[0] for k, v in urllib.parse.parse_qs(raw, keep_blank_values=True).items()}
        to = form.get("To", "")
        behaviour = owner._behaviour_for(to)
        received = time.monotonic()
        if behaviour.arrived is not None:
            behaviour.arrived.set()
        accepted_now = behaviour.status == 201 and behaviour.accept_before_delay
        message = RecordedMessage(
            sid=owner._next_sid(raw) if behaviour.status == 201 else None,
            to=to,
            from_=form.get("From", ""),
            body=form.get("Body", ""),
            validity_period=form.get("ValidityPeriod"),
            status_callback=form.get("StatusCallback"),
            accepted=accepted_now,
            status_code=behaviour.status,
            received_mono=received,
            form=form,
        )
        if accepted_now:
            owner._record(message)
        if behaviour.release is not None:
            behaviour.release.wait(behaviour.delay_s)
        elif behaviour.delay_s:
            time.sleep(behaviour.delay_s)
        if behaviour.status == 201 and not behaviour.accept_before_delay:
            if self._client_gone():
                message.status_code = 499  # the client hung up before we accepted: nothing sent
                owner._record(message)
                return
            message.accepted = True
            owner._record(message)
        elif not accepted_now:
            owner._record(message)
        message.answered_mono = time.monotonic()
        if behaviour.status != 201:
            code = behaviour.code or (20429 if behaviour.status == 429 else 20500)
            text = ERROR_MESSAGES.get(code, "error").format(to=to)
            return self._json(
                behaviour.status,
                {
                    "code": code,
                    "message": text,
                    "more_info": f"https://www.twilio.com/docs/errors/{code}",
                    "status": behaviour.status,
                },
            )
        owner.statuses[str(message.sid)] = "queued"
        self._json(201, self._resource(message))

    def do_GET(self) -> None:
        owner = self.owner
        prefix = f"/2010-04-01/Accounts/{owner.account_sid}/Messages/"
        if not self.path.startswith(prefix) or not self._authorized():
            return self._json(404, {"code": 20404, "message": "not found", "status": 404})
        sid = self.path[len(prefix) :].removesuffix(".json")
        message = next((m for m in owner.messages if m.sid == sid), None)
        if message is None:
            return self._json(404, {"code": 20404, "message": "not found", "status": 404})
        self._json(200, self._resource(message))

    def _resource(self, m: RecordedMessage) -> dict[str, Any]:
        owner = self.owner
        now = formatdate(usegmt=True)
        return {
            "account_sid": owner.account_sid,
            "api_version": "2010-04-01",
            "body": m.body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": m.from_,
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": m.sid,
            "status": owner.statuses.get(str(m.sid), "queued"),
            "subresource_uris": {"media": f"/2010-04-01/Accounts/{owner.account_sid}/Messages/{m.sid}/Media.json"},
            "to": m.to,
            "uri": f"/2010-04-01/Accounts/{owner.account_sid}/Messages/{m.sid}.json",
        }

    def _authorized(self) -> bool:
        expected = base64.b64encode(f"{self.owner.account_sid}:{self.owner.auth_token}".encode()).decode()
        return self.headers.get("Authorization", "") == f"Basic {expected}"

    def _client_gone(self) -> bool:
        try:
            data = self.connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return False
        except OSError:
            return True
        return data == b""

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client went away (a killed sender): the record above is what counts


TwilioTestServer.handler = _Handler  # defined after the server it serves
