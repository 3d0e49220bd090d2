"""Decisions the core hands to the shell: the Alert record and the Action types, each with a named reason.

Owns the vocabulary (kinds, severities, states, outcomes, person and device states, reasons).
Does not decide anything: the rules and the lifecycle build these values, the hub executes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from alerts.reasons import Explanation


class AlertKind(StrEnum):
    SOS = "sos"
    FALL = "fall"
    SMOKE = "smoke"
    GAS = "gas"
    INACTIVITY = "inactivity"
    DEVICE_OFFLINE = "device_offline"
    GEOFENCE_EXIT = "geofence_exit"
    LOW_BATTERY = "low_battery"
    MANUAL = "manual"  # recorded by an operator: a neighbour phoned in


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    LOW = "low"


SEVERITY_RANK = {Severity.LOW: 0, Severity.HIGH: 1, Severity.CRITICAL: 2}


class AlertState(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    ON_SITE = "on_site"
    RESOLVED = "resolved"


class Outcome(StrEnum):
    OK = "ok"
    ASSISTED = "assisted"
    HOSPITAL = "hospital"
    FALSE_ALARM = "false_alarm"
    CLEARED = "cleared"
    RETURNED = "returned"
    CANCELLED = "cancelled"


class PersonState(StrEnum):
    HOME_ACTIVE = "home_active"
    HOME_QUIET = "home_quiet"
    AWAY = "away"
    UNKNOWN = "unknown"
    ALERT = "alert"


class DeviceHealth(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"


class Reason(StrEnum):
    """Why an action was taken; stable strings, safe as metric labels and audit entries."""

    SOS_PRESSED = "sos_pressed"
    FALL_DETECTED = "fall_detected"
    SMOKE_DETECTED = "smoke_detected"
    GAS_DETECTED = "gas_detected"
    RETRIGGERED = "retriggered"
    SOS_CANCELLED = "sos_cancelled"
    SOS_CANCEL_TOO_LATE = "sos_cancel_too_late"
    SILENCE_EXCEEDED = "silence_exceeded"
    AWAY_TOO_LONG = "away_too_long"
    ACTIVITY_RESUMED = "activity_resumed"
    LATE_ACTIVITY = "late_activity"
    ABSENCE_RECORDED = "absence_recorded"
    HEARTBEATS_MISSED = "heartbeats_missed"
    LAST_WILL = "last_will"
    DEVICE_HEARD = "device_heard"
    DEVICE_REMOVED = "device_removed"
    UNWATCHED = "unwatched"
    LEFT_SAFE_ZONES = "left_safe_zones"
    LEFT_HOME_AT_NIGHT = "left_home_at_night"
    HOME_MOTION_WHILE_TAG_AWAY = "home_motion_while_tag_away"
    RETURNED_TO_ZONE = "returned_to_zone"
    BATTERY_LOW = "battery_low"
    BATTERY_RECOVERED = "battery_recovered"
    ACKNOWLEDGED = "acknowledged"
    ON_SITE = "on_site"
    RESOLVED_BY_RESPONDER = "resolved_by_responder"
    ACK_EXPIRED = "ack_expired"
    NOTIFIED = "notified"
    ACTIVITY = "activity"
    QUIET = "quiet"
    DEPARTED = "departed"
    TAG_LEFT_HOME = "tag_left_home"
    CAME_HOME = "came_home"
    ABSENCE = "absence"
    NO_WORKING_SENSOR = "no_working_sensor"
    NO_MOTION_SENSOR = "no_motion_sensor"  # person state: the home's motion sensors are offline, silence is not judged
    DOOR_ONLY_ACTIVITY = "door_only_activity"  # a door event while an inactivity alert is open and no motion followed
    ALERT_OPEN = "alert_open"
    ALERT_CLOSED = "alert_closed"
    MANUAL_REPORT = "manual_report"  # an operator recorded the alert by hand


@dataclass(frozen=True, slots=True)
class Transition:
    """One audit record: the alert entered `state` at `at`, by whom, through which channel."""

    state: AlertState
    at: float
    by: str
    channel: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class Alert:
    id: str
    code: str
    kind: AlertKind
    severity: Severity
    state: AlertState
    resident: str
    device: str | None
    zone: str | None
    opened_at: float  # hub time the alert opened
    triggered_at: float  # device time of the cause (differs from opened_at for late data)
    reason: Explanation  # why it opened, as a code and values (alerts/reasons.py); the edges word it
    late: bool = False  # raised from buffered data, or from a deadline that fell due while the hub was down
    acknowledged_at: float | None = None
    on_site_at: float | None = None
    resolved_at: float | None = None
    first_notified_at: float | None = None
    outcome: Outcome | None = None
    triggers: int = 1
    transitions: tuple[Transition, ...] = ()
    notes: tuple[Explanation, ...] = ()  # what was learnt since it opened, and what ended it

    @property
    def key(self) -> tuple[str, str, str]:
        """Dedup key: at most one open alert per (resident, kind), per device for device kinds."""
        return alert_key(self.resident, self.kind, self.device if self.kind in PER_DEVICE_KINDS else None)

    @property
    def is_open(self) -> bool:
        return self.state is not AlertState.RESOLVED

    def service_levels(self) -> dict[str, float | None]:
        """Seconds from opening to first message, acknowledgement, on-site and resolution."""

        def since(t: float | None) -> float | None:
            return None if t is None else t - self.opened_at

        return {
            "to_first_message_s": since(self.first_notified_at),
            "to_ack_s": since(self.acknowledged_at),
            "to_on_site_s": since(self.on_site_at),
            "to_resolve_s": since(self.resolved_at),
        }

    def to_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__ if name not in ("transitions", "reason", "notes")}
        data["reason"] = self.reason.to_dict()
        data["notes"] = [n.to_dict() for n in self.notes]
        data["transitions"] = [
            {"state": t.state.value, "at": t.at, "by": t.by, "channel": t.channel, "note": t.note} for t in self.transitions
        ]
        for name in ("kind", "severity", "state", "outcome"):
            data[name] = None if data[name] is None else str(data[name])
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Alert:
        values = dict(data)
        values["kind"] = AlertKind(values["kind"])
        values["severity"] = Severity(values["severity"])
        values["state"] = AlertState(values["state"])
        values["outcome"] = None if values["outcome"] is None else Outcome(values["outcome"])
        values["reason"] = Explanation.from_dict(values.get("reason"))  # a snapshot from before the catalogue holds a sentence
        values["notes"] = tuple(Explanation.from_dict(n) for n in values.get("notes", ()))
        values["transitions"] = tuple(
            Transition(AlertState(t["state"]), t["at"], t["by"], t["channel"], t.get("note", "")) for t in data["transitions"]
        )
        return cls(**values)


#: Kinds deduplicated per device rather than per resident (PRODUCT.md: low_battery, "at most one open per device").
PER_DEVICE_KINDS = frozenset({AlertKind.LOW_BATTERY})


def alert_key(resident: str, kind: AlertKind, discriminator: str | None) -> tuple[str, str, str]:
    return (resident, kind, discriminator or "")  # a StrEnum hashes and compares as its value


@dataclass(frozen=True, slots=True)
class AlertOpened:
    alert: Alert
    reason: Reason


@dataclass(frozen=True, slots=True)
class AlertUpdated:
    """A re-trigger attached, severity changed, a state change by a responder, a return told to responders."""

    alert: Alert
    reason: Reason


@dataclass(frozen=True, slots=True)
class AlertResolved:
    alert: Alert
    outcome: Outcome
    reason: Reason
    notify_previous: bool = True  # tell everyone who was told about the alert


@dataclass(frozen=True, slots=True)
class AlertAckExpired:
    """An acknowledgement was not followed by on-site or resolve within ack_expiry: escalation resumes."""

    alert: Alert
    reason: Reason = Reason.ACK_EXPIRED


@dataclass(frozen=True, slots=True)
class PersonStateChanged:
    resident: str
    state: PersonState
    previous: PersonState | None
    reason: Reason
    at: float
    explanation: Explanation | None = None  # the reason's values, e.g. an absence's expected return


@dataclass(frozen=True, slots=True)
class DeviceStateChanged:
    device: str
    resident: str | None
    state: DeviceHealth
    reason: Reason
    at: float
    late: bool = False


Action = AlertOpened | AlertUpdated | AlertResolved | AlertAckExpired | PersonStateChanged | DeviceStateChanged

ALERT_ACTIONS = (AlertOpened, AlertUpdated, AlertResolved, AlertAckExpired)
