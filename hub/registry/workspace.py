"""The workspace's registry edits: one resident, device or responder at a time, or a CSV upload.

The same rules as `pingan import` (hub/registry/file.py validates, hub/registry/importer.py
writes): an edit is turned into a one-entry registry document and goes through
`validate_document` and the importer's upserts, so a phone number, a zone or a device kind
gets exactly the import's error message. Each function runs inside the caller's transaction
(the hub core's `change_registry`, which also tells the engine) and returns a `RegistryEdit`
naming what it touched, so the engine reloads only those residents and devices.

Retiring keeps history: a retired resident or device gets `retired_at` and leaves the rules
and the lists; its events, alerts and audit stay. Responders are deleted (dispatch reads them
from the database; notifications keep the phone they were sent to).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.registry import importer
from hub.registry.file import (
    KnownIds,
    Problem,
    RegistryDocument,
    RegistryError,
    Source,
    load_registry_file,
    validate_document,
)
from hub.storage import models as m


@dataclass
class RegistryEdit:
    """What an edit changed: the ids the engine must reload, and the result to show."""

    residents: set[str] = field(default_factory=set)
    devices: set[str] = field(default_factory=set)
    result: Any = None


class Conflict(Exception):
    """The edit is valid but not allowed now (e.g. retiring a resident with an open alert)."""


class NotFound(LookupError):
    pass


def field_errors(error: RegistryError) -> list[dict[str, Any]]:
    """Problems as FastAPI's 422 body items: `loc` (body and the field's path), `msg`, and the
    import's own one-line text (`entry r-0001 field contacts.0.phone: ...`)."""
    return [
        {"loc": ["body", *(p.field.split(".") if p.field else [])], "msg": p.message, "type": "value_error",
         "field": p.field, "text": str(p).removeprefix("api: ").removeprefix("api ")}
        for p in error.problems
    ]


def _invalid(entry: str | None, fld: str, message: str) -> RegistryError:
    return RegistryError([Problem("api", None, entry, fld, message)])


def _validate(section: str, entry: dict[str, Any], known: KnownIds) -> Any:
    """One entry through the import's validation; the valid model."""
    doc = validate_document({section: [entry]}, Source("api"), known)
    return getattr(doc, section)[0]


def _known(session: Session, grids: Sequence[object] = (), residents: Sequence[object] = ()) -> KnownIds:
    """Only the referenced ids that exist — not the whole registry (a city has 100,000 residents)."""
    return KnownIds(
        grids=frozenset(g for g in grids if isinstance(g, str) and session.get(m.Grid, g) is not None),
        residents=frozenset(
            r for r in residents if isinstance(r, str) and (row := session.get(m.Resident, r)) is not None and row.retired_at is None
        ),
    )


def _audit(session: Session, now: float, actor: str, channel: str, action: str, resident: str | None, detail: dict[str, Any]) -> None:
    session.add(m.Audit(at=now, actor=actor, channel=channel, action=action, resident_id=resident, detail=detail))


# --- residents ------------------------------------------------------------------------------


def resident_entry(row: m.Resident, with_lists: bool = True) -> dict[str, Any]:
    """A stored resident in the registry file's shape (zones as stored: WGS-84)."""
    entry: dict[str, Any] = {
        "id": row.id, "name": row.name, "grid": row.grid_id, "address": row.address,
        "home": {"lat": row.home_lat, "lon": row.home_lon}, "share_location": row.share_location,
    }
    if row.inactivity:
        entry["inactivity"] = dict(row.inactivity)
    if with_lists:
        entry["contacts"] = [{"name": c.name, "phone": c.phone, "relation": c.relation, "language": c.language} for c in row.contacts]
        entry["zones"] = [_zone_entry(z) for z in row.zones]
    return entry


def _zone_entry(z: m.Zone) -> dict[str, Any]:
    zone: dict[str, Any] = {"name": z.name}
    if z.center_lat is not None and z.center_lon is not None:
        zone["circle"] = {"lat": z.center_lat, "lon": z.center_lon, "radius_m": z.radius_m}
    else:
        zone["polygon"] = z.polygon
    if z.hours:
        zone["hours"] = z.hours
    return zone


def create_resident(session: Session, data: dict[str, Any], actor: str, channel: str, now: float) -> RegistryEdit:
    entry = _validate("residents", data, _known(session, grids=[data.get("grid")]))
    if session.get(m.Resident, entry.id) is not None:
        raise _invalid(entry.id, "id", f"resident {entry.id!r} already exists")
    importer.upsert_resident(session, entry)
    session.flush()
    _audit(session, now, actor, channel, "resident.create", entry.id, {"name": entry.name, "grid": entry.grid})
    return RegistryEdit(residents={entry.id}, result=entry.id)


def update_resident(session: Session, resident_id: str, patch: dict[str, Any], actor: str, channel: str, now: float) -> RegistryEdit:
    row = _live_resident(session, resident_id)
    if "id" in patch and patch["id"] != resident_id:
        raise _invalid(resident_id, "id", "the id of a resident cannot change")
    # Lists left out of the patch are kept, as in an import.
    merged = {**resident_entry(row, with_lists=False), **patch}
    entry = _validate("residents", merged, _known(session, grids=[merged.get("grid")]))
    outcome = importer.upsert_resident(session, entry)
    session.flush()
    if outcome != "unchanged":
        _audit(session, now, actor, channel, "resident.update", resident_id, {"fields": sorted(patch)})
    return RegistryEdit(residents={resident_id}, result=outcome)


def retire_resident(session: Session, resident_id: str, actor: str, channel: str, now: float) -> RegistryEdit:
    """The resident and their devices leave the rules; refused while an alert of theirs is open."""
    row = _live_resident(session, resident_id)
    open_alert = session.scalar(select(m.Alert.code).where(m.Alert.resident_id == resident_id, m.Alert.state != "resolved").limit(1))
    if open_alert is not None:
        raise Conflict(f"alert {open_alert} of {resident_id} is not resolved; resolve it first")
    row.retired_at = now
    devices = list(session.scalars(select(m.Device).where(m.Device.resident_id == resident_id, m.Device.retired_at.is_(None))))
    for device in devices:
        device.retired_at = now
    _audit(session, now, actor, channel, "resident.retire", resident_id, {"devices": [d.id for d in devices]})
    return RegistryEdit(residents={resident_id}, devices={d.id for d in devices})


def _live_resident(session: Session, resident_id: str) -> m.Resident:
    row = session.get(m.Resident, resident_id)
    if row is None or row.retired_at is not None:
        raise NotFound(f"no resident {resident_id!r}")
    return row


# --- devices --------------------------------------------------------------------------------


def device_entry(row: m.Device) -> dict[str, Any]:
    return {"id": row.id, "kind": row.kind, "resident": row.resident_id, "heartbeat_s": row.heartbeat_s}


def create_device(session: Session, data: dict[str, Any], actor: str, channel: str, now: float) -> RegistryEdit:
    entry = _validate("devices", data, _known(session, residents=[data.get("resident")]))
    if session.get(m.Device, entry.id) is not None:
        raise _invalid(entry.id, "id", f"device {entry.id!r} already exists (a retired id is not reused)")
    importer.upsert_device(session, entry)
    _audit(session, now, actor, channel, "device.create", entry.resident, {"device": entry.id, "kind": entry.kind.value})
    return RegistryEdit(devices={entry.id}, result=entry.id)


def update_device(session: Session, device_id: str, patch: dict[str, Any], actor: str, channel: str, now: float) -> RegistryEdit:
    row = _live_device(session, device_id)
    if "id" in patch and patch["id"] != device_id:
        raise _invalid(device_id, "id", "a device id cannot change; replace the device instead")
    before = row.resident_id
    merged = {**device_entry(row), **patch}
    entry = _validate("devices", merged, _known(session, residents=[merged.get("resident")]))
    outcome = importer.upsert_device(session, entry)
    if outcome != "unchanged":
        _audit(session, now, actor, channel, "device.update", entry.resident or before, {"device": device_id, "fields": sorted(patch)})
    return RegistryEdit(devices={device_id}, result=outcome)


def retire_device(session: Session, device_id: str, actor: str, channel: str, now: float) -> RegistryEdit:
    row = _live_device(session, device_id)
    row.retired_at = now
    _audit(session, now, actor, channel, "device.retire", row.resident_id, {"device": device_id})
    return RegistryEdit(devices={device_id})


def replace_device(session: Session, device_id: str, new_id: Any, actor: str, channel: str, now: float) -> RegistryEdit:
    """One action: the new device takes over the old one's kind, resident and heartbeat; the
    old one is retired and keeps its events and alerts."""
    old = _live_device(session, device_id)
    entry = {**device_entry(old), "id": new_id}
    try:
        new = _validate("devices", entry, _known(session, residents=[old.resident_id] if old.resident_id else []))
    except RegistryError as exc:  # the only field the caller gave is the new id
        raise RegistryError([Problem(p.file, p.line, p.entry, "new_id" if p.field == "id" else p.field, p.message)
                             for p in exc.problems]) from None
    if session.get(m.Device, new.id) is not None:
        raise _invalid(device_id, "new_id", f"device {new.id!r} already exists (a retired id is not reused)")
    old.retired_at = now
    importer.upsert_device(session, new)
    _audit(session, now, actor, channel, "device.replace", old.resident_id, {"device": device_id, "new_id": new.id})
    return RegistryEdit(devices={device_id, new.id}, result=new.id)


def _live_device(session: Session, device_id: str) -> m.Device:
    row = session.get(m.Device, device_id)
    if row is None or row.retired_at is not None:
        raise NotFound(f"no device {device_id!r}")
    return row


# --- responders -----------------------------------------------------------------------------


def responder_entry(row: m.Responder) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": row.id, "name": row.name, "phone": row.phone, "role": row.role, "grids": sorted(g.id for g in row.grids),
        "language": row.language, "available": row.available,
    }
    if row.home_lat is not None and row.home_lon is not None:
        entry["home"] = {"lat": row.home_lat, "lon": row.home_lon}
    return entry


def create_responder(session: Session, data: dict[str, Any], actor: str, channel: str, now: float) -> RegistryEdit:
    entry = _validate("responders", data, _known(session, grids=list(data.get("grids") or [])))
    if session.get(m.Responder, entry.id) is not None:
        raise _invalid(entry.id, "id", f"responder {entry.id!r} already exists")
    importer.upsert_responder(session, entry)
    _audit(session, now, actor, channel, "responder.create", None, {"responder": entry.id, "role": entry.role})
    return RegistryEdit(result=entry.id)


def update_responder(session: Session, responder_id: str, patch: dict[str, Any], actor: str, channel: str, now: float) -> RegistryEdit:
    row = _responder(session, responder_id)
    if "id" in patch and patch["id"] != responder_id:
        raise _invalid(responder_id, "id", "the id of a responder cannot change")
    merged = {**responder_entry(row), **patch}
    entry = _validate("responders", merged, _known(session, grids=list(merged.get("grids") or [])))
    outcome = importer.upsert_responder(session, entry)
    if outcome != "unchanged":
        _audit(session, now, actor, channel, "responder.update", None, {"responder": responder_id, "fields": sorted(patch)})
    return RegistryEdit(result=outcome)


def remove_responder(session: Session, responder_id: str, actor: str, channel: str, now: float) -> RegistryEdit:
    row = _responder(session, responder_id)
    session.delete(row)
    _audit(session, now, actor, channel, "responder.remove", None, {"responder": responder_id, "name": row.name})
    return RegistryEdit()


def _responder(session: Session, responder_id: str) -> m.Responder:
    row = session.get(m.Responder, responder_id)
    if row is None:
        raise NotFound(f"no responder {responder_id!r}")
    return row


# --- CSV upload -----------------------------------------------------------------------------


def check_upload(session: Session, folder: Path) -> RegistryDocument:
    """Validate a folder of uploaded CSV files as `pingan import FOLDER` does (RegistryError
    lists every problem by file and line)."""
    return load_registry_file(folder, importer.known_ids(session))


def import_upload(session: Session, folder: Path, actor: str, channel: str, now: float) -> RegistryEdit:
    """All or nothing: validated again (the database may have changed since the preview), then
    upserted in the caller's transaction; the engine reloads the residents and devices named."""
    doc = check_upload(session, folder)
    report = importer.import_document(session, doc)
    counts = {section: dict(counter) for section, counter in report.counts.items() if counter}
    _audit(session, now, actor, channel, "registry.import", None, {"files": sorted(p.name for p in folder.glob("*.csv")), "counts": counts})
    return RegistryEdit(residents={r.id for r in doc.residents}, devices={d.id for d in doc.devices}, result=report)


# --- boundaries -------------------------------------------------------------------------------


class OutOfScope(Exception):
    """A user limited to some grids (dashboards/scope.py) asked to change something outside them."""


def within(grids: frozenset[str] | None, edit: Callable[[Session], RegistryEdit], *, resident: str | None = None,
           device: str | None = None, registry_wide: bool = False) -> Callable[[Session], RegistryEdit]:
    """`edit`, allowed only inside `grids` (None: everywhere): the resident or device it names
    must be in them before, and every resident it touched after. Responders and uploads span
    grids (`registry_wide`): only for users without a limit."""
    if grids is None:
        return edit

    def guarded(session: Session) -> RegistryEdit:
        if registry_wide:
            raise OutOfScope("needs a user without a community or grid limit")
        named = session.get(m.Device, device) if device else None
        for resident_id in filter(None, (resident, named.resident_id if named else None)):
            _check_grid(session, resident_id, grids)
        done = edit(session)
        session.flush()
        touched = set(done.residents)
        touched |= {row.resident_id for d in done.devices if (row := session.get(m.Device, d)) and row.resident_id}
        for resident_id in sorted(touched):
            _check_grid(session, resident_id, grids)
        return done

    return guarded


def _check_grid(session: Session, resident_id: str, grids: frozenset[str]) -> None:
    row = session.get(m.Resident, resident_id)
    if row is not None and row.grid_id not in grids:
        raise OutOfScope(f"resident {resident_id!r} is outside your communities and grids")
