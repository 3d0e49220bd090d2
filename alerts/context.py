"""The state the rules share while the engine handles one message or one deadline.

`RuleContext` bundles the registry index, the settings, per-device and per-resident state,
the alert book, the deadlines and the list of actions being produced. Rule modules are
functions over it; it offers the few shared helpers (open/resolve an alert, arm a deadline,
look up an absence) so the rules stay small.
"""

from __future__ import annotations

from dataclasses import dataclass

from alerts.actions import (
    Action,
    Alert,
    AlertKind,
    AlertOpened,
    AlertResolved,
    AlertUpdated,
    DeviceHealth,
    Outcome,
    Reason,
    Severity,
)
from alerts.config import AlertsConfig, RulesConfig, read_only_view
from alerts.deadlines import ACK, DEVICE, RESIDENT, Deadlines
from alerts.lifecycle import RULES_CHANNEL, SYSTEM, AlertBook
from alerts.reasons import Explanation
from alerts.registry import Absence, Device, RegistrySnapshot, Resident
from alerts.state import DeviceState, ResidentState
from devices.kinds import HOME_ACTIVITY_KINDS, DeviceKind

#: A deadline handled more than this after it fell due (hub down, replay gap) marks its action late.
LATE_FIRE_S = 60.0
#: Activity within this long makes the person `home_active`, else `home_quiet`.
ACTIVE_S = 1800.0
#: A door_open not followed by home motion within this long is a departure.
DEPARTURE_CONFIRM_S = 600.0
#: After a device is heard again, inactivity is re-judged this much later (its buffer flushes first).
REJOIN_GRACE_S = 120.0
#: Device clocks may be off by this much: door and motion messages this close to hub time are ordered by hub time.
CLOCK_SLACK_S = 600.0
#: The tag is "at home" within this distance of the home point (plus its accuracy).
HOME_RADIUS_M = 150.0
#: Home motion this recent lowers a geofence exit to a low-severity check.
HOME_MOTION_WINDOW_S = 900.0

#: Devices whose reports show the resident is watched (an online one means not unwatched).
WATCH_KINDS = HOME_ACTIVITY_KINDS | {DeviceKind.GPS_TAG}
#: Home sensors that see motion inside (door events alone do not end a departure).
HOME_MOTION_KINDS = frozenset({DeviceKind.PINGAN_CAT, DeviceKind.WATER_METER})
#: The devices that sense the resident moving about at home. Where a home has one, silence is
#: judged only while one of them is online: a door sensor (or a water meter) alone says nothing
#: about someone lying on the floor between two door events.
MOTION_SENSING_KINDS = frozenset({DeviceKind.PINGAN_CAT})

_OFFLINE = DeviceHealth.OFFLINE  # a module global: an enum class's attribute is read through its metaclass's hook


# The saved form of a deadline's key ("kind:id", alerts/deadlines.py).
def resident_key(resident: str) -> str:
    return "r:" + resident


def device_key(device: str) -> str:
    return "d:" + device


def ack_key(alert_id: str) -> str:
    return "a:" + alert_id


@dataclass(slots=True)
class RegistryIndex:
    snapshot: RegistrySnapshot
    # A resident's devices, sorted by id: the one device itself when there is one, not a 1-tuple
    # (a city of one home unit each holds a million of them: 48 bytes each; benchmarks/rules.py).
    devices_by: dict[str, Device | tuple[Device, ...]]
    absences_of: dict[str, tuple[Absence, ...]]

    @classmethod
    def build(cls, snapshot: RegistrySnapshot) -> RegistryIndex:
        devices: dict[str, list[Device]] = {}
        for device in sorted(snapshot.devices.values(), key=lambda d: d.id):
            if device.resident is not None:
                devices.setdefault(device.resident, []).append(device)
        absences: dict[str, list[Absence]] = {}
        for absence in sorted(snapshot.absences, key=lambda a: (a.resident, a.start, a.until)):
            absences.setdefault(absence.resident, []).append(absence)
        index = cls(snapshot, {}, {k: tuple(v) for k, v in absences.items()})
        for resident_id, theirs in devices.items():
            index.set_devices(resident_id, tuple(theirs))
        return index

    def devices_of(self, resident_id: str) -> tuple[Device, ...]:
        found = self.devices_by.get(resident_id, ())
        return found if type(found) is tuple else (found,)  # type: ignore[return-value]

    def set_devices(self, resident_id: str, devices: tuple[Device, ...]) -> None:
        """Record a resident's devices (sorted by id)."""
        if len(devices) > 1:
            self.devices_by[resident_id] = devices
        elif devices:
            self.devices_by[resident_id] = devices[0]
        else:
            self.devices_by.pop(resident_id, None)


class RuleContext:
    __slots__ = ("alerts_cfg", "book", "counters", "deadlines", "devices", "index", "now", "out", "residents", "rules", "touched")

    def __init__(self, index: RegistryIndex, rules: RulesConfig, alerts_cfg: AlertsConfig) -> None:
        self.index = index
        self.rules = read_only_view(rules)  # read on every message: plain slots, not pydantic's hook (alerts/config.py)
        self.alerts_cfg = alerts_cfg
        self.devices: dict[str, DeviceState] = {}
        self.residents: dict[str, ResidentState] = {}
        self.book = AlertBook()
        self.deadlines = self.new_deadlines()
        self.counters: dict[str, int] = {}
        self.out: list[Action] = []
        self.now: float | None = None
        self.touched: set[str] = set()  # residents whose person state must be re-fused

    def new_deadlines(self) -> Deadlines:
        """Empty deadlines over the current state dicts (their `due` slots hold the times)."""
        return Deadlines({DEVICE: self.devices, RESIDENT: self.residents})

    # registry ---------------------------------------------------------------------------
    def resident(self, resident_id: str) -> Resident | None:
        return self.index.snapshot.residents.get(resident_id)

    def device(self, device_id: str) -> Device | None:
        return self.index.snapshot.devices.get(device_id)

    def devices_of(self, resident_id: str) -> tuple[Device, ...]:
        found = self.index.devices_by.get(resident_id, ())
        return found if type(found) is tuple else (found,)  # type: ignore[return-value]

    def absence_at(self, resident_id: str, t: float) -> Absence | None:
        for absence in self.index.absences_of.get(resident_id, ()):
            if absence.start <= t < absence.until and not self._home_during(resident_id, absence, t):
                return absence
        return None

    def _home_during(self, resident_id: str, absence: Absence, t: float) -> bool:
        """Back before the expected return: her return was seen through the door after the
        absence began (`Departure.back_at`, alerts/rules/activity.py) and no departure since —
        she is judged as at home until she leaves again (docs/RULES.md "Absence calendar")."""
        rs = self.residents.get(resident_id)
        departure = None if rs is None else rs.departure
        back = None if departure is None else departure.back_at
        if back is None or not absence.start <= back <= t:
            return False
        return departure is not None and (departure.away_since is None or departure.away_since < back)

    def last_return(self, resident_id: str, t: float) -> float | None:
        """The newest expected return of an absence that has ended by t."""
        ends = [a.until for a in self.index.absences_of.get(resident_id, ()) if a.until <= t]
        return max(ends) if ends else None

    def next_absence_edge(self, resident_id: str, t: float) -> float | None:
        edges = [e for a in self.index.absences_of.get(resident_id, ()) for e in (a.start, a.until) if e > t]
        return min(edges) if edges else None

    def online(self, device: Device) -> bool:
        state = self.devices.get(device.id)
        return state is None or state.health is not _OFFLINE

    def any_online(self, resident_id: str, kinds: frozenset[DeviceKind]) -> bool:
        """Some device of the resident of one of `kinds` is online. A loop, not any() over a
        generator: the rules ask this several times a message, and making and closing a
        generator costs more than the loop (docs/BENCHMARKS.md, session 11)."""
        devices = self.devices
        for d in self.devices_of(resident_id):
            if d.kind in kinds:
                state = devices.get(d.id)
                if state is None or state.health is not _OFFLINE:
                    return True
        return False

    def watched(self, resident_id: str) -> bool:
        """Some activity sensor (home sensor or GPS tag) of the resident is online."""
        return self.any_online(resident_id, WATCH_KINDS)

    def home_watched(self, resident_id: str) -> bool:
        return self.any_online(resident_id, HOME_ACTIVITY_KINDS)

    def covered(self, resident_id: str) -> bool:
        """Not unwatched: some watching sensor is online and silence at home can be judged."""
        return self.watched(resident_id) and self.silence_judged(resident_id)

    def has_motion_sensor(self, resident_id: str) -> bool:
        return any(d.kind in MOTION_SENSING_KINDS for d in self.devices_of(resident_id))

    def silence_judged(self, resident_id: str) -> bool:
        """Silence at home can be judged: a motion sensor is online, or — in a home that has
        none — some other home activity sensor is. (One loop, not any() twice: as `any_online`.)"""
        has_motion_sensor = False
        for d in self.devices_of(resident_id):
            if d.kind in MOTION_SENSING_KINDS:
                if self.online(d):
                    return True
                has_motion_sensor = True
        return not has_motion_sensor and self.home_watched(resident_id)

    # helpers ----------------------------------------------------------------------------
    def count(self, name: str) -> None:
        self.counters[name] = self.counters.get(name, 0) + 1

    def emit(self, action: Action) -> None:
        self.out.append(action)

    def arm_resident(self, resident_id: str, at: float) -> None:
        self.deadlines.arm_earlier(RESIDENT, resident_id, at)

    def open_alert(
        self,
        kind: AlertKind,
        severity: Severity,
        resident: str,
        *,
        device: str | None,
        now: float,
        triggered_at: float,
        why: Explanation,
        reason: Reason,
        late: bool = False,
        zone: str | None = None,
        notes: tuple[Explanation, ...] = (),
    ) -> Alert:
        action = self.book.open(
            kind=kind, severity=severity, resident=resident, device=device, zone=zone,
            now=now, triggered_at=triggered_at, why=why, notes=notes, late=late, reason=reason,
        )
        self.emit(action)
        if isinstance(action, AlertOpened):
            self.count(f"alerts_opened.{kind.value}")
        self.touched.add(resident)  # person state follows alerts
        return action.alert

    def update_alert(self, alert: Alert, why: Reason, /, note: Explanation | None = None, **changes: object) -> Alert:
        """Change the alert; `note` adds what was learnt to its explanation (alerts/reasons.py)."""
        if note is not None:
            changes["notes"] = (*alert.notes, note)
        action: AlertUpdated = self.book.change(alert, why, **changes)
        self.emit(action)
        self.touched.add(alert.resident)
        return action.alert

    def resolve_alert(
        self, alert: Alert, outcome: Outcome, reason: Reason, now: float, by: str = SYSTEM, channel: str = RULES_CHANNEL,
        note: Explanation | None = None,
    ) -> AlertResolved:
        """Resolve; `note` says with values what ended it (the device heard, where she returned)."""
        action = self.book.resolve(alert, outcome, by, channel, now, reason, note=note)
        self.deadlines.disarm(ACK, alert.id)
        self.emit(action)
        self.touched.add(alert.resident)
        return action


def is_late(due: float, now: float) -> bool:
    return now - due > LATE_FIRE_S
