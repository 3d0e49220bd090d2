"""`pingan import FILE`: a validated registry document upserted into the database.

Idempotent: an entry is created, updated or left unchanged, never duplicated; a resident's
contacts and zones, and a responder's grids, are replaced as a whole when the file gives
them (and kept when it leaves them out). Rows the file does not mention are left alone.
All-or-nothing: the caller runs `import_document` inside one transaction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.registry.file import (
    SECTIONS,
    CommunityEntry,
    DeviceEntry,
    GridEntry,
    KnownIds,
    RegistryDocument,
    ResidentEntry,
    ResponderEntry,
)
from hub.storage import models as m

Outcome = str  # "created" | "updated" | "unchanged"
OUTCOMES = ("created", "updated", "unchanged")
PROGRESS_FROM_ENTRIES = 200


@dataclass
class ImportReport:
    counts: dict[str, Counter[str]] = field(default_factory=lambda: {s: Counter() for s in SECTIONS})

    def add(self, section: str, outcome: Outcome) -> None:
        self.counts[section][outcome] += 1

    def lines(self) -> list[str]:
        return [
            f"{section}: " + ", ".join(f"{self.counts[section][o]} {o}" for o in OUTCOMES)
            for section in SECTIONS
        ]

    @property
    def changed(self) -> int:
        return sum(c["created"] + c["updated"] for c in self.counts.values())


def known_ids(session: Session) -> KnownIds:
    """Ids already stored, which a file may refer to without defining them."""
    return KnownIds(
        communities=frozenset(session.scalars(select(m.Community.id))),
        grids=frozenset(session.scalars(select(m.Grid.id))),
        residents=frozenset(session.scalars(select(m.Resident.id))),
    )


def import_document(
    session: Session, doc: RegistryDocument, on_entry: Callable[[], None] | None = None
) -> ImportReport:
    """Upsert every entry in dependency order; the caller commits (or rolls back) once."""
    report = ImportReport()
    tick = on_entry or (lambda: None)
    for community in doc.communities:
        report.add("communities", _upsert_community(session, community))
        tick()
    session.flush()
    for grid in doc.grids:
        report.add("grids", _upsert_grid(session, grid))
        tick()
    session.flush()
    for responder in doc.responders:
        report.add("responders", upsert_responder(session, responder))
        tick()
    session.flush()
    for resident in doc.residents:
        report.add("residents", upsert_resident(session, resident))
        tick()
    session.flush()
    for device in doc.devices:
        report.add("devices", upsert_device(session, device))
        tick()
    session.flush()
    return report


def _apply(row: Any, values: dict[str, Any]) -> bool:
    """Set the attributes that differ; True when any did."""
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


def _upsert(session: Session, model: type[Any], key: str, values: dict[str, Any]) -> tuple[Any, Outcome]:
    row = session.get(model, key)
    if row is None:
        row = model(id=key, **values)
        session.add(row)
        return row, "created"
    return row, "updated" if _apply(row, values) else "unchanged"


def _upsert_community(session: Session, c: CommunityEntry) -> Outcome:
    return _upsert(session, m.Community, c.id, {"name": c.name, "timezone": c.timezone})[1]


def _upsert_grid(session: Session, g: GridEntry) -> Outcome:
    return _upsert(session, m.Grid, g.id, {"community_id": g.community, "name": g.name})[1]


def upsert_responder(session: Session, r: ResponderEntry) -> Outcome:
    values = {
        "name": r.name,
        "phone": r.phone,
        "role": r.role,
        "language": r.language,
        "home_lat": r.home.lat if r.home else None,
        "home_lon": r.home.lon if r.home else None,
        "available": r.available,
    }
    row, outcome = _upsert(session, m.Responder, r.id, values)
    wanted = r.grids if r.grids is not None else ([] if outcome == "created" else None)
    if wanted is not None and {g.id for g in row.grids} != set(wanted):
        row.grids = [session.get_one(m.Grid, grid_id) for grid_id in sorted(set(wanted))]
        outcome = "created" if outcome == "created" else "updated"
    return outcome


def upsert_resident(session: Session, r: ResidentEntry) -> Outcome:
    inactivity = r.inactivity.model_dump(exclude_none=True) if r.inactivity else None
    values = {
        "name": r.name,
        "grid_id": r.grid,
        "address": r.address,
        "home_lat": r.home.lat,
        "home_lon": r.home.lon,
        "share_location": r.share_location,
        "inactivity": inactivity or None,
        "retired_at": None,  # importing a retired resident brings it back
    }
    row, outcome = _upsert(session, m.Resident, r.id, values)
    if r.contacts is not None and _contact_values(row.contacts) != _wanted_contacts(r):
        row.contacts = [m.Contact(position=i, **values) for i, values in enumerate(_wanted_contacts(r))]
        outcome = "created" if outcome == "created" else "updated"
    if r.zones is not None and _zone_values(row.zones) != _wanted_zones(r):
        row.zones = [m.Zone(position=i, **values) for i, values in enumerate(_wanted_zones(r))]
        outcome = "created" if outcome == "created" else "updated"
    return outcome


def _wanted_contacts(r: ResidentEntry) -> list[dict[str, Any]]:
    return [{"name": c.name, "phone": c.phone, "relation": c.relation, "language": c.language} for c in r.contacts or ()]


def _contact_values(rows: list[m.Contact]) -> list[dict[str, Any]]:
    return [{"name": c.name, "phone": c.phone, "relation": c.relation, "language": c.language} for c in rows]


def _wanted_zones(r: ResidentEntry) -> list[dict[str, Any]]:
    """Zones as stored: converted to WGS-84 once, here; the CRS they were drawn in kept for reference."""
    zones = []
    for z in r.zones or ():
        core = z.to_core()
        zones.append({
            "name": z.name,
            "center_lat": core.center.lat if core.center else None,
            "center_lon": core.center.lon if core.center else None,
            "radius_m": core.radius_m,
            "polygon": [[p.lat, p.lon] for p in core.polygon] or None,
            "source_crs": z.crs,
            "hours": z.hours,
        })
    return zones


def _zone_values(rows: list[m.Zone]) -> list[dict[str, Any]]:
    return [
        {
            "name": z.name,
            "center_lat": z.center_lat,
            "center_lon": z.center_lon,
            "radius_m": z.radius_m,
            "polygon": z.polygon,
            "source_crs": z.source_crs,
            "hours": z.hours,
        }
        for z in rows
    ]


def upsert_device(session: Session, d: DeviceEntry) -> Outcome:
    values = {"kind": d.kind.value, "resident_id": d.resident, "heartbeat_s": d.heartbeat_s, "retired_at": None}
    return _upsert(session, m.Device, d.id, values)[1]
