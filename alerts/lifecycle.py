"""Alert lifecycle: open → acknowledged → on_site → resolved, dedup by key, audit trail.

`AlertBook` holds the alerts that are not resolved yet, at most one per key
(resident, kind[, device]); a re-trigger attaches to the open one. Every change appends a
`Transition` (state, at, by, channel) and returns the Action that tells the shell. Resolved
alerts leave the book: their final record travels in the `AlertResolved` action.
Deadlines (ack expiry) are the engine's business, not this module's.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from alerts.actions import (
    PER_DEVICE_KINDS,
    SEVERITY_RANK,
    Alert,
    AlertKind,
    AlertOpened,
    AlertResolved,
    AlertState,
    AlertUpdated,
    Outcome,
    Reason,
    Severity,
    Transition,
    alert_key,
)
from alerts.codes import alert_id, short_code
from alerts.reasons import Explanation

SYSTEM = "system"
RULES_CHANNEL = "rules"


class UnknownAlert(KeyError):
    """No alert with that id is open (it never existed, or it is resolved already)."""


class AlertBook:
    __slots__ = ("_alerts", "_by_key", "_by_resident", "_codes")

    def __init__(self) -> None:
        self._alerts: dict[str, Alert] = {}
        self._by_key: dict[tuple[str, str, str], str] = {}
        self._by_resident: dict[str, set[str]] = {}
        self._codes: set[str] = set()

    def __len__(self) -> int:
        return len(self._alerts)

    def get(self, alert_id_: str) -> Alert:
        try:
            return self._alerts[alert_id_]
        except KeyError:
            raise UnknownAlert(alert_id_) from None

    def find_id(self, alert_id_: str) -> Alert | None:
        return self._alerts.get(alert_id_)

    def find(self, resident: str, kind: AlertKind, device: str | None = None) -> Alert | None:
        discriminator = device if kind in PER_DEVICE_KINDS else None
        found = self._by_key.get(alert_key(resident, kind, discriminator))
        return None if found is None else self._alerts[found]

    def of_resident(self, resident: str) -> list[Alert]:
        ids = self._by_resident.get(resident)
        if not ids:  # most residents (the state save asks for every changed unit)
            return []
        return [self._alerts[i] for i in sorted(ids)]

    def all(self) -> list[Alert]:
        return [self._alerts[i] for i in sorted(self._alerts)]

    def by_code(self, code: str) -> Alert | None:
        return next((a for a in self.all() if a.code == code), None)

    def open(
        self,
        *,
        kind: AlertKind,
        severity: Severity,
        resident: str,
        device: str | None,
        zone: str | None,
        now: float,
        triggered_at: float,
        why: Explanation,
        late: bool,
        notes: tuple[Explanation, ...] = (),
        reason: Reason,
    ) -> AlertOpened | AlertUpdated:
        """Open an alert, or attach a re-trigger to the open one with the same key."""
        existing = self.find(resident, kind, device)
        if existing is not None:
            severity = max(existing.severity, severity, key=SEVERITY_RANK.__getitem__)
            return AlertUpdated(self._put(replace(existing, triggers=existing.triggers + 1, severity=severity)), Reason.RETRIGGERED)
        discriminator = device if kind in PER_DEVICE_KINDS else ""
        new_id = alert_id(resident, kind.value, discriminator or "", now, self._alerts)
        alert = Alert(
            id=new_id,
            code=short_code(new_id, self._codes),
            kind=kind,
            severity=severity,
            state=AlertState.OPEN,
            resident=resident,
            device=device,
            zone=zone,
            opened_at=now,
            triggered_at=triggered_at,
            reason=why,
            notes=notes,
            late=late,
            transitions=(Transition(AlertState.OPEN, now, SYSTEM, RULES_CHANNEL, reason.value),),
        )
        self._by_key[alert.key] = alert.id
        self._by_resident.setdefault(resident, set()).add(alert.id)
        self._codes.add(alert.code)
        return AlertOpened(self._put(alert), reason)

    def change(self, alert: Alert, why: Reason, /, **changes: Any) -> AlertUpdated:
        return AlertUpdated(self._put(replace(alert, **changes)), why)

    def move(self, alert: Alert, state: AlertState, by: str, channel: str, now: float, reason: Reason) -> AlertUpdated:
        """A state change short of resolution, with its audit record."""
        changes: dict[str, Any] = {"state": state}
        if state is AlertState.ACKNOWLEDGED or (state is AlertState.ON_SITE and alert.acknowledged_at is None):
            changes["acknowledged_at"] = alert.acknowledged_at if alert.acknowledged_at is not None else now
        if state is AlertState.ON_SITE:
            changes["on_site_at"] = now
        changes["transitions"] = (*alert.transitions, Transition(state, now, by, channel, reason.value))
        return self.change(alert, reason, **changes)

    def resolve(
        self, alert: Alert, outcome: Outcome, by: str, channel: str, now: float, reason: Reason, notify_previous: bool = True,
        note: Explanation | None = None,
    ) -> AlertResolved:
        final = replace(
            alert,
            notes=alert.notes if note is None else (*alert.notes, note),
            state=AlertState.RESOLVED,
            outcome=outcome,
            resolved_at=now,
            transitions=(*alert.transitions, Transition(AlertState.RESOLVED, now, by, channel, f"{reason.value}:{outcome.value}")),
        )
        self._forget(alert)
        return AlertResolved(final, outcome, reason, notify_previous)

    def restore(self, alerts: list[Alert]) -> None:
        for alert in alerts:
            self._put(alert)
            self._by_key[alert.key] = alert.id
            self._by_resident.setdefault(alert.resident, set()).add(alert.id)
            self._codes.add(alert.code)

    def _put(self, alert: Alert) -> Alert:
        self._alerts[alert.id] = alert
        return alert

    def _forget(self, alert: Alert) -> None:
        del self._alerts[alert.id]
        if self._by_key.get(alert.key) == alert.id:  # (two restored alerts of one key: the other keeps it)
            del self._by_key[alert.key]
        ids = self._by_resident.get(alert.resident)
        if ids is not None:
            ids.discard(alert.id)
            if not ids:
                del self._by_resident[alert.resident]
        self._codes.discard(alert.code)
