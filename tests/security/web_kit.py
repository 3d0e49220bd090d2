"""Shared bits of the web security tests: the web fixtures of tests/web, a client at a chosen
address, a Starlette session cookie forged with a known key."""

from __future__ import annotations

import json
from base64 import b64encode

from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner
from web.conftest import SECRET, Web, build_web, csrf_of, make_config  # noqa: F401  (re-exported)
from web.seed import PASSWORD  # noqa: F401

COOKIE = "pingan_session"


def client_at(web: Web, address: str) -> TestClient:
    """A browser at `address` (what `request.client.host` says)."""
    return TestClient(web.app, base_url="http://127.0.0.1", client=(address, 50000))


def login(client: TestClient, user: str, password: str) -> int:
    csrf = csrf_of(client.get("/login").text)
    return client.post("/login", data={"username": user, "password": password, "csrf": csrf}, follow_redirects=False).status_code


def forged_cookie(data: dict[str, object], key: str = SECRET) -> str:
    """What Starlette's SessionMiddleware would set for `data` under `key`."""
    return TimestampSigner(key).sign(b64encode(json.dumps(data).encode())).decode()
