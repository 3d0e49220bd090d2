"""Voice call results pushed by Aliyun and Tencent, behind the secret path token.

`voice_webhooks_router(provider, on_results, token)` serves, for the configured voice provider:
- Aliyun: `POST /webhooks/aliyun/voice-report/{token}` (VoiceReport records and VoiceCallReport
  states, both JSON arrays: point both subscriptions at this URL);
- Tencent: `POST /webhooks/tencent/voice-status/{token}` (the event callback: call status,
  key press, failure).

The protections of the SMS pushes (push_webhooks.py): the token (`sms.webhook_token`) compared
in constant time, a wrong one is a 404; each result acts once by its push id (neither provider
numbers its pushes: the id is a hash of what the push says, so a retried push repeats it),
remembered by `deliveries` (the database's inbound-id table when the app passes `SmsReplies`,
else this process's memory); the answer the provider expects with HTTP 200 once the push is
taken or was taken before, 5xx when it could not be (the provider retries, and the push ids of
that push are forgotten so the retry acts). `on_results` is the hub's: it applies fresh results
to escalation and says whether it took them (False: e.g. a call id not committed yet).
"""

from __future__ import annotations

import hmac
import logging
from collections import OrderedDict
from collections.abc import Callable
from threading import Lock
from typing import Protocol

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from hub.dispatch.providers.voice import CallResult, VoiceProvider

log = logging.getLogger("pingan.webhooks.voice")

PATHS = {
    "aliyun": "/webhooks/aliyun/voice-report/{token}",
    "tencent": "/webhooks/tencent/voice-status/{token}",
}


class DeliveryLog(Protocol):
    """Which pushes were taken (SmsReplies implements it on the `sms_inbound` table)."""

    def first_delivery(self, provider: str, sid: str) -> bool: ...

    def forget_delivery(self, provider: str, sid: str) -> None: ...


class RecentPushes:
    """The push ids this process took, the newest `size` of them (one hub without a database log)."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._lock = Lock()

    def first_delivery(self, provider: str, sid: str) -> bool:
        with self._lock:
            if (provider, sid) in self._seen:
                return False
            self._seen[(provider, sid)] = None
            if len(self._seen) > self.size:
                self._seen.popitem(last=False)
            return True

    def forget_delivery(self, provider: str, sid: str) -> None:
        with self._lock:
            self._seen.pop((provider, sid), None)


def voice_webhooks_router(
    provider: VoiceProvider,
    on_results: Callable[[list[CallResult]], bool],
    token: str,
    deliveries: DeliveryLog | None = None,
) -> APIRouter:
    if provider.name not in PATHS:
        raise ValueError(f"no voice webhook for provider {provider.name!r}")
    if len(token) < 16:
        raise ValueError("sms.webhook_token must be at least 16 characters: it is the only guard of the pushes")
    router = APIRouter(tags=["webhooks"])
    log_of = deliveries or RecentPushes()
    kind = f"{provider.name}-voice"  # its own namespace among the inbound ids

    def take(results: list[CallResult]) -> bool:
        """In the thread pool: the fresh results to the hub; forgotten again when not taken."""
        fresh = [r for r in results if log_of.first_delivery(kind, r.push_id or r.call_id)]
        if not fresh:
            return True
        try:
            taken = on_results(fresh)
        except Exception:
            log.exception("webhook.voice_failed provider=%s", provider.name)
            taken = False
        if not taken:
            for result in fresh:
                log_of.forget_delivery(kind, result.push_id or result.call_id)
        return taken

    @router.post(PATHS[provider.name], include_in_schema=False)
    async def voice_push(request: Request) -> Response:
        given = request.path_params.get("token", "")
        if not hmac.compare_digest(given.encode(), token.encode()):
            log.warning("webhook.voice_bad_token provider=%s", provider.name)
            return Response("not found", status_code=404, media_type="text/plain")
        try:
            results = provider.parse_call_push(await request.body())
        except ValueError as exc:
            log.warning("webhook.voice_bad_request provider=%s: %s", provider.name, exc)
            return Response(str(exc), status_code=400, media_type="text/plain")
        ok = await run_in_threadpool(take, results)
        return JSONResponse(provider.push_answer(ok), status_code=200 if ok else 503)

    return router
