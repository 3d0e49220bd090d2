"""Short signed responder links: `{public_url}/r/{token}` opens one alert for one responder.

The token carries the alert id, the responder's phone (digits) and an expiry, signed with
itsdangerous under the hub's secret key. The signature is an HMAC-SHA256 truncated to 96 bits
(16 URL-safe characters): enough against forgery for a link that lives as long as an alert,
and it keeps the SMS short. The link is also bound to the phone it was sent to, so a
forwarded link still names who it was meant for.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from itsdangerous import BadSignature, Signer
from itsdangerous.signer import SigningAlgorithm

SALT = "pingan.responder-link.v1"
MAC_BYTES = 12
FIELD_SEP = "_"


class TruncatedHmacSha256(SigningAlgorithm):
    def get_signature(self, key: bytes, value: bytes) -> bytes:
        return hmac.new(key, value, hashlib.sha256).digest()[:MAC_BYTES]


@dataclass(frozen=True, slots=True)
class ResponderLink:
    alert_id: str
    responder_phone: str  # E.164, "+" restored
    expires_at: float


def _signer(secret: str | bytes) -> Signer:
    return Signer(secret, salt=SALT, algorithm=TruncatedHmacSha256())


def sign_responder_link(secret: str | bytes, alert_id: str, responder_phone: str, expires_at: float) -> str:
    """The token for `/r/{token}`."""
    if FIELD_SEP in alert_id or "." in alert_id:
        raise ValueError(f"alert id {alert_id!r} may not contain {FIELD_SEP!r} or '.'")
    digits = responder_phone.lstrip("+")
    if not digits.isdigit():
        raise ValueError(f"phone {responder_phone!r} is not E.164")
    payload = FIELD_SEP.join((alert_id, digits, _base36(int(expires_at))))
    return _signer(secret).sign(payload).decode()


def verify_responder_link(secret: str | bytes, token: str, now: float) -> ResponderLink | None:
    """The link's claim, or None when it is tampered with, malformed or expired."""
    try:
        payload = _signer(secret).unsign(token).decode()
    except (BadSignature, UnicodeDecodeError):
        return None
    parts = payload.split(FIELD_SEP)
    if len(parts) != 3:
        return None
    alert_id, digits, expiry = parts
    try:
        expires_at = float(int(expiry, 36))
    except ValueError:
        return None
    if now > expires_at:
        return None
    return ResponderLink(alert_id, "+" + digits, expires_at)


def responder_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/r/{token}"


def _base36(value: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        value, rem = divmod(value, 36)
        out = digits[rem] + out
        if value == 0:
            return out
