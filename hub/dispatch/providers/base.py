"""The provider port: send, delivery receipt, inbound reply, status query, webhook check.

Shaped so that domestic providers fit as well as Twilio (see docs/DISPATCH.md):
- send returns the provider's message id (Twilio `sid`, Aliyun `BizId`, Tencent `SerialNo`),
  or raises `ProviderError` with `recoverable` telling the retry stage what to do;
- delivery receipts and replies arrive as request parameters (Twilio webhooks) or as pushed
  JSON (Aliyun SmsReport/SmsUp, Tencent callbacks: `PushProvider`) and are parsed into
  `StatusUpdate` and `InboundReply`;
- `query_status` asks the provider directly (Twilio fetch, Aliyun QuerySendDetails).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable


class DeliveryState(StrEnum):
    QUEUED = "queued"  # in our outbox, not handed over yet
    SENDING = "sending"  # claimed by a sender (leased), request in flight
    SENT = "sent"  # the provider accepted it
    DELIVERED = "delivered"  # the handset received it (delivery receipt)
    UNDELIVERED = "undelivered"  # the carrier gave up (receipt)
    FAILED = "failed"  # refused for good, or out of attempts
    EXPIRED = "expired"  # its validity ran out before it could be sent
    CANCELLED = "cancelled"  # no longer needed (the alert resolved before it went out)
    HELD = "held"  # waiting for the daily digest
    DIGESTED = "digested"  # went out inside a digest message


#: States after which a message is settled: nothing more will happen to it locally.
FINAL_STATES = frozenset(
    {
        DeliveryState.DELIVERED,
        DeliveryState.UNDELIVERED,
        DeliveryState.FAILED,
        DeliveryState.EXPIRED,
        DeliveryState.CANCELLED,
        DeliveryState.DIGESTED,
    }
)
#: States meaning the recipient was (or is about to be) told.
TOLD_STATES = frozenset({DeliveryState.SENDING, DeliveryState.SENT, DeliveryState.DELIVERED})


@dataclass(frozen=True, slots=True)
class SendResult:
    sid: str
    accepted: bool  # the provider took responsibility for the message
    status: str = "queued"  # the provider's own status word


class ProviderError(Exception):
    """A send that did not go through. `recoverable`: try again later (429, 5xx, timeout)."""

    def __init__(self, recoverable: bool, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.recoverable = recoverable
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    sid: str
    state: DeliveryState  # mapped to our states
    provider_status: str  # the provider's word, kept for the log
    error_code: str | None = None


@dataclass(frozen=True, slots=True)
class InboundReply:
    from_number: str
    to_number: str
    body: str
    sid: str


@dataclass(frozen=True, slots=True)
class TemplateMessage:
    """The text as a template of the catalogue (alerts/templates.py): what domestic providers send."""

    template: str  # catalogue id, e.g. "sos"
    params: Mapping[str, str]
    language: str = "zh"


class SmsProvider(Protocol):
    name: str

    def send(
        self,
        to: str,
        body: str,
        validity_s: int,
        status_callback: str | None,
        template: TemplateMessage | None = None,
    ) -> SendResult:
        """Twilio and console send `body` (the template rendered here); domestic providers send
        `template` (code and parameters) and refuse a message without one."""
        ...

    def parse_status_callback(self, params: Mapping[str, str]) -> StatusUpdate: ...

    def parse_inbound_reply(self, params: Mapping[str, str]) -> InboundReply: ...

    def query_status(self, sid: str, phone: str = "", sent_at: float | None = None) -> StatusUpdate:
        """Ask the provider (Twilio fetch, Aliyun QuerySendDetails: that one needs number and time)."""
        ...

    def validate_request(self, url: str, params: Mapping[str, str], signature: str) -> bool:
        """Is this webhook request really from the provider?"""
        ...

    def reply_document(self, text: str | None) -> tuple[str, str]:
        """(body, media type) answering an inbound reply with `text` (None: answer nothing)."""
        ...


@runtime_checkable
class PushProvider(Protocol):
    """A domestic provider's pushes (Aliyun SmsReport/SmsUp, Tencent status and reply callbacks):
    JSON bodies, not signed; the webhook router guards them with a secret path token."""

    name: str

    def parse_status_push(self, body: bytes) -> list[StatusUpdate]:
        """Receipts in a push; ValueError when it is not one."""
        ...

    def parse_reply_push(self, body: bytes) -> list[InboundReply]:
        """Replies in a push, each with an id that is the same when the push is repeated."""
        ...

    def push_answer(self, ok: bool) -> dict[str, object]:
        """The JSON the provider expects back: taken (ok) or not (it retries)."""
        ...


class NoFormWebhooks:
    """The Twilio-style form webhooks, for providers that push JSON instead: they refuse everything."""

    def parse_status_callback(self, params: Mapping[str, str]) -> StatusUpdate:
        raise ValueError("this provider pushes receipts as JSON to its own webhook")

    def parse_inbound_reply(self, params: Mapping[str, str]) -> InboundReply:
        raise ValueError("this provider pushes replies as JSON to its own webhook")

    def validate_request(self, url: str, params: Mapping[str, str], signature: str) -> bool:
        return False

    def reply_document(self, text: str | None) -> tuple[str, str]:
        return "", "text/plain; charset=utf-8"
