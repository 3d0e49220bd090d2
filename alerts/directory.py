"""Who can be told about an alert: responders, the resident's family, and role resolution.

Owns the pure `Directory` (a snapshot of responders, built by the hub from the database) and
`candidates(role, ...)`: the ordered list of people a role means for one resident. Does not
decide when anyone is told (alerts/escalation.py) nor send anything (hub/dispatch/).
Volunteers are ranked by great-circle distance from the resident's home, ties broken
by responder id so the same input always gives the same list.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from alerts.config import Role, VolunteersConfig
from alerts.registry import Point, Resident

#: Roles that belong to the resident's grid.
GRID_ROLES = frozenset({Role.GRID_WORKER, Role.GRID_LEADER, Role.GRID_SECRETARY})


@dataclass(frozen=True, slots=True)
class Responder:
    id: str
    name: str
    phone: str
    role: Role
    grids: tuple[str, ...] = ()
    home: Point | None = None
    available: bool = True
    language: str = "zh"


@dataclass(frozen=True, slots=True)
class Recipient:
    """One person to text, with the role that selected them."""

    key: str  # responder id, or "family:<resident>:<index>" for a contact
    name: str
    phone: str
    role: Role
    language: str = "zh"
    distance_m: float | None = None  # volunteers only


@dataclass(frozen=True)
class Directory:
    responders: tuple[Responder, ...]
    # Operators on duty now (the roster's shifts covering this moment). Empty: nobody is rostered
    # now, so every available operator is told — an SOS never goes to an empty room.
    on_duty: frozenset[str] = frozenset()

    def by_phone(self, phone: str) -> Responder | None:
        return next((r for r in self.responders if r.phone == phone), None)

    def candidates(self, role: Role, resident: Resident, volunteers: VolunteersConfig) -> list[Recipient]:
        """Everyone `role` may mean for `resident`, best first (volunteers: all in radius, nearest first)."""
        if role is Role.FAMILY:
            return family_of(resident)
        if role is Role.VOLUNTEERS:
            return nearest_volunteers(self.responders, resident.home, volunteers.radius_m)
        chosen = [
            r
            for r in self.responders
            if r.role is role and r.available and (role not in GRID_ROLES or resident.grid in r.grids)
        ]
        if role is Role.OPERATOR and self.on_duty:
            chosen = [r for r in chosen if r.id in self.on_duty] or chosen  # the rostered ones, if available
        return [_recipient(r) for r in sorted(chosen, key=lambda r: r.id)]


def family_of(resident: Resident) -> list[Recipient]:
    return [
        Recipient(
            key=f"family:{resident.id}:{index}",
            name=contact.name,
            phone=contact.phone,
            role=Role.FAMILY,
            language=contact.language or "zh",
        )
        for index, contact in enumerate(resident.contacts)
    ]


def nearest_volunteers(responders: tuple[Responder, ...], home: Point, radius_m: float) -> list[Recipient]:
    """Available volunteers with a known home within `radius_m`, nearest first, ties by id."""
    ranked: list[tuple[float, str, Responder]] = []
    for r in responders:
        if r.role is not Role.VOLUNTEERS or not r.available or r.home is None:
            continue
        distance_m = great_circle_m(home, r.home)
        if distance_m <= radius_m:
            ranked.append((distance_m, r.id, r))
    ranked.sort(key=lambda item: (item[0], item[1]))
    return [_recipient(r, distance_m) for distance_m, _, r in ranked]


EARTH_RADIUS_M = 6_371_009.0  # the mean radius geopy's great_circle uses


def great_circle_m(a: Point, b: Point) -> float:
    """Distance in metres on a sphere (the Vincenty formula for a sphere, as geopy's
    `great_circle`). Written here, not imported: importing geopy.distance imports every geopy
    geocoder and HTTP adapter, 0.1-0.6 s of the hub's start-up, for this one formula."""
    lat1, lat2, d_lon = math.radians(a.lat), math.radians(b.lat), math.radians(b.lon - a.lon)
    sin1, cos1, sin2, cos2 = math.sin(lat1), math.cos(lat1), math.sin(lat2), math.cos(lat2)
    y = math.hypot(cos2 * math.sin(d_lon), cos1 * sin2 - sin1 * cos2 * math.cos(d_lon))
    x = sin1 * sin2 + cos1 * cos2 * math.cos(d_lon)
    return EARTH_RADIUS_M * math.atan2(y, x)


def _recipient(r: Responder, distance_m: float | None = None) -> Recipient:
    return Recipient(key=r.id, name=r.name, phone=r.phone, role=r.role, language=r.language, distance_m=distance_m)


def parse_role(value: str) -> Role:
    """Registry role names (`volunteer`) to escalation roles (`volunteers`)."""
    return Role.VOLUNTEERS if value == "volunteer" else Role(value)
