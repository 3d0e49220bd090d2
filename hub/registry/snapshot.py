"""The core's `RegistrySnapshot` built from the database registry tables.

Read-only: residents with their contacts, zones (already WGS-84) and time zone (from the
community of their grid), devices, and the absences still running at `now`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import groupby

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts import registry as core
from devices.kinds import DeviceKind
from hub.storage import models as m


def load_snapshot(session: Session, now: float) -> core.RegistrySnapshot:
    timezone_of_grid = dict(
        session.execute(select(m.Grid.id, m.Community.timezone).join(m.Community, m.Grid.community_id == m.Community.id)).tuples().all()
    )
    residents = {
        r.id: _resident(r, timezone_of_grid.get(r.grid_id, "Asia/Shanghai"))
        for r in session.scalars(select(m.Resident).where(m.Resident.retired_at.is_(None)).order_by(m.Resident.id))
    }
    devices = {
        d.id: core.Device(d.id, DeviceKind(d.kind), d.resident_id, d.heartbeat_s)
        for d in session.scalars(select(m.Device).where(m.Device.retired_at.is_(None)).order_by(m.Device.id))
    }
    return core.RegistrySnapshot(residents=residents, devices=devices, absences=_running_absences(session, now))


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
    return session.scalar(query) or "Asia/Shanghai"


def _resident(r: m.Resident, timezone: str) -> core.Resident:
    inactivity = r.inactivity or {}
    return core.Resident(
        id=r.id,
        name=r.name,
        grid=r.grid_id,
        timezone=timezone,
        home=core.Point(r.home_lat, r.home_lon),
        address=r.address,
        zones=tuple(_zone(z) for z in r.zones),
        contacts=tuple(core.Contact(c.name, c.phone, c.relation, c.language) for c in r.contacts),
        inactivity=core.InactivityOverride(
            inactivity.get("day_hours"), inactivity.get("night_hours"), inactivity.get("night")
        ),
        share_location=r.share_location,
    )


def _zone(z: m.Zone) -> core.Zone:
    if z.center_lat is not None and z.center_lon is not None:
        return core.Zone(z.name, center=core.Point(z.center_lat, z.center_lon), radius_m=z.radius_m, hours=z.hours)
    polygon = tuple(core.Point(float(lat), float(lon)) for lat, lon in z.polygon or ())
    return core.Zone(z.name, polygon=polygon, hours=z.hours)
