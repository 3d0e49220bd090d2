"""Web fixtures: a seeded database (SQLite and PostgreSQL), the app built by create_app, a TestClient."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from dashboards.app import ResponderClaim, WebServices, create_app
from dashboards.live import EventBus
from hub.clock import VirtualClock
from hub.config import Config
from hub.storage.db import make_engine, make_sessions

from .fakes import DbAbsenceCommands, DbAlertCommands
from .seed import NOW, PASSWORD, Seeded, seed

# Responder links in these tests: "good-<alert id>" is valid; anything else is not.
VALID_LINK = re.compile(r"^good-(?P<alert>[\w.:-]+)$")


def fake_link_verifier(token: str) -> ResponderClaim | None:
    match = VALID_LINK.match(token)
    return ResponderClaim(match["alert"], "wang", "王网格员") if match else None


def make_config(secret: str | None = "test-secret-key") -> Config:
    return Config.model_validate(
        {"escalation": _escalation(), "http": {"public_url": "http://127.0.0.1:8000", "secret_key": secret}}
    )


def _escalation() -> dict[str, object]:
    return {
        "critical": [{"notify": ["grid_worker", "family"], "wait": "5m"}, {"notify": ["operator"]}],
        "high": [{"notify": ["grid_worker"], "wait": "15m"}, {"notify": ["operator"]}],
        "low": [{"notify": ["grid_worker"], "digest": "daily"}],
    }


@dataclass
class Web:
    app: FastAPI
    services: WebServices
    sessions: sessionmaker[Session]
    clock: VirtualClock
    bus: EventBus
    seeded: Seeded

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


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match[1]


def build_web(db_url: str) -> Web:
    engine = make_engine(db_url)
    sessions = make_sessions(engine)
    clock = VirtualClock(NOW)
    bus = EventBus()
    seeded = seed(sessions, NOW)
    services = WebServices(
        sessions=sessions,
        config=make_config(),
        alert_commands=DbAlertCommands(sessions, clock, bus),
        absence_commands=DbAbsenceCommands(sessions, clock, bus),
        events=bus,
        clock=clock,
        verify_responder_link=fake_link_verifier,
    )
    return Web(create_app(services), services, sessions, clock, bus, seeded)


@pytest.fixture
def web(db_url: str) -> Iterator[Web]:
    w = build_web(db_url)
    yield w
    w.sessions.kw["bind"].dispose()
