"""Signed responder links, `{public_url}/r/{token}`, and their short form `{public_url}/s/{code}`.

`/r/{token}` opens one alert for one responder.

The token carries the alert id, the responder's phone (digits) and an expiry, signed with
itsdangerous under the hub's secret key. The signature is an HMAC-SHA256 truncated to 96 bits
(16 URL-safe characters): enough against forgery for a link that lives as long as an alert,
and it keeps the SMS short. The link is also bound to the phone it was sent to, so a
forwarded link still names who it was meant for.

The signed link is about 80 characters, which would make every Chinese alert text two
segments; SMS texts carry the short form instead: `/s/` plus SHORT_CODE_LEN random
characters (62^6 ≈ 5.7·10^10 codes), stored in `short_links` with the signed link it redirects
to and the same expiry. A guessed code is worth no more than the signed link behind it, and
there are only as many live codes as alert texts of the last day. An https hub's short link
is written without its scheme (`hub.example.org/s/Ab3xK9`, see `short_url`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
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


SHORT_CODE_LEN = 6
_SHORT_ALPHABET = string.ascii_letters + string.digits


def new_short_code() -> str:
    return "".join(secrets.choice(_SHORT_ALPHABET) for _ in range(SHORT_CODE_LEN))


def is_short_code(code: str) -> bool:
    return len(code) == SHORT_CODE_LEN and all(c in _SHORT_ALPHABET for c in code)


def short_url(public_url: str, code: str) -> str:
    """`host/s/code` for an https hub: phones link a host name without its scheme, and the
    8 units of `https://` are an eighth of a Chinese segment (the proxy sends http to https,
    deploy/Caddyfile); a plain-http hub (a test bench) keeps its scheme."""
    base = public_url.rstrip("/")
    if base.startswith("https://"):
        base = base[len("https://") :]
    return f"{base}/s/{code}"


def _base36(value: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        value, rem = divmod(value, 36)
        out = digits[rem] + out
        if value == 0:
            return out
