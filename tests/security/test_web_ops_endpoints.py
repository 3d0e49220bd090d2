"""Finding 13 of issue 16: /metrics needs a token or lives on its own listener; the API docs
(/openapi.json, /docs) need a login unless configured public."""

from __future__ import annotations

import httpx
from conftest import free_port, wait_for_port
from fastapi.testclient import TestClient
from web.seed import OptedOut

from hub.config import Config
from pingan.wiring import build_hub

from .web_kit import Web, make_config


def _hub(db_url: str, **http: object):  # type: ignore[no-untyped-def]
    base = make_config(db_url).model_dump(mode="json")
    base["http"].update(http, secret_key="test-secret-key")
    return build_hub(Config.model_validate(base), provider=OptedOut())


def test_metrics_need_the_token(db_url: str) -> None:
    hub = _hub(db_url, metrics_token="scrape-me-0123456789")
    try:
        client = TestClient(hub.app)
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        scraped = client.get("/metrics", headers={"Authorization": "Bearer scrape-me-0123456789"})
        assert scraped.status_code == 200 and "pingan_" in scraped.text
    finally:
        for engine in hub.engines:
            engine.dispose()


def test_metrics_on_their_own_listener(db_url: str) -> None:
    port = free_port()
    hub = _hub(db_url, metrics_port=port)
    try:
        assert TestClient(hub.app).get("/metrics").status_code == 404  # not on the public port
        from pingan.wiring import start_metrics_listener

        listener = start_metrics_listener(hub)
        assert listener is not None
        try:
            wait_for_port(port)
            assert "pingan_" in httpx.get(f"http://127.0.0.1:{port}/metrics").text
        finally:
            listener.stop()
    finally:
        for engine in hub.engines:
            engine.dispose()


def test_api_docs_need_a_login(web: Web) -> None:
    anonymous = web.client()
    assert anonymous.get("/openapi.json").status_code == 401
    assert anonymous.get("/docs", follow_redirects=False).status_code == 303
    assert web.client().get("/openapi.json", headers=web.bearer("viewer")).status_code == 200
    viewer = web.login("viewer")
    assert viewer.get("/openapi.json").status_code == 200 and viewer.get("/docs").status_code == 200


def test_api_docs_can_be_public(db_url: str) -> None:
    hub = _hub(db_url, api_docs="public")
    try:
        client = TestClient(hub.app)
        assert client.get("/openapi.json").status_code == 200 and client.get("/docs").status_code == 200
    finally:
        for engine in hub.engines:
            engine.dispose()
