"""Small in-test implementations of the hub's ports, writing straight to the database.

They stand in for the hub core (hub/core.py, not written yet) at the AlertCommands /
AbsenceCommands seam: the same state rules (open → acknowledged → on_site → resolved), a
transition and an audit row per change, and a live event published after each commit — what
the web needs to observe. Escalation and SMS are not the web's business and are not modelled.
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from dashboards.live import EventBus
from hub.clock import Clock
from hub.services import AlertNotFound, AlertView, InvalidTransition
from hub.storage.models import Absence, Alert, AlertTransition, Audit

ALLOWED = {
    "acknowledged": {"open"},
    "on_site": {"open", "acknowledged"},
    "resolved": {"open", "acknowledged", "on_site"},
}


def view(a: Alert) -> AlertView:
    return AlertView(
        a.id, a.code, a.kind, a.severity, a.state, a.resident_id, a.device_id, a.opened_at,
        a.acknowledged_at, a.on_site_at, a.resolved_at, a.outcome, a.reason,
    )  # fmt: skip


class DbAlertCommands:
    def __init__(self, sessions: sessionmaker[Session], clock: Clock, bus: EventBus) -> None:
        self.sessions, self.clock, self.bus = sessions, clock, bus

    def _move(self, alert_id: str, state: str, actor: str, channel: str, outcome: str | None = None) -> AlertView:
        now = self.clock.now()
        with self.sessions() as session:
            alert = session.get(Alert, alert_id)
            if alert is None:
                raise AlertNotFound(alert_id)
            if alert.state not in ALLOWED[state]:
                raise InvalidTransition(f"alert {alert.code} is {alert.state}")
            alert.state = state
            if state == "acknowledged":
                alert.acknowledged_at, alert.acknowledged_by = now, actor
            elif state == "on_site":
                alert.on_site_at = now
                if alert.acknowledged_at is None:
                    alert.acknowledged_at, alert.acknowledged_by = now, actor
            else:
                alert.resolved_at, alert.outcome = now, outcome
            session.add(AlertTransition(alert_id=alert_id, state=state, at=now, by=actor, channel=channel, note=outcome or ""))
            session.add(Audit(at=now, actor=actor, channel=channel, action=state, alert_id=alert_id, resident_id=alert.resident_id))
            session.commit()
            result = view(alert)
        self.bus.publish("alert", {"id": alert_id, "state": state})
        return result

    def acknowledge(self, alert_id: str, actor: str, channel: str) -> AlertView:
        return self._move(alert_id, "acknowledged", actor, channel)

    def on_site(self, alert_id: str, actor: str, channel: str) -> AlertView:
        return self._move(alert_id, "on_site", actor, channel)

    def resolve(self, alert_id: str, outcome: str, actor: str, channel: str) -> AlertView:
        return self._move(alert_id, "resolved", actor, channel, outcome)

    def request_backup(self, alert_id: str, actor: str, channel: str) -> AlertView:
        with self.sessions() as session:
            alert = session.get(Alert, alert_id)
            if alert is None:
                raise AlertNotFound(alert_id)
            alert.escalation_step += 1
            session.commit()
            return view(alert)


class DbAbsenceCommands:
    def __init__(self, sessions: sessionmaker[Session], clock: Clock, bus: EventBus) -> None:
        self.sessions, self.clock, self.bus = sessions, clock, bus

    def add_absence(self, resident_id: str, start_at: float, until_at: float, note: str, actor: str) -> int:
        with self.sessions() as session:
            row = Absence(resident_id=resident_id, start_at=start_at, until_at=until_at, note=note, created_by=actor)
            session.add(row)
            session.flush()
            session.add(Audit(at=self.clock.now(), actor=actor, channel="board", action="absence_added", resident_id=resident_id))
            session.commit()
            absence_id = row.id
        self.bus.publish("absence", {"resident": resident_id})
        return absence_id

    def remove_absence(self, absence_id: int, actor: str) -> None:
        with self.sessions() as session:
            row = session.get(Absence, absence_id)
            if row is None:
                return
            session.delete(row)
            session.add(Audit(at=self.clock.now(), actor=actor, channel="board", action="absence_removed", resident_id=row.resident_id))
            session.commit()
        self.bus.publish("absence", {"id": absence_id})
