"""Deterministic alert ids and short codes, derived from content (no random, no uuid4).

The id is a hash of (resident, kind, discriminator, opened_at); the short code (`A7K2`) is
four characters from an alphabet without look-alikes (no 0/O, 1/I/L), so it can be read out
over the phone and typed in an SMS reply. Collisions with codes in use are resolved by
rehashing with a counter, so the result stays a pure function of content and state.
"""

from __future__ import annotations

import hashlib
from collections.abc import Container

CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 4


def _digest(*parts: object) -> bytes:
    return hashlib.blake2b("\x1f".join(str(p) for p in parts).encode(), digest_size=16).digest()


def alert_id(resident: str, kind: str, discriminator: str, opened_at: float, taken: Container[str] = ()) -> str:
    salt = 0
    while True:
        candidate = "al-" + _digest(resident, kind, discriminator, repr(float(opened_at)), salt).hex()[:16]
        if candidate not in taken:
            return candidate
        salt += 1


def short_code(seed: str, taken: Container[str] = ()) -> str:
    salt = 0
    while True:
        number = int.from_bytes(_digest(seed, "code", salt)[:8], "big")
        chars = []
        for _ in range(CODE_LENGTH):
            number, index = divmod(number, len(CODE_ALPHABET))
            chars.append(CODE_ALPHABET[index])
        candidate = "".join(chars)
        if candidate not in taken:
            return candidate
        salt += 1
