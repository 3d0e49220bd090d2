"""Twilio through the official SDK, optionally pointed at a Twilio-compatible server.

`api_base_url` (tests, or a regional proxy) is honoured by `BaseUrlHttpClient`, a
`TwilioHttpClient` whose requests to `https://api.twilio.com` go to the base URL instead;
everything else (auth, form encoding, error parsing) stays the SDK's own. Error mapping:
HTTP 429, 5xx, timeouts and connection errors are recoverable; Twilio's refusals of a number
(21211 invalid, 21610 opted out, 21614 not a mobile, 21408 region not enabled, 21612 cannot
route) are permanent; 401/403 are treated as recoverable because a wrong credential is fixed
by the operator, and failing every queued alert message for it would escalate into nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse

from hub.dispatch.providers.base import (
    DeliveryState,
    InboundReply,
    ProviderError,
    SendResult,
    StatusUpdate,
    TemplateMessage,
)

log = logging.getLogger("pingan.sms.twilio")

TWILIO_API = "https://api.twilio.com"
PERMANENT_CODES = frozenset({21211, 21408, 21610, 21612, 21614, 21606, 21660})
#: Twilio accepts validity periods between 1 s and 36,000 s (10 h).
MAX_VALIDITY_S = 36_000

_STATUS = {
    "accepted": DeliveryState.SENT,
    "queued": DeliveryState.SENT,
    "sending": DeliveryState.SENT,
    "sent": DeliveryState.SENT,
    "delivered": DeliveryState.DELIVERED,
    "undelivered": DeliveryState.UNDELIVERED,
    "failed": DeliveryState.FAILED,
    "canceled": DeliveryState.CANCELLED,
}


class BaseUrlHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """Sends the SDK's requests for https://api.twilio.com to `base_url` instead."""

    def __init__(self, base_url: str, timeout: float | None = None) -> None:
        super().__init__(timeout=timeout)
        self.base_url = base_url.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        if url.startswith(TWILIO_API):
            url = self.base_url + url[len(TWILIO_API) :]
        return super().request(method, url, *args, **kwargs)


class TwilioProvider:
    name = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str,
        api_base_url: str | None = None,
        timeout_s: float = 15.0,
    ) -> None:
        http_client = BaseUrlHttpClient(api_base_url or TWILIO_API, timeout=timeout_s)
        self.client = Client(account_sid, auth_token, http_client=http_client)
        # The SDK imports its API modules on first use (~0.5 s on a busy machine): do it now, not
        # on the first SOS text (benchmarks/backlog.py).
        _ = self.client.messages
        self.from_number = from_number
        self._validator = RequestValidator(auth_token)

    def send(
        self,
        to: str,
        body: str,
        validity_s: int,
        status_callback: str | None,
        template: TemplateMessage | None = None,
    ) -> SendResult:
        kwargs: dict[str, Any] = {
            "to": to,
            "from_": self.from_number,
            "body": body,
            "validity_period": max(1, min(int(validity_s), MAX_VALIDITY_S)),
        }
        if status_callback:
            kwargs["status_callback"] = status_callback
        try:
            message = self.client.messages.create(**kwargs)
        except TwilioRestException as exc:
            raise _classify(exc) from exc
        except requests.Timeout as exc:
            raise ProviderError(True, "timeout", str(exc)) from exc
        except requests.RequestException as exc:
            raise ProviderError(True, "connection", str(exc)) from exc
        return SendResult(str(message.sid), accepted=True, status=str(message.status))

    def parse_status_callback(self, params: Mapping[str, str]) -> StatusUpdate:
        status = params.get("MessageStatus") or params.get("SmsStatus") or ""
        sid = params.get("MessageSid") or params.get("SmsSid") or ""
        if not sid or status not in _STATUS:
            raise ValueError(f"not a Twilio status callback: MessageSid={sid!r} MessageStatus={status!r}")
        return StatusUpdate(sid, _STATUS[status], status, params.get("ErrorCode") or None)

    def parse_inbound_reply(self, params: Mapping[str, str]) -> InboundReply:
        if not params.get("From"):
            raise ValueError("not a Twilio inbound message: no From")
        if not params.get("MessageSid"):
            raise ValueError("not a Twilio inbound message: no MessageSid")  # a reply acts once per id
        return InboundReply(params["From"], params.get("To", ""), params.get("Body", ""), params.get("MessageSid", ""))

    def query_status(self, sid: str, phone: str = "", sent_at: float | None = None) -> StatusUpdate:
        try:
            message = self.client.messages(sid).fetch()
        except TwilioRestException as exc:
            raise _classify(exc) from exc
        except requests.RequestException as exc:
            raise ProviderError(True, "connection", str(exc)) from exc
        status = str(message.status)
        code = None if message.error_code is None else str(message.error_code)
        return StatusUpdate(sid, _STATUS.get(status, DeliveryState.SENT), status, code)

    def validate_request(self, url: str, params: Mapping[str, str], signature: str) -> bool:
        return bool(signature) and bool(self._validator.validate(url, dict(params), signature))

    def reply_document(self, text: str | None) -> tuple[str, str]:
        response = MessagingResponse()
        if text:
            response.message(text)
        return str(response), "application/xml"


def _classify(exc: TwilioRestException) -> ProviderError:
    code = exc.code
    status = exc.status
    message = str(exc.msg)
    if code is not None and int(code) in PERMANENT_CODES:
        return ProviderError(False, str(code), message)
    if status == 429 or status >= 500 or status in (401, 403):
        return ProviderError(True, str(code or status), message)
    return ProviderError(False, str(code or status), message)
