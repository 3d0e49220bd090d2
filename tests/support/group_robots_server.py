"""A local server that speaks the WeCom group robot and DingTalk custom robot webhooks, for tests.

Written from the services' documentation:
- WeCom: `POST /cgi-bin/webhook/send?key=KEY`, JSON `{"msgtype": "markdown", "markdown":
  {"content": ...}}` (content at most 4096 bytes); an unknown key answers errcode 93000
  ("invalid webhook url"), a bad body 40008; success `{"errcode": 0, "errmsg": "ok"}`.
- DingTalk: `POST /robot/send?access_token=TOKEN&timestamp=MS&sign=SIGN`, sign = urlencoded
  base64(HMAC-SHA256(secret, "MS\\nsecret")). A wrong signature answers errcode 310000
  ("sign not match"); a timestamp more than an hour from the server's time 310000 too
  ("invalid timestamp"); a bad token 300001; JSON `{"msgtype": "markdown", "markdown":
  {"title": ..., "text": ...}}`.
Both answer HTTP 200 with the errcode. The server can be told to misbehave for the next
requests: an HTTP status (500), an errcode (45009 / 130101: too many messages), a delay.
`now` is injectable: the stale-timestamp check compares against the test's clock.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from support.local_server import LocalServer

STALE_MS = 3600 * 1000


@dataclass
class Fault:
    status: int = 200
    errcode: int = 0
    delay_s: float = 0.0


@dataclass(frozen=True)
class Posted:
    robot: str  # wecom | dingtalk
    token: str  # WeCom key or DingTalk access_token
    body: dict[str, Any]
    errcode: int

    @property
    def text(self) -> str:
        markdown = self.body.get("markdown", {})
        return str(markdown.get("content") or markdown.get("text") or "")


class GroupRobotsServer(LocalServer):
    def __init__(
        self, wecom_keys: set[str], dingtalk: dict[str, str], now: Callable[[], float] = time.time
    ) -> None:
        """`dingtalk`: access_token -> signing secret."""
        self.wecom_keys = wecom_keys
        self.dingtalk = dingtalk
        self.now = now
        self.posts: list[Posted] = []
        self.faults: deque[Fault] = deque()
        self._lock = threading.Lock()

    def wecom_url(self, key: str) -> str:
        return f"{self.base_url}/cgi-bin/webhook/send?key={key}"

    def dingtalk_url(self, token: str) -> str:
        return f"{self.base_url}/robot/send?access_token={token}"

    def accepted(self, robot: str | None = None) -> list[Posted]:
        with self._lock:
            return [p for p in self.posts if p.errcode == 0 and (robot is None or p.robot == robot)]

    def handle(self, path: str, query: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        with self._lock:
            fault = self.faults.popleft() if self.faults else Fault()
        if fault.delay_s:
            time.sleep(fault.delay_s)
        if fault.status != 200:
            return fault.status, {"errcode": -1, "errmsg": "system busy"}
        try:
            message = json.loads(body)
        except ValueError:
            return 200, {"errcode": 40008, "errmsg": "invalid message type"}
        if path == "/cgi-bin/webhook/send":
            robot, token, errcode, errmsg = "wecom", query.get("key", ""), *self._wecom(query, message)
        elif path == "/robot/send":
            robot, token, errcode, errmsg = "dingtalk", query.get("access_token", ""), *self._dingtalk(query, message)
        else:
            return 404, {"errcode": 404, "errmsg": "not found"}
        if errcode == 0 and fault.errcode:
            errcode, errmsg = fault.errcode, "send too fast"
        with self._lock:
            self.posts.append(Posted(robot, token, message, errcode))
        return 200, {"errcode": errcode, "errmsg": errmsg}

    def _wecom(self, query: dict[str, str], message: dict[str, Any]) -> tuple[int, str]:
        if query.get("key") not in self.wecom_keys:
            return 93000, "invalid webhook url"
        content = message.get("markdown", {}).get("content")
        if message.get("msgtype") != "markdown" or not isinstance(content, str) or len(content.encode()) > 4096:
            return 40008, "invalid message type"
        return 0, "ok"

    def _dingtalk(self, query: dict[str, str], message: dict[str, Any]) -> tuple[int, str]:
        secret = self.dingtalk.get(query.get("access_token", ""))
        if secret is None:
            return 300001, "token is not exist"
        timestamp = query.get("timestamp", "")
        if not timestamp.isdigit() or abs(int(self.now() * 1000) - int(timestamp)) > STALE_MS:
            return 310000, "invalid timestamp"
        expected = base64.b64encode(
            hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
        ).decode()
        if not hmac.compare_digest(query.get("sign", ""), expected):  # parse_qs already decoded it
            return 310000, "sign not match"
        markdown = message.get("markdown", {})
        if message.get("msgtype") != "markdown" or not markdown.get("title") or not markdown.get("text"):
            return 40035, "missing parameter"
        return 0, "ok"


class _Handler(BaseHTTPRequestHandler):
    owner: GroupRobotsServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        query = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, answer = self.owner.handle(url.path, query, body)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # a client that timed out
            self.wfile.write(data)


GroupRobotsServer.handler = _Handler  # defined after the server it serves
