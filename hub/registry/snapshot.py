"""The core's `RegistrySnapshot` built from the database registry tables.

Read-only: residents with their contacts, zones (already WGS-84) and time zone (from the
community of their grid), devices, and the absences still running at `now`.

`load_snapshot` reads each table in one query of plain rows (no ORM objects: at a city's size
the ORM's identity map and relationship loading were most of the hub's start-up) and groups
contacts and zones by resident in Python.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from alerts import registry as core
from devices.kinds import DeviceKind
from hub.storage import models as m

DEFAULT_TIMEZONE = "Asia/Shanghai"
_RESIDENT_COLUMNS = (m.Resident.id, m.Resident.name, m.Resident.grid_id, m.Resident.home_lat, m.Resident.home_lon,
                     m.Resident.address, m.Resident.inactivity, m.Resident.share_location)


def load_snapshot(session: Session, now: float) -> core.RegistrySnapshot:
    conn = session.connection()  # Core rows, unpacked as tuples: the ORM's result layer is not needed here
    timezone_of_grid = dict(
        conn.execute(select(m.Grid.id, m.Community.timezone).join(m.Community, m.Grid.community_id == m.Community.id)).tuples().all()
    )
    live = m.Resident.retired_at.is_(None)
    contacts: defaultdict[str, list[core.Contact]] = defaultdict(list)
    for resident_id, name, phone, relation, language in conn.execute(_of_live(
            m.Contact, (m.Contact.name, m.Contact.phone, m.Contact.relation, m.Contact.language), live)).tuples():
        contacts[resident_id].append(core.Contact(name, phone, relation, language))
    zones: defaultdict[str, list[core.Zone]] = defaultdict(list)
    for resident_id, *zone in conn.execute(_of_live(
            m.Zone, (m.Zone.name, m.Zone.center_lat, m.Zone.center_lon, m.Zone.radius_m, m.Zone.polygon, m.Zone.hours),
            live)).tuples():
        zones[resident_id].append(_zone(*zone))
    residents = {}
    for rid, name, grid, lat, lon, address, inactivity, share in conn.execute(
            select(*_RESIDENT_COLUMNS).where(live).order_by(m.Resident.id)).tuples():
        residents[rid] = core.Resident(rid, name, grid, timezone_of_grid.get(grid, DEFAULT_TIMEZONE), core.Point(lat, lon),
                                       address, tuple(zones.get(rid, ())), tuple(contacts.get(rid, ())),
                                       _override(inactivity), share)
    device_rows = conn.execute(
        select(m.Device.id, m.Device.kind, m.Device.resident_id, m.Device.heartbeat_s)
        .where(m.Device.retired_at.is_(None)).order_by(m.Device.id)
    ).tuples()
    devices = {d_id: core.Device(d_id, DeviceKind(kind), resident, heartbeat_s) for d_id, kind, resident, heartbeat_s in device_rows}
    return core.RegistrySnapshot(residents=residents, devices=devices, absences=_running_absences(session, now))


def _of_live(model: type[m.Contact] | type[m.Zone], columns: Sequence[Any], live: Any) -> Select[Any]:
    """A live resident's contacts or zones with their resident's id first, in `position` order."""
    return (select(model.resident_id, *columns).join(m.Resident, m.Resident.id == model.resident_id).where(live)
            .order_by(model.resident_id, model.position, model.id))


@dataclass
class Entries:
    """Some residents and devices as the core sees them (None: retired or gone), with the
    residents' absences still running — for `Engine.update_registry_entries`."""

    residents: dict[str, core.Resident | None]
    devices: dict[str, core.Device | None]
    absences: dict[str, tuple[core.Absence, ...]]


def load_entries(session: Session, resident_ids: Iterable[str], device_ids: Iterable[str], now: float) -> Entries:
    """Only these residents and devices — one change must not reload a city's registry."""
    residents: dict[str, core.Resident | None] = {}
    for resident_id in sorted(set(resident_ids)):
        row = session.get(m.Resident, resident_id)
        residents[resident_id] = None if row is None or row.retired_at is not None else _resident(row, _timezone(session, row.grid_id))
    devices: dict[str, core.Device | None] = {}
    for device_id in sorted(set(device_ids)):
        d = session.get(m.Device, device_id)
        devices[device_id] = None if d is None or d.retired_at is not None else core.Device(
            d.id, DeviceKind(d.kind), d.resident_id, d.heartbeat_s
        )
    absences: dict[str, tuple[core.Absence, ...]] = {resident_id: () for resident_id in residents}
    for resident_id, group in groupby(_running_absences(session, now, residents), key=lambda a: a.resident):
        absences[resident_id] = tuple(group)
    return Entries(residents, devices, absences)


def _running_absences(session: Session, now: float, resident_ids: Iterable[str] | None = None) -> tuple[core.Absence, ...]:
    """Absences not yet over at `now` (of these residents, or everyone's), in a stable order."""
    query = select(m.Absence).where(m.Absence.until_at > now)
    if resident_ids is not None:
        query = query.where(m.Absence.resident_id.in_(list(resident_ids)))
    return tuple(
        core.Absence(a.resident_id, a.start_at, a.until_at, a.note)
        for a in session.scalars(query.order_by(m.Absence.resident_id, m.Absence.start_at, m.Absence.id))
    )


def _timezone(session: Session, grid_id: str) -> str:
    query = select(m.Community.timezone).join(m.Grid, m.Grid.community_id == m.Community.id).where(m.Grid.id == grid_id)
    return session.scalar(query) or DEFAULT_TIMEZONE


def _resident(r: m.Resident, timezone: str) -> core.Resident:
    contacts = tuple(core.Contact(c.name, c.phone, c.relation, c.language) for c in r.contacts)
    zones = tuple(_zone(z.name, z.center_lat, z.center_lon, z.radius_m, z.polygon, z.hours) for z in r.zones)
    return core.Resident(r.id, r.name, r.grid_id, timezone, core.Point(r.home_lat, r.home_lon), r.address, zones, contacts,
                         _override(r.inactivity), r.share_location)


_NO_OVERRIDE = core.InactivityOverride()  # immutable: shared by every resident without an override


def _override(inactivity: dict[str, Any] | None) -> core.InactivityOverride:
    if not inactivity:
        return _NO_OVERRIDE
    return core.InactivityOverride(inactivity.get("day_hours"), inactivity.get("night_hours"), inactivity.get("night"))


def _zone(name: str, center_lat: float | None, center_lon: float | None, radius_m: float | None,
          polygon: list[Any] | None, hours: str | None) -> core.Zone:
    if center_lat is not None and center_lon is not None:
        return core.Zone(name, center=core.Point(center_lat, center_lon), radius_m=radius_m, hours=hours)
    return core.Zone(name, polygon=tuple(core.Point(float(lat), float(lon)) for lat, lon in polygon or ()), hours=hours)
