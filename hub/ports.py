"""Service ports: what the web side and the SMS replies may ask of the running hub.

The hub's core (one engine, one transaction per decision) implements `AlertCommands`;
dashboards and the SMS webhook receive it as a dependency and never touch the engine.
Every method records who did it (`actor`) and through which `channel`
(board, api, sms, web, system) in the alert's transitions and the audit table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from hub.registry.workspace import RegistryEdit

from alerts.reasons import Explanation


class AlertNotFound(LookupError):
    pass


class ResidentNotFound(LookupError):
    pass


class InvalidTransition(ValueError):
    """The alert is not in a state that allows this (e.g. resolving a resolved alert)."""


@dataclass(frozen=True)
class AlertView:
    """The one read model of an alert: what the core's commands return and what the board,
    the responder page and the API read (`hub.storage.alert_store.alert_view` builds it).
    The engine's `alerts.actions.Alert` is the decision record; the ORM row is its storage;
    the API's `AlertOut` is only the documented wire format made from this."""

    id: str
    code: str
    kind: str
    severity: str
    state: str
    resident: str | None
    resident_name: str
    address: str
    device: str | None
    zone: str | None
    opened_at: float
    first_notified_at: float | None
    acknowledged_at: float | None
    acknowledged_by: str | None
    on_site_at: float | None
    resolved_at: float | None
    outcome: str | None
    reason: Explanation  # why it opened (alerts/reasons.py); the edges word it
    late: bool
    escalation_step: int
    handler_name: str | None = None  # who acknowledged, as people read it (responder name, not id)
    notes: tuple[Explanation, ...] = ()  # what was learnt since, and what ended it


class AlertCommands(Protocol):
    def acknowledge(self, alert_id: str, actor: str, channel: str) -> AlertView: ...

    def on_site(self, alert_id: str, actor: str, channel: str) -> AlertView: ...

    def resolve(self, alert_id: str, outcome: str, actor: str, channel: str) -> AlertView: ...

    def request_backup(self, alert_id: str, actor: str, channel: str) -> AlertView:
        """Escalate to the next step now (SMS reply `2`)."""
        ...

    def open_manual(self, resident_id: str, severity: str, note: str, actor: str, channel: str) -> AlertView:
        """Record an alert by hand (kind `manual`); ResidentNotFound for an unknown resident."""
        ...


class AbsenceCommands(Protocol):
    def add_absence(self, resident_id: str, start_at: float, until_at: float, note: str, actor: str) -> int: ...

    def remove_absence(self, absence_id: int, actor: str) -> None: ...


class RegistryCommands(Protocol):
    def change_registry(self, edit: Callable[[Session], RegistryEdit]) -> RegistryEdit:
        """Run a workspace edit (hub/registry/workspace.py) in one transaction and make it live in
        the engine (only the residents and devices it touched are reloaded)."""
        ...
