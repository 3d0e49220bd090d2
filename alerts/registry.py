"""What the core knows of the registry: residents, their devices and safe zones.

Immutable snapshots built by the hub (from the database, or from a registry file for
offline replay). Coordinates are WGS-84; GCJ-02 zones were converted on import.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from devices.kinds import DeviceKind


@dataclass(frozen=True, slots=True)
class Point:
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Zone:
    """A safe zone: a circle (center + radius_m) or a polygon, optionally limited to local hours."""

    name: str
    center: Point | None = None
    radius_m: float | None = None
    polygon: tuple[Point, ...] = ()
    hours: str | None = None  # "HH:MM-HH:MM" local time when the zone is active; None: always


@dataclass(frozen=True, slots=True)
class InactivityOverride:
    day_hours: float | None = None
    night_hours: float | None = None
    night: str | None = None


@dataclass(frozen=True, slots=True)
class Contact:
    name: str
    phone: str
    relation: str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Resident:
    id: str
    name: str
    grid: str
    timezone: str  # IANA name, from the resident's community
    home: Point
    address: str = ""
    zones: tuple[Zone, ...] = ()
    contacts: tuple[Contact, ...] = ()
    inactivity: InactivityOverride = field(default_factory=InactivityOverride)
    share_location: bool = False


@dataclass(frozen=True, slots=True)
class Device:
    id: str
    kind: DeviceKind
    resident: str | None
    heartbeat_s: int = 300


@dataclass(frozen=True, slots=True)
class Absence:
    """A recorded absence (hospital stay, visiting children): pauses inactivity and offline judgement."""

    resident: str
    start: float
    until: float  # expected return, epoch seconds
    note: str = ""


@dataclass(frozen=True)
class RegistrySnapshot:
    residents: dict[str, Resident]
    devices: dict[str, Device]
    absences: tuple[Absence, ...] = ()

    def devices_of(self, resident_id: str) -> list[Device]:
        return sorted((d for d in self.devices.values() if d.resident == resident_id), key=lambda d: d.id)
