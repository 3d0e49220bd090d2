"""`pingan import FILE`: a validated registry document upserted into the database.

Idempotent: an entry is created, updated or left unchanged, never duplicated; a resident's
contacts and zones, and a responder's grids, are replaced as a whole when the file gives
them (and kept when it leaves them out). Rows the file does not mention are left alone.
All-or-nothing: the caller runs `import_document` inside one transaction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.registry.changes import record_change
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
    """Upsert every entry in dependency order; the caller commits (or rolls back) once.

    The stored rows an import may change are read up front, 500 ids per query, and autoflush is
    off: one `session.get` per entry, each flushing a growing session, took 186 s for 100,000
    residents with two devices each (issue 18); see docs/BENCHMARKS.md for the time now."""
    report = ImportReport()
    tick = on_entry or (lambda: None)
    sections: list[tuple[str, type[Any], Sequence[Any], Callable[..., Outcome]]] = [
        ("communities", m.Community, doc.communities, _upsert_community),
        ("grids", m.Grid, doc.grids, _upsert_grid),
        ("responders", m.Responder, doc.responders, upsert_responder),
        ("residents", m.Resident, doc.residents, upsert_resident),
        ("devices", m.Device, doc.devices, upsert_device),
    ]
    changed: dict[str, list[str]] = {section: [] for section, *_ in sections}
    with session.no_autoflush:
        for section, model, entries, upsert in sections:
            stored = stored_rows(session, model, [e.id for e in entries])
            for entry in entries:
                outcome = upsert(session, entry, stored)
                report.add(section, outcome)
                if outcome != "unchanged":
                    changed[section].append(entry.id)
                tick()
            session.flush()
    # A community's time zone or a grid's community reaches every resident in it: reload all.
    record_change(session, changed["residents"], changed["devices"], full=bool(changed["communities"] or changed["grids"]))
    return report


PREFETCH_CHUNK = 500


def stored_rows(session: Session, model: type[Any], ids: Sequence[str]) -> dict[str, Any]:
    """The rows of `model` with these ids, by id (one query per `PREFETCH_CHUNK` ids)."""
    rows: dict[str, Any] = {}
    for start in range(0, len(ids), PREFETCH_CHUNK):
        chunk = ids[start:start + PREFETCH_CHUNK]
        rows.update((row.id, row) for row in session.scalars(select(model).where(model.id.in_(chunk))))
    return rows


def _apply(row: Any, values: dict[str, Any]) -> bool:
    """Set the attributes that differ; True when any did."""
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


def _upsert(
    session: Session, model: type[Any], key: str, values: dict[str, Any], stored: dict[str, Any] | None = None
) -> tuple[Any, Outcome]:
    """Create or update one row; `stored` (from `stored_rows`) saves the lookup, None looks it up."""
    row = session.get(model, key) if stored is None else stored.get(key)
    if row is None:
        row = model(id=key, **values)
        session.add(row)
        if stored is not None:
            stored[key] = row  # a duplicate id later in the same list updates this one
        return row, "created"
    return row, "updated" if _apply(row, values) else "unchanged"


def _upsert_community(session: Session, c: CommunityEntry, stored: dict[str, Any] | None = None) -> Outcome:
    return _upsert(session, m.Community, c.id, {"name": c.name, "timezone": c.timezone}, stored)[1]


def _upsert_grid(session: Session, g: GridEntry, stored: dict[str, Any] | None = None) -> Outcome:
    return _upsert(session, m.Grid, g.id, {"community_id": g.community, "name": g.name}, stored)[1]


def upsert_responder(session: Session, r: ResponderEntry, stored: dict[str, Any] | None = None) -> Outcome:
    values = {
        "name": r.name,
        "phone": r.phone,
        "role": r.role,
        "language": r.language,
        "home_lat": r.home.lat if r.home else None,
        "home_lon": r.home.lon if r.home else None,
        "available": r.available,
    }
    row, outcome = _upsert(session, m.Responder, r.id, values, stored)
    wanted = r.grids if r.grids is not None else ([] if outcome == "created" else None)
    if wanted is not None and {g.id for g in row.grids} != set(wanted):
        row.grids = [session.get_one(m.Grid, grid_id) for grid_id in sorted(set(wanted))]
        outcome = "created" if outcome == "created" else "updated"
    return outcome


def upsert_resident(session: Session, r: ResidentEntry, stored: dict[str, Any] | None = None) -> Outcome:
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
    row, outcome = _upsert(session, m.Resident, r.id, values, stored)
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


def upsert_device(session: Session, d: DeviceEntry, stored: dict[str, Any] | None = None) -> Outcome:
    values = {"kind": d.kind.value, "resident_id": d.resident, "heartbeat_s": d.heartbeat_s, "retired_at": None}
    return _upsert(session, m.Device, d.id, values, stored)[1]
