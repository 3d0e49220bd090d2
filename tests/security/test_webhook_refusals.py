"""Finding 2: unsigned webhook posts filled the database (an audit row with the sender's `From`
per request, no size or rate limit). Against the whole app (`build_hub`, real Twilio SDK
validation with the local Twilio-compatible server), on SQLite and PostgreSQL:
- nothing is written to any table for a request that is not authenticated;
- refusals are counted in prometheus (`pingan_webhook_refused_total`) and logged rate limited;
- every endpoint refuses a body over its limit (413), declared or chunked."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from dispatch.conftest import DEFAULT_ESCALATION
from dispatch.conftest import twilio_server as twilio_server
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import func, inspect, select, text
from support.twilio_server import TwilioTestServer

from dashboards.limits import WEBHOOK_MAX_BODY, limit_for
from hub.clock import VirtualClock
from hub.config import Config
from hub.dispatch.providers.twilio import TwilioProvider
from pingan.wiring import Hub, build_hub

PUBLIC_URL = "https://hub.example.org"
HUB_NUMBER = "+15005550006"
NOW = 1_790_000_000.0


@pytest.fixture
def hub(db_url: str, twilio_server: TwilioTestServer) -> Iterator[Hub]:
    config = Config.model_validate({
        "database": {"url": db_url}, "mqtt": {"url": "mqtt://127.0.0.1:9", "client_id": "sec-tests"},
        "http": {"public_url": PUBLIC_URL, "secret_key": "k" * 32}, "escalation": DEFAULT_ESCALATION,
    })
    provider = TwilioProvider(twilio_server.account_sid, twilio_server.auth_token, HUB_NUMBER, twilio_server.base_url)
    hub = build_hub(config, clock=VirtualClock(NOW), provider=provider)
    yield hub
    for engine in hub.engines:
        engine.dispose()


def _rows(hub: Hub) -> dict[str, int]:
    engine = hub.engines[0]
    with engine.connect() as conn:
        return {t: conn.execute(select(func.count()).select_from(text(f'"{t}"'))).scalar_one()
                for t in inspect(engine).get_table_names()}


def _refused(hub: Hub, path: str, reason: str) -> float:
    assert hub.metrics_registry is not None
    return hub.metrics_registry.get_sample_value("pingan_webhook_refused_total", {"path": path, "reason": reason}) or 0.0


def test_unsigned_posts_write_nothing_are_counted_and_logged_rate_limited(
        hub: Hub, caplog: pytest.LogCaptureFixture) -> None:
    before = _rows(hub)
    client = TestClient(hub.app, base_url="https://hub.example.org")
    with caplog.at_level(logging.WARNING, logger="pingan.webhooks"):
        for i in range(20):
            form = {"MessageSid": f"SM{i:032x}", "From": "+86" + "1" * 20_000, "To": HUB_NUMBER, "Body": "9"}
            headers = {} if i % 2 else {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}
            assert client.post("/webhooks/twilio/sms", data=form, headers=headers).status_code == 403
            status = {"MessageSid": f"SM{i:032x}", "MessageStatus": "delivered"}
            assert client.post("/webhooks/twilio/status", data=status).status_code == 403
    assert _rows(hub) == before  # not one row anywhere
    assert _refused(hub, "/webhooks/twilio/sms", "signature_missing") == 10
    assert _refused(hub, "/webhooks/twilio/sms", "signature_bad") == 10
    assert _refused(hub, "/webhooks/twilio/status", "signature_missing") == 20
    lines = [r.getMessage() for r in caplog.records if r.name == "pingan.webhooks"]
    assert len(lines) == 3, lines  # one per (path, reason) in the minute, not one per request
    assert all("1" * 100 not in line for line in lines)  # the sender's From is not logged either


def _body_routes(hub: Hub) -> list[tuple[str, str]]:
    """(method, path) of every route that takes a body, included routers walked."""
    found: list[tuple[str, str]] = []

    def walk(routes: list[object], prefix: str) -> None:
        for route in routes:
            inner = getattr(route, "original_router", None)  # FastAPI's included router
            if inner is not None:
                walk(inner.routes, prefix + route.include_context.prefix)  # type: ignore[attr-defined]
            elif isinstance(route, APIRoute):
                path = (prefix + route.path).replace("{", "").replace("}", "")  # any value for a parameter
                found.extend((m, path) for m in sorted(route.methods) if m in ("POST", "PUT", "PATCH", "DELETE"))

    walk(list(hub.app.routes), "")
    return found


def test_every_endpoint_refuses_an_oversized_body(hub: Hub) -> None:
    before = _rows(hub)
    client = TestClient(hub.app, base_url="https://hub.example.org")
    routes = _body_routes(hub)
    assert ("POST", "/webhooks/twilio/sms") in routes and ("POST", "/login") in routes and len(routes) > 5
    for method, path in [*routes, ("GET", "/"), ("GET", "/api/v1/alerts")]:
        big = b"x" * (limit_for(path) + 1)  # 1 MiB, the webhooks' 64 KiB, the CSV upload's 64 MiB
        response = client.request(method, path, content=big, headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert response.status_code == 413, (method, path, response.status_code)
    # The webhooks take far less than the default: a 200 KB `From` is refused before it is parsed.
    form = {"MessageSid": "SM1", "From": "+86" + "1" * 200_000, "Body": "9"}
    assert client.post("/webhooks/twilio/sms", data=form).status_code == 413
    # Without a Content-Length (chunked), the body is counted as it arrives.
    def chunks() -> Iterator[bytes]:
        for _ in range(WEBHOOK_MAX_BODY // 1000 + 2):
            yield b"a" * 1000
    assert client.post("/webhooks/twilio/sms", content=chunks(),
                       headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 413
    assert _rows(hub) == before
    # Within the limit, the app answers as before.
    assert client.post("/webhooks/twilio/sms", data={"From": "+8613800000001"}).status_code == 403

