"""The core's `RegistrySnapshot` built from the database registry tables.

Read-only: residents with their contacts, zones (already WGS-84) and time zone (from the
community of their grid), devices, and the absences still running at `now`.
"""

from __future__ import annotations

from collections.abc import Iterable

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
    absences = tuple(
        core.Absence(a.resident_id, a.start_at, a.until_at, a.note)
        for a in session.scalars(
            select(m.Absence).where(m.Absence.until_at > now).order_by(m.Absence.resident_id, m.Absence.start_at, m.Absence.id)
        )
    )
    return core.RegistrySnapshot(residents=residents, devices=devices, absences=absences)


def load_entries(
    session: Session, resident_ids: Iterable[str], device_ids: Iterable[str]
) -> tuple[dict[str, core.Resident | None], dict[str, core.Device | None]]:
    """Only these residents and devices as the core sees them (None: retired or gone), for
    `Engine.update_registry_entries` — one change must not reload a city's registry."""
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
    return residents, devices


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
