"""The core's `RegistrySnapshot` built from the database registry tables.

Read-only: residents with their contacts, zones (already WGS-84) and time zone (from the
community of their grid), devices, and the absences still running at `now`.
"""

from __future__ import annotations

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
        for r in session.scalars(select(m.Resident).order_by(m.Resident.id))
    }
    devices = {
        d.id: core.Device(d.id, DeviceKind(d.kind), d.resident_id, d.heartbeat_s)
        for d in session.scalars(select(m.Device).order_by(m.Device.id))
    }
    absences = tuple(
        core.Absence(a.resident_id, a.start_at, a.until_at, a.note)
        for a in session.scalars(
            select(m.Absence).where(m.Absence.until_at > now).order_by(m.Absence.resident_id, m.Absence.start_at, m.Absence.id)
        )
    )
    return core.RegistrySnapshot(residents=residents, devices=devices, absences=absences)


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
