"""Group robots: post an alert card to a grid's staff group in WeCom or DingTalk.

Both are plain HTTPS webhooks that take a JSON message and answer `{"errcode": 0, "errmsg": "ok"}`;
neither service publishes an official Python SDK for them (the community wrappers add nothing
over one POST), so this is httpx:

- WeCom group robot: `POST {url}` (`https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...`),
  `{"msgtype": "markdown", "markdown": {"content": ...}}`; 20 messages a minute per robot
  (errcode 45009 when over).
- DingTalk custom robot: `POST {url}&timestamp={ms}&sign={sign}`, sign = urlencoded
  base64(HMAC-SHA256(key=secret, msg="{timestamp}\\n{secret}")); DingTalk refuses a timestamp
  more than an hour off (errcode 310000, like a wrong signature). Body
  `{"msgtype": "markdown", "markdown": {"title": ..., "text": ...}}`; 20 a minute (errcode 130101).

The outbox sends cards like texts (claim, lease, retries with backoff): a timeout, a 5xx, a 429
or a throttling errcode is recoverable; any other errcode (a removed robot, a bad key or
signature) fails the card for good, which escalation ignores (a card tells nobody in person).
The webhook URL holds the robot's key: it stays in the configuration and is never stored in the
outbox (rows name the grid and the robot) or logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import quote_plus

import httpx

from hub.dispatch.providers.base import ProviderError

log = logging.getLogger("pingan.groups")

WECOM = "wecom"
DINGTALK = "dingtalk"
#: errcodes that mean "too many messages, try later"
THROTTLED = {WECOM: {45009}, DINGTALK: {130101, 130102}}
TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class Robot:
    kind: str  # wecom | dingtalk
    url: str
    secret: str | None = None  # DingTalk's signing secret


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's `sign` query value for `timestamp_ms` (already URL-encoded)."""
    message = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode())


class GroupRobots:
    """Posts cards; `robots` maps (grid id, kind) to the robot. `clock` gives DingTalk's timestamp."""

    name = "groups"

    def __init__(
        self,
        robots: Mapping[tuple[str, str], Robot],
        clock: Callable[[], float],
        client: httpx.Client | None = None,
    ) -> None:
        self.robots = dict(robots)
        self.clock = clock
        self.client = client or httpx.Client(timeout=TIMEOUT_S)

    def post(self, grid: str, kind: str, title: str, markdown: str) -> None:
        """Post one card. Raises `ProviderError`."""
        robot = self.robots.get((grid, kind))
        if robot is None:
            raise ProviderError(False, "no_robot", f"no {kind} robot configured for grid {grid}")
        url, body = self._request(robot, title, markdown)
        try:
            response = self.client.post(url, json=body)
        except httpx.HTTPError as exc:  # timeouts, refused connections
            raise ProviderError(True, "network", type(exc).__name__) from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise ProviderError(True, f"http_{response.status_code}", response.text[:200])
        if response.status_code >= 400:
            raise ProviderError(False, f"http_{response.status_code}", response.text[:200])
        self._answer(robot, grid, response)

    def _request(self, robot: Robot, title: str, markdown: str) -> tuple[str, dict[str, object]]:
        if robot.kind == WECOM:
            return robot.url, {"msgtype": "markdown", "markdown": {"content": markdown}}
        url = robot.url
        if robot.secret:
            timestamp = int(self.clock() * 1000)
            url += ("&" if "?" in url else "?") + f"timestamp={timestamp}&sign={dingtalk_sign(robot.secret, timestamp)}"
        return url, {"msgtype": "markdown", "markdown": {"title": title, "text": markdown}}

    def _answer(self, robot: Robot, grid: str, response: httpx.Response) -> None:
        try:
            answer = response.json()
            code = int(answer.get("errcode", -1))
        except (ValueError, AttributeError, TypeError) as exc:
            raise ProviderError(True, "bad_answer", response.text[:200]) from exc
        if code == 0:
            log.info("groups.posted grid=%s robot=%s", grid, robot.kind)
            return
        message = str(answer.get("errmsg", ""))[:200]
        recoverable = code in THROTTLED.get(robot.kind, set())
        raise ProviderError(recoverable, f"{robot.kind}_{code}", message)

    def close(self) -> None:
        self.client.close()


def robots_from_config(groups: Mapping[str, object]) -> dict[tuple[str, str], Robot]:
    """(grid, kind) -> Robot from the `groups` section (hub.config.GroupConfig values)."""
    robots: dict[tuple[str, str], Robot] = {}
    for grid, group in groups.items():
        wecom = getattr(group, "wecom", None)
        dingtalk = getattr(group, "dingtalk", None)
        if wecom:
            robots[(grid, WECOM)] = Robot(WECOM, wecom)
        if dingtalk is not None:
            secret = dingtalk.secret.get_secret_value() if dingtalk.secret is not None else None
            robots[(grid, DINGTALK)] = Robot(DINGTALK, dingtalk.url, secret)
    return robots
