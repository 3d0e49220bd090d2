"""Fixtures for dispatch tests: a small community in a real database, the default escalation
policy, a Twilio-compatible server, and a hand-written AlertCommands fake at the port."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from support.reasons import OPENING
from support.twilio_server import TwilioTestServer

from alerts.actions import (
    Alert,
    AlertKind,
    AlertResolved,
    AlertState,
    AlertUpdated,
    Outcome,
    Reason,
    Severity,
    Transition,
)
from alerts.config import EscalationConfig, VolunteersConfig
from alerts.escalation import EscalationPolicy
from hub.dispatch.dispatcher import Dispatcher, _alert_of
from hub.ports import AlertNotFound, AlertView, InvalidTransition
from hub.storage import models as m
from hub.storage.alert_store import alert_view, save_alert
from hub.storage.db import make_engine, make_sessions

T0 = 1_764_124_800.0  # 2025-11-26 02:40 UTC, 10:40 in Harbin
HOME = (45.7512, 126.6421)
DEG_PER_M = 1 / 111_195  # metres to degrees of latitude

DEFAULT_ESCALATION = {
    "critical": [
        {"notify": ["grid_worker", "family"], "wait": "5m"},
        {"notify": ["grid_leader", "volunteers"], "wait": "5m"},
        {"notify": ["operator"]},
    ],
    "high": [
        {"notify": ["grid_worker"], "wait": "15m"},
        {"notify": ["grid_leader", "family"], "wait": "15m"},
        {"notify": ["operator"]},
    ],
    "low": [{"notify": ["grid_worker"], "digest": "daily"}],
}

PHONES = {
    "wang": "+8613800000001",  # grid worker
    "zhao": "+8613800000002",  # grid leader
    "sun": "+8613800000003",  # grid secretary
    "v1": "+8613700000001",
    "v2": "+8613700000002",
    "v3": "+8613700000003",
    "v4": "+8613700000004",
    "v-away": "+8613700000005",  # unavailable, nearest
    "v-far": "+8613700000006",  # 5 km away
    "op": "+8613600000001",  # operator
    "son": "+8613900000001",  # family
    "other-worker": "+8613800000009",  # grid worker of another grid
}


def policy() -> EscalationPolicy:
    return EscalationPolicy(
        EscalationConfig.model_validate(DEFAULT_ESCALATION), VolunteersConfig(count=3, radius_m=3000)
    )


def seed_registry(session: Session) -> None:
    session.add(m.Community(id="xuanxin", name="宣信社区", timezone="Asia/Shanghai"))
    session.add_all(
        [
            m.Grid(id="g01", community_id="xuanxin", name="第一网格"),
            m.Grid(id="g02", community_id="xuanxin", name="第二网格"),
        ]
    )
    session.flush()
    g01, g02 = session.get(m.Grid, "g01"), session.get(m.Grid, "g02")

    def responder(
        rid: str,
        name: str,
        role: str,
        north_m: float | None = None,
        grids: tuple[m.Grid | None, ...] = (),
        available: bool = True,
        language: str = "zh",
    ) -> None:
        lat = HOME[0] + north_m * DEG_PER_M if north_m is not None else None
        session.add(
            m.Responder(
                id=rid,
                name=name,
                phone=PHONES[rid],
                role=role,
                language=language,
                home_lat=lat,
                home_lon=HOME[1] if lat else None,
                available=available,
                grids=[g for g in grids if g is not None],
            )
        )

    responder("wang", "王网格员", "grid_worker", 100, (g01,))
    responder("zhao", "赵组长", "grid_leader", 300, (g01,))
    responder("sun", "孙书记", "grid_secretary", 300, (g01,))
    responder("other-worker", "钱网格员", "grid_worker", 50, (g02,))
    responder("v1", "志愿者一", "volunteer", 200)
    responder("v2", "志愿者二", "volunteer", 500, language="en")
    responder("v3", "志愿者三", "volunteer", 800)
    responder("v4", "志愿者四", "volunteer", 1200)
    responder("v-away", "志愿者休", "volunteer", 20, available=False)
    responder("v-far", "志愿者远", "volunteer", 5000)
    responder("op", "值班员", "operator", None)
    session.add(
        m.Resident(
            id="r-0001",
            name="李奶奶",
            grid_id="g01",
            address="宣信街12号3单元501",
            home_lat=HOME[0],
            home_lon=HOME[1],
            contacts=[m.Contact(name="李明", phone=PHONES["son"], relation="son", language="zh", position=0)],
        )
    )
    session.flush()  # devices reference residents without a relationship: insert residents first
    session.add(m.Device(id="cat-0001", kind="pingan_cat", resident_id="r-0001", heartbeat_s=300))


def make_alert(
    kind: AlertKind = AlertKind.SOS,
    severity: Severity = Severity.CRITICAL,
    at: float = T0,
    code: str = "A7K2",
    suffix: str = "1",
) -> Alert:
    return Alert(
        id=f"al-{kind.value[:3]}{suffix}",
        code=code,
        kind=kind,
        severity=severity,
        state=AlertState.OPEN,
        resident="r-0001",
        device="cat-0001",
        zone=None,
        opened_at=at,
        triggered_at=at,
        reason=OPENING[kind],
        transitions=(Transition(AlertState.OPEN, at, "system", "rules", "test"),),
    )


@dataclass
class Db:
    url: str
    sessions: sessionmaker[Session]

    def notifications(self, **where: object) -> list[m.Notification]:
        with self.sessions() as s:
            q = select(m.Notification).order_by(m.Notification.id)
            for key, value in where.items():
                q = q.where(getattr(m.Notification, key) == value)
            return list(s.scalars(q))

    def alert(self, alert_id: str) -> m.Alert:
        with self.sessions() as s:
            row = s.get(m.Alert, alert_id)
            assert row is not None
            return row

    def audit(self, action: str) -> list[m.Audit]:
        with self.sessions() as s:
            return list(s.scalars(select(m.Audit).where(m.Audit.action == action).order_by(m.Audit.id)))


@pytest.fixture
def db(db_url: str) -> Iterator[Db]:
    engine = make_engine(db_url)
    sessions = make_sessions(engine)
    with sessions.begin() as s:
        seed_registry(s)
    yield Db(db_url, sessions)
    engine.dispose()


@pytest.fixture
def twilio_server() -> Iterator[TwilioTestServer]:
    with TwilioTestServer() as server:
        yield server


class TableAlertCommands:
    """AlertCommands at the port, the way the hub core behaves for dispatch: change the stored
    alert, then hand the matching action to the dispatcher in the same transaction."""

    def __init__(self, sessions: sessionmaker[Session], dispatcher: Dispatcher, clock: object) -> None:
        self.sessions = sessions
        self.dispatcher = dispatcher
        self.clock = clock
        self.calls: list[tuple[str, str, str, str]] = []

    def _now(self) -> float:
        return float(self.clock.now())  # type: ignore[attr-defined]

    def _change(
        self,
        alert_id: str,
        command: str,
        actor: str,
        channel: str,
        allowed: tuple[str, ...],
        state: str,
        outcome: str | None = None,
    ) -> AlertView:
        self.calls.append((command, alert_id, actor, channel))
        now = self._now()
        with self.sessions.begin() as s:
            row = s.get(m.Alert, alert_id)
            if row is None:
                raise AlertNotFound(alert_id)
            if row.state not in allowed:
                raise InvalidTransition(f"{command} on {row.state}")
            row.state = state
            if state == "acknowledged":
                row.acknowledged_at, row.acknowledged_by = now, actor
            if state == "resolved":
                row.resolved_at, row.outcome = now, outcome
            core = _alert_of(row)
            if state == "resolved":
                self.dispatcher.on_actions(
                    s, [AlertResolved(core, Outcome(outcome or "ok"), Reason.RESOLVED_BY_RESPONDER)], now
                )
            else:
                self.dispatcher.on_actions(
                    s, [AlertUpdated(core, Reason.ACKNOWLEDGED if state == "acknowledged" else Reason.ON_SITE)], now
                )
            return _view(row)

    def acknowledge(self, alert_id: str, actor: str, channel: str) -> AlertView:
        return self._change(alert_id, "acknowledge", actor, channel, ("open",), "acknowledged")

    def on_site(self, alert_id: str, actor: str, channel: str) -> AlertView:
        return self._change(alert_id, "on_site", actor, channel, ("open", "acknowledged"), "on_site")

    def resolve(self, alert_id: str, outcome: str, actor: str, channel: str) -> AlertView:
        return self._change(
            alert_id, "resolve", actor, channel, ("open", "acknowledged", "on_site"), "resolved", outcome
        )

    def request_backup(self, alert_id: str, actor: str, channel: str) -> AlertView:
        self.calls.append(("request_backup", alert_id, actor, channel))
        with self.sessions.begin() as s:
            row = s.get(m.Alert, alert_id)
            if row is None:
                raise AlertNotFound(alert_id)
            self.dispatcher.request_backup(s, alert_id, self._now(), actor, channel)
            return _view(row)


def _view(row: m.Alert) -> AlertView:
    return alert_view(row, None)


def store_and_dispatch(db: Db, dispatcher: Dispatcher, actions: list, now: float) -> None:  # type: ignore[type-arg]
    """What the integrator does: store the engine's actions and dispatch them in one transaction."""
    with db.sessions.begin() as s:
        for action in actions:
            save_alert(s, action.alert)
        dispatcher.on_actions(s, actions, now)


def acked(alert: Alert, at: float) -> Alert:
    return replace(alert, state=AlertState.ACKNOWLEDGED, acknowledged_at=at)
