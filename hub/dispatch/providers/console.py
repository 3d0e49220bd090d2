"""The console provider (demo): prints each message, keeps the latest in memory, reports it delivered.

Its log record masks responder links (credentials) itself, so the body is safe in logs even
where no `PhoneMaskFilter` is installed; the printed line is the demo's stand-in for the SMS and
keeps them (docs/SECURITY.md). `messages` keeps the last `KEPT_MESSAGES` only: a demo left
running must not grow without bound.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from hub.dispatch.providers.base import DeliveryState, InboundReply, SendResult, StatusUpdate, TemplateMessage
from hub.logging_setup import mask_secrets

log = logging.getLogger("pingan.sms.console")
KEPT_MESSAGES = 1000


@dataclass(frozen=True, slots=True)
class ConsoleMessage:
    sid: str
    to: str
    body: str
    validity_s: int
    template: TemplateMessage | None = None


class ConsoleProvider:
    """Accepts everything. Sids are derived from the content and a counter (no randomness)."""

    name = "console"

    def __init__(self, echo: bool = True) -> None:
        self.echo = echo
        self.messages: deque[ConsoleMessage] = deque(maxlen=KEPT_MESSAGES)
        self._counter = itertools.count()
        self._lock = threading.Lock()

    def send(
        self,
        to: str,
        body: str,
        validity_s: int,
        status_callback: str | None,
        template: TemplateMessage | None = None,
    ) -> SendResult:
        with self._lock:
            seed = f"{next(self._counter)}\x1f{to}\x1f{body}".encode()
            sid = "CM" + hashlib.blake2b(seed, digest_size=16).hexdigest()
            self.messages.append(ConsoleMessage(sid, to, body, validity_s, template))
        log.info("sms.console sid=%s to=%s validity_s=%d body=%s", sid, to, validity_s, mask_secrets(body))
        if self.echo:
            print(f"SMS to {to}: {body}", flush=True)
        return SendResult(sid, accepted=True, status="delivered")

    def parse_status_callback(self, params: Mapping[str, str]) -> StatusUpdate:
        return StatusUpdate(params.get("MessageSid", ""), DeliveryState.DELIVERED, "delivered")

    def parse_inbound_reply(self, params: Mapping[str, str]) -> InboundReply:
        return InboundReply(
            params.get("From", ""), params.get("To", ""), params.get("Body", ""), params.get("MessageSid", "")
        )

    def query_status(self, sid: str, phone: str = "", sent_at: float | None = None) -> StatusUpdate:
        return StatusUpdate(sid, DeliveryState.DELIVERED, "delivered")

    def validate_request(self, url: str, params: Mapping[str, str], signature: str) -> bool:
        # The console provider receives no webhooks from outside; refuse everything.
        return False

    def reply_document(self, text: str | None) -> tuple[str, str]:
        return (text or "", "text/plain; charset=utf-8")
