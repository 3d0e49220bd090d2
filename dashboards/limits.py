"""Request body size limits for every endpoint: an ASGI middleware (docs/SECURITY.md, finding 2).

Nothing the hub serves takes a large body: forms and JSON of the board and the API are a few
KB, a Twilio webhook is a form of at most a few KB (an SMS body is at most 1,600 characters).
A body over the limit gets 413 before the application reads it: at once when the declared
Content-Length says so, else (chunked) as soon as the bytes received pass the limit. The limits
are constants, not settings: nobody needs more, and a setting is one more way to get it wrong.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DEFAULT_MAX_BODY = 1024 * 1024  # 1 MiB: any board form or API request
WEBHOOK_MAX_BODY = 64 * 1024  # the SMS provider's callbacks
UPLOAD_MAX_BODY = 64 * 1024 * 1024  # the workspace's CSV upload: 100,000 residents with contacts and devices
LIMITS: tuple[tuple[str, int], ...] = (("/webhooks/", WEBHOOK_MAX_BODY), ("/workspace/import", UPLOAD_MAX_BODY))


def limit_for(path: str) -> int:
    return next((limit for prefix, limit in LIMITS if path.startswith(prefix)), DEFAULT_MAX_BODY)


class BodySizeLimit:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = limit_for(scope.get("path", ""))
        declared = _content_length(scope)
        if declared is not None:  # the server delivers no more than it declares
            if declared > limit:
                await _too_large(send, limit)
                return
            await self.app(scope, receive, send)
            return
        # Chunked (or no body): read it here, at most `limit` bytes, then hand it on in one piece.
        # Raising from inside the app instead would surface as a 500 through the middlewares'
        # task groups.
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client left: the app sees the disconnect below
            body += message.get("body", b"")
            if len(body) > limit:
                await _too_large(send, limit)
                return
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _too_large(send: Send, limit: int) -> None:
    body = f"request body over {limit} bytes".encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
