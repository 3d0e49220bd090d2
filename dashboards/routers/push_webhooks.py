"""Aliyun and Tencent SMS pushes: replies and delivery receipts, behind a secret path token.

`push_webhooks_router(provider, replies, token, clock)` serves, for the configured provider:
- Aliyun: `POST /webhooks/aliyun/sms-up/{token}` (SmsUp, a JSON array of replies) and
  `POST /webhooks/aliyun/sms-report/{token}` (SmsReport receipts);
- Tencent: `POST /webhooks/tencent/sms-reply/{token}` and `POST /webhooks/tencent/sms-status/{token}`.

Neither provider signs its pushes, so: the token (`sms.webhook_token`) in the path, compared in
constant time (a wrong one is a 404, as if nothing were there); a reply acts only for a number
the outbox has texted; each reply's id (Aliyun `sequence_id`, for Tencent a hash of number, time
and text) acts once, so the provider's retries and repeated pushes are answered but not acted
on again; the per-number rate limit of the Twilio webhook. The answer is what the provider
expects (`{"code": 0, "msg": ...}` for Aliyun, `{"result": 0, ...}` for Tencent) with HTTP 200
once the push is taken, or was taken before; 5xx when it could not be, so the provider retries.
A receipt for a message id the outbox has not recorded yet (the push overtook our commit) is
answered 5xx too: the provider retries, and QuerySendDetails covers what never came.

Confirmations of replies cannot ride on the answer as with Twilio: they go out through the
outbox (`SmsReplies.queue_answer`, template `reply`). Replies and receipts are applied by the
same entry points as Twilio's (`handle_reply`, `handle_status`).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from typing import Any, Protocol

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from alerts.texts import Rendered
from dashboards.routers.webhooks import ReplyPort, TokenBucket
from hub.dispatch.providers.base import InboundReply, PushProvider

log = logging.getLogger("pingan.webhooks.push")

PATHS = {
    "aliyun": ("/webhooks/aliyun/sms-up/{token}", "/webhooks/aliyun/sms-report/{token}"),
    "tencent": ("/webhooks/tencent/sms-reply/{token}", "/webhooks/tencent/sms-status/{token}"),
}


class PushReplyPort(ReplyPort, Protocol):
    """What the push router needs besides the Twilio router's port (SmsReplies implements it)."""

    def forget_delivery(self, provider: str, sid: str) -> None: ...

    def was_texted(self, phone: str) -> bool: ...

    def queue_answer(self, phone: str, answer: Rendered) -> None: ...


def push_webhooks_router(
    provider: PushProvider,
    replies: PushReplyPort,
    token: str,
    clock: Callable[[], float],
    bucket: TokenBucket | None = None,
) -> APIRouter:
    if provider.name not in PATHS:
        raise ValueError(f"no push webhooks for provider {provider.name!r}")
    if len(token) < 16:
        raise ValueError("sms.webhook_token must be at least 16 characters: it is the only guard of the pushes")
    router = APIRouter(tags=["webhooks"])
    limiter = bucket or TokenBucket()
    reply_path, status_path = PATHS[provider.name]

    def answer(ok: bool) -> JSONResponse:
        return JSONResponse(provider.push_answer(ok), status_code=200 if ok else 503)

    async def read(request: Request, given: str) -> bytes | Response:
        if not hmac.compare_digest(given.encode(), token.encode()):
            log.warning("webhook.push_bad_token path_prefix=%s", request.url.path.rsplit("/", 1)[0])
            return Response("not found", status_code=404, media_type="text/plain")
        # The body's size is limited before it gets here (dashboards/limits.py: 64 kB under /webhooks/).
        return await request.body()

    def take_reply(reply: InboundReply) -> None:
        """One reply of a push, in the thread pool: acts at most once."""
        if not replies.was_texted(reply.from_number):
            replies.audit("sms_push_unknown_number", {"from": reply.from_number, "sid": reply.sid})
            log.warning("webhook.push_unknown_number provider=%s sid=%s: ignored", provider.name, reply.sid)
            return
        if not replies.first_delivery(provider.name, reply.sid):
            log.info("webhook.push_repeat provider=%s sid=%s: taken before", provider.name, reply.sid)
            return
        if not limiter.allow(reply.from_number, clock()):
            replies.audit("sms_rate_limited", {"from": reply.from_number, "sid": reply.sid})
            return
        try:
            confirmation = replies.handle_reply(reply)
        except Exception:
            replies.forget_delivery(provider.name, reply.sid)  # not acted on: the provider's retry may act
            raise
        if confirmation is not None:
            replies.queue_answer(reply.from_number, confirmation)

    @router.post(reply_path, include_in_schema=False)
    async def reply_push(request: Request, token: str) -> Response:
        body = await read(request, token)
        if isinstance(body, Response):
            return body
        try:
            items = provider.parse_reply_push(body)
        except ValueError as exc:
            await run_in_threadpool(replies.audit, "webhook_bad_request", {"path": reply_path, "error": str(exc)})
            return Response(str(exc), status_code=400, media_type="text/plain")
        try:
            for item in items:
                await run_in_threadpool(take_reply, item)
        except Exception:
            log.exception("webhook.push_failed provider=%s path=%s", provider.name, reply_path)
            return answer(False)
        return answer(True)

    @router.post(status_path, include_in_schema=False)
    async def status_push(request: Request, token: str) -> Response:
        body = await read(request, token)
        if isinstance(body, Response):
            return body
        try:
            updates = provider.parse_status_push(body)
        except ValueError as exc:
            await run_in_threadpool(replies.audit, "webhook_bad_request", {"path": status_path, "error": str(exc)})
            return Response(str(exc), status_code=400, media_type="text/plain")
        known: list[Any] = []
        try:
            for update in updates:
                known.append(await run_in_threadpool(replies.handle_status, update))
        except Exception:
            log.exception("webhook.push_failed provider=%s path=%s", provider.name, status_path)
            return answer(False)
        # Receipts are idempotent (a state only moves forward): a retried push is harmless.
        return answer(all(known))

    return router
