"""Twilio webhooks: inbound SMS replies and delivery receipts, signature checked.

`webhooks_router(provider, replies, public_url, clock)` builds the router. Signatures are
checked against `http.public_url` + the request path (what Twilio signed: the URL it was
configured with, not whatever host header a proxy passes on). A missing or forged signature
gets 403, a count in `pingan_webhook_refused` and a rate-limited log line, and nothing in the
database (docs/SECURITY.md, finding 2). A reply's MessageSid acts once: a replay is counted
(`duplicate`) and answered with nothing (finding 1). Replies are rate limited per sender number with a small token
bucket: a few lines on the injected clock, no library, because the state is one float pair
per number and a library would bring its own clock and storage. Over the limit the request
is audited and answered with an empty response (no SMS), which also breaks reply loops with
auto-responders. Twilio itself is reached only through the provider port (this package must
not import twilio).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from alerts.texts import Rendered
from hub.dispatch.providers.base import InboundReply, SmsProvider, StatusUpdate
from hub.logging_setup import LogThrottle
from hub.metrics import WebhookMetrics

log = logging.getLogger("pingan.webhooks")

SMS_PATH = "/webhooks/twilio/sms"
STATUS_PATH = "/webhooks/twilio/status"


class ReplyPort(Protocol):
    """What the router needs of the hub (hub.dispatch.replies.SmsReplies implements it)."""

    def first_delivery(self, provider: str, sid: str) -> bool: ...

    def handle_reply(self, reply: InboundReply) -> Rendered | None: ...

    def handle_status(self, update: StatusUpdate) -> bool: ...

    def audit(
        self, action: str, detail: dict[str, Any], actor: str = "webhook", alert_id: str | None = None
    ) -> None: ...


@dataclass
class TokenBucket:
    """Per-key token bucket: `capacity` requests at once, refilled at `refill_per_s`."""

    capacity: float = 5.0
    refill_per_s: float = 1 / 12  # five replies a minute sustained
    max_keys: int = 10_000  # bounded memory: the oldest entries go first
    _state: dict[str, tuple[float, float]] = field(default_factory=dict)

    def allow(self, key: str, now: float) -> bool:
        tokens, last = self._state.pop(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + max(0.0, now - last) * self.refill_per_s)
        allowed = tokens >= 1.0
        self._state[key] = (tokens - 1.0 if allowed else tokens, now)
        while len(self._state) > self.max_keys:
            self._state.pop(next(iter(self._state)))
        return allowed


def webhooks_router(
    provider: SmsProvider,
    replies: ReplyPort,
    public_url: str,
    clock: Callable[[], float],
    bucket: TokenBucket | None = None,
    metrics: WebhookMetrics | None = None,
) -> APIRouter:
    router = APIRouter(tags=["webhooks"])
    limiter = bucket or TokenBucket()
    base = public_url.rstrip("/")
    throttle = LogThrottle(log)

    def refused(request: Request, reason: str, **detail: str) -> None:
        """Count and (rate limited) log a request not acted on. Nothing is written to the
        database for it: strangers must not be able to fill it or hold its write lock."""
        path = request.url.path
        if metrics is not None:
            metrics.refused.labels(path, reason).inc()
        client = request.client.host if request.client else ""
        extra = "".join(f" {k}={v}" for k, v in detail.items())
        throttle.warning(f"{path}:{reason}", "webhook.refused path=%s reason=%s client=%s%s", path, reason, client, extra)

    async def verified_params(request: Request) -> dict[str, str] | None:
        form = await request.form()
        params = {key: str(value) for key, value in form.multi_items()}
        url = base + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        signature = request.headers.get("X-Twilio-Signature", "")
        if provider.validate_request(url, params, signature):
            return params
        refused(request, "signature_missing" if not signature else "signature_bad")
        return None

    @router.post(SMS_PATH, include_in_schema=False)
    async def inbound_sms(request: Request) -> Response:
        params = await verified_params(request)
        if params is None:
            return Response("forbidden", status_code=403, media_type="text/plain")
        try:
            reply = provider.parse_inbound_reply(params)
        except ValueError as exc:
            refused(request, "bad_request", error=str(exc))
            return Response(str(exc), status_code=400, media_type="text/plain")
        silent, media_type = provider.reply_document(None)
        if not await run_in_threadpool(replies.first_delivery, provider.name, reply.sid):
            refused(request, "duplicate", sid=reply.sid)
            return Response(silent, media_type=media_type)
        if not limiter.allow(reply.from_number, clock()):
            await run_in_threadpool(replies.audit, "sms_rate_limited", {"from": reply.from_number, "sid": reply.sid})
            refused(request, "rate_limited", sid=reply.sid)
            return Response(silent, media_type=media_type)
        answer = await run_in_threadpool(replies.handle_reply, reply)
        body, media_type = provider.reply_document(answer.body if answer else None)
        return Response(body, media_type=media_type)

    @router.post(STATUS_PATH, include_in_schema=False)
    async def status_callback(request: Request) -> Response:
        params = await verified_params(request)
        if params is None:
            return Response("forbidden", status_code=403, media_type="text/plain")
        try:
            update = provider.parse_status_callback(params)
        except ValueError as exc:
            refused(request, "bad_request", error=str(exc))
            return Response(str(exc), status_code=400, media_type="text/plain")
        await run_in_threadpool(replies.handle_status, update)
        return Response("", status_code=200, media_type="text/plain")

    return router
