"""Web fixtures: the whole hub (`pingan.wiring.build_hub`: ingestion writer, rules core, dispatcher,
outbox, web app) over a test database (SQLite and PostgreSQL) on a virtual clock, seeded by
device messages (seed.py), and TestClients of its app.

Nothing is started: no broker connection, no scheduler or sender thread. The seed and the
tests move the clock and call `core.tick()` / `sender.run_once()` themselves, so every alert
command from the board or the API goes through the real engine.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from dashboards.live import EventBus
from hub.clock import VirtualClock
from hub.config import Config
from hub.dispatch.links import sign_responder_link
from pingan.wiring import Hub, build_hub

from .seed import NOW, PASSWORD, OptedOut, Seeded, seed

SECRET = "test-secret-key"
PUBLIC_URL = "http://127.0.0.1:8000"


def make_config(db_url: str, secret: str | None = SECRET, mqtt_url: str = "mqtt://127.0.0.1:9") -> Config:
    """The hub's configuration for the tests (nothing listens on port 9: the broker is never used)."""
    return Config.model_validate(
        {
            "database": {"url": db_url},
            "mqtt": {"url": mqtt_url, "client_id": "pingan-web-tests"},
            "escalation": _escalation(),
            "http": {"public_url": PUBLIC_URL, "secret_key": secret},
        }
    )


def _escalation() -> dict[str, object]:
    return {
        "critical": [{"notify": ["grid_worker", "family"], "wait": "5m"}, {"notify": ["grid_leader"], "wait": "5m"}, {"notify": ["operator"]}],
        "high": [{"notify": ["grid_worker"], "wait": "15m"}, {"notify": ["grid_leader", "family"], "wait": "15m"}, {"notify": ["operator"]}],
        "low": [{"notify": ["grid_worker"], "digest": "daily"}],
    }


@dataclass
class Web:
    hub: Hub
    app: FastAPI
    clock: VirtualClock
    seeded: Seeded

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self.hub.sessions

    @property
    def bus(self) -> EventBus:
        return self.hub.bus

    def client(self) -> TestClient:
        return TestClient(self.app, base_url="http://127.0.0.1")

    def login(self, role: str) -> TestClient:
        client = self.client()
        form = client.get("/login")
        csrf = csrf_of(form.text)
        response = client.post("/login", data={"username": role, "password": PASSWORD, "csrf": csrf, "next": "/"}, follow_redirects=False)
        assert response.status_code == 303, response.text
        return client

    def bearer(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.seeded.tokens[role]}"}

    def responder_token(self, alert_id: str, phone: str = "+8613800000001", ttl_s: float = 3600) -> str:
        """A signed responder link as the dispatcher puts in an SMS (default: 王网格员's phone)."""
        return sign_responder_link(SECRET, alert_id, phone, self.clock.now() + ttl_s)

    def settle(self) -> None:
        """What the hub's threads would do next: fire due deadlines and escalation, send the outbox."""
        self.hub.core.tick()
        while self.hub.sender.run_once():
            pass

    def close(self) -> None:
        for engine in self.hub.engines:
            engine.dispose()


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match[1]


def build_web(db_url: str, now: float = NOW, mqtt_url: str = "mqtt://127.0.0.1:9") -> Web:
    clock = VirtualClock(now - 15 * 86400)
    hub = build_hub(make_config(db_url, mqtt_url=mqtt_url), clock=clock, provider=OptedOut())
    seeded = seed(hub, now)
    return Web(hub, hub.app, clock, seeded)


@pytest.fixture
def web(db_url: str) -> Iterator[Web]:
    w = build_web(db_url)
    yield w
    w.close()
