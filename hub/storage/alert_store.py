"""Writes the core's alert actions into the database, in the caller's transaction.

An alert row mirrors the core's `Alert` record; transitions are appended (the record carries
all of them, the table gets the ones it does not have yet) and each becomes an audit row.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alerts.actions import Action, Alert, AlertAckExpired, AlertOpened, AlertResolved, AlertState, AlertUpdated
from alerts.reasons import Explanation
from hub.ports import AlertView
from hub.storage import models


def save_alert_actions(session: Session, actions: Iterable[Action]) -> list[Alert]:
    """Upsert the alerts the actions carry; returns them in order, for the dispatcher and the board."""
    saved = []
    for action in actions:
        if isinstance(action, AlertOpened | AlertUpdated | AlertResolved | AlertAckExpired):
            save_alert(session, action.alert)
            saved.append(action.alert)
    return saved


def save_alert(session: Session, alert: Alert) -> models.Alert:
    row = session.get(models.Alert, alert.id)
    if row is None:
        row = models.Alert(id=alert.id, kind=alert.kind.value, resident_id=alert.resident)
        session.add(row)
    values = {
        "code": alert.code,
        "severity": alert.severity.value,
        "state": alert.state.value,
        "device_id": alert.device,
        "zone": alert.zone,
        "reason": alert.reason.code.value,
        "reason_data": reason_data(alert.reason, alert.notes),
        "late": alert.late,
        "opened_at": alert.opened_at,
        "acknowledged_at": alert.acknowledged_at,
        "acknowledged_by": next(
            (t.by for t in alert.transitions if t.state in (AlertState.ACKNOWLEDGED, AlertState.ON_SITE)), None
        ),
        "on_site_at": alert.on_site_at,
        "resolved_at": alert.resolved_at,
        "outcome": alert.outcome.value if alert.outcome else None,
    }
    for name, value in values.items():
        setattr(row, name, value)
    if alert.first_notified_at is not None and row.first_notified_at is None:
        row.first_notified_at = alert.first_notified_at
    session.flush()
    _append_transitions(session, alert)
    return row


def _append_transitions(session: Session, alert: Alert) -> None:
    stored = session.scalar(
        select(func.count()).select_from(models.AlertTransition).where(models.AlertTransition.alert_id == alert.id)
    ) or 0
    for t in alert.transitions[stored:]:
        session.add(models.AlertTransition(alert_id=alert.id, state=t.state.value, at=t.at, by=t.by, channel=t.channel, note=t.note))
        session.add(models.Audit(
            at=t.at, actor=t.by, channel=t.channel, action=f"alert.{t.state.value}", alert_id=alert.id,
            resident_id=alert.resident, detail={"note": t.note, "kind": alert.kind.value, "code": alert.code},
        ))


def alert_view(alert: models.Alert, resident: models.Resident | None, acker: tuple[str, str] | None = None) -> AlertView:
    """The read model of a stored alert; `acker` is (actor, display name) of who took it on."""
    return AlertView(
        id=alert.id,
        code=alert.code,
        kind=alert.kind,
        severity=alert.severity,
        state=alert.state,
        resident=alert.resident_id,
        resident_name=resident.name if resident else (alert.resident_id or ""),
        address=resident.address if resident else "",
        device=alert.device_id,
        zone=alert.zone,
        opened_at=alert.opened_at,
        first_notified_at=alert.first_notified_at,
        acknowledged_at=alert.acknowledged_at,
        acknowledged_by=acker[0] if acker else alert.acknowledged_by,
        handler_name=acker[1] if acker else None,
        on_site_at=alert.on_site_at,
        resolved_at=alert.resolved_at,
        outcome=alert.outcome,
        reason=stored_reason(alert),
        notes=stored_notes(alert),
        late=alert.late,
        escalation_step=alert.escalation_step,
    )


def reason_data(reason: Explanation, notes: tuple[Explanation, ...]) -> dict[str, object]:
    return {"reason": reason.to_dict(), "notes": [n.to_dict() for n in notes]}


def stored_reason(row: models.Alert) -> Explanation:
    """The row's explanation; a row from before reason codes holds only a sentence: `legacy_text`."""
    data = row.reason_data
    return Explanation.from_dict(data["reason"] if data else row.reason)


def stored_notes(row: models.Alert) -> tuple[Explanation, ...]:
    data = row.reason_data
    return tuple(Explanation.from_dict(n) for n in data.get("notes", ())) if data else ()
