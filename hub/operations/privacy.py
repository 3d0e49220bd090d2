"""Data-subject requests (PIPL): `pingan export RESIDENT` and `pingan erase RESIDENT`.

`export_resident` gathers everything the hub holds about one resident into one JSON document:
the registry entry (contacts, zones, home, inactivity override), devices with their state,
events and quarantined messages of those devices, alerts with their transitions and messages,
absences, person state, family links (metadata only: the tokens are never stored in clear)
and the audit records that concern the resident or their alerts. The export is audited.

`erase_resident` deletes the personal data and keeps an anonymised alert history so the
statistics (alerts by kind and outcome, time to acknowledge, false-alarm shares) still count:
- deleted: the resident row with name, address, home location, inactivity override,
  contacts and zones; events, quarantined messages and device state of their devices; absences;
  person state; family links; the resident's entries in the engine's saved state;
- pseudonymised: alerts and audit records (who, when, what, which alert; their free-form
  details dropped: link labels, notes, client addresses) get `resident_id = erased-<hash>` (hash of the id
  with a random salt, so the same pseudonym for all their alerts but no way back to the id);
  alert reason, zone and device, transition notes, and message bodies, phone numbers and
  family recipients' names are cleared; kind, severity, state, times, outcome, escalation step,
  message states and delivery times stay;
- kept: the devices themselves (equipment of the service centre), unlinked from the resident.
An erase is refused while the resident has an alert that is not resolved (resolve it first:
the running hub still acts on it). It is one transaction and is audited (`resident.erase`,
under the pseudonym). A running hub adopts the change from the registry's change log within 5 s;
its in-memory state of the resident (times, no names) is dropped at its next restart.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from typing import Any

from sqlalchemy import String, cast, delete, inspect, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from alerts.context import device_key, resident_key
from alerts.engine import DEVICE_UNIT
from hub.registry.changes import forget_resident
from hub.rules.runtime import ENGINE_STATE_KEY
from hub.storage import models as m
from hub.storage.engine_units import forget_units

ERASED_BODY = "[erased]"


class UnknownResident(LookupError):
    pass


class ErasureRefused(RuntimeError):
    pass


def _row(obj: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """A model instance's columns as a dict (bytes as base64)."""
    out: dict[str, Any] = {}
    for attr in inspect(obj).mapper.column_attrs:
        if attr.key in skip:
            continue
        value = getattr(obj, attr.key)
        out[attr.key] = base64.b64encode(value).decode() if isinstance(value, bytes) else value
    return out


# --- export --------------------------------------------------------------------------------------


def export_resident(sessions: sessionmaker[Session], resident_id: str, now: float, actor: str) -> dict[str, Any]:
    """Everything held about the resident, as JSON-ready data; audits the export."""
    with sessions.begin() as session:
        resident = session.get(m.Resident, resident_id)
        if resident is None:
            raise UnknownResident(resident_id)
        devices = session.scalars(select(m.Device).where(m.Device.resident_id == resident_id).order_by(m.Device.id)).all()
        device_ids = [d.id for d in devices]
        alerts = session.scalars(select(m.Alert).where(m.Alert.resident_id == resident_id).order_by(m.Alert.opened_at)).all()
        alert_ids = [a.id for a in alerts]
        events = _all(session, select(m.Event).where(m.Event.device_id.in_(device_ids)).order_by(m.Event.id))
        document: dict[str, Any] = {
            "format": "pingan-export/1",
            "exported_at": now,
            "resident": {**_row(resident), "contacts": [_row(c, ("resident_id",)) for c in resident.contacts],
                         "zones": [_row(z, ("resident_id",)) for z in resident.zones]},
            "person_state": _optional(session.get(m.ResidentStatus, resident_id)),
            "devices": [{**_row(d), "state": _optional(session.get(m.DeviceState, d.id))} for d in devices],
            "events": events,
            "quarantine": _all(session, select(m.Quarantine).where(m.Quarantine.device_id.in_(device_ids)).order_by(m.Quarantine.id)),
            "alerts": [{**_row(a), "transitions": [_row(t) for t in a.transitions]} for a in alerts],
            "notifications": _all(session, select(m.Notification).where(m.Notification.alert_id.in_(alert_ids)).order_by(m.Notification.id)),
            "absences": _all(session, select(m.Absence).where(m.Absence.resident_id == resident_id).order_by(m.Absence.id)),
            "family_links": [_row(t, ("token_hash",)) for t in session.scalars(
                select(m.FamilyToken).where(m.FamilyToken.resident_id == resident_id).order_by(m.FamilyToken.id))],
            "audit": _all(session, select(m.Audit).where(_concerns(resident_id, alert_ids)).order_by(m.Audit.id)),
        }
        session.add(m.Audit(at=now, actor=actor, channel="cli", action="resident.export", resident_id=resident_id,
                            detail={"events": len(events), "alerts": len(alerts)}))
    return document


def _optional(obj: Any) -> dict[str, Any] | None:
    return None if obj is None else _row(obj)


def _all(session: Session, query: Any) -> list[dict[str, Any]]:
    return [_row(obj) for obj in session.scalars(query)]


def _concerns(resident_id: str, alert_ids: list[str]) -> Any:
    return or_(m.Audit.resident_id == resident_id, m.Audit.alert_id.in_(alert_ids))


# --- erase ---------------------------------------------------------------------------------------


def pseudonym(resident_id: str, salt: bytes) -> str:
    return "erased-" + hashlib.sha256(salt + resident_id.encode()).hexdigest()[:12]


def erase_resident(sessions: sessionmaker[Session], resident_id: str, now: float, actor: str) -> dict[str, Any]:
    """Delete the resident's personal data, keep the anonymised alert history; returns the counts."""
    with sessions.begin() as session:
        resident = session.get(m.Resident, resident_id)
        if resident is None:
            raise UnknownResident(resident_id)
        alert_ids = list(session.scalars(select(m.Alert.id).where(m.Alert.resident_id == resident_id)))
        open_codes = list(session.scalars(select(m.Alert.code).where(m.Alert.resident_id == resident_id,
                                                                     m.Alert.state != "resolved")))
        if open_codes:
            raise ErasureRefused(f"resident {resident_id} has alerts that are not resolved: {', '.join(open_codes)}; "
                                 "resolve them first")
        alias = pseudonym(resident_id, secrets.token_bytes(16))
        device_ids = list(session.scalars(select(m.Device.id).where(m.Device.resident_id == resident_id)))
        phones = [c.phone for c in resident.contacts]
        counts = {
            "events": _delete(session, delete(m.Event).where(m.Event.device_id.in_(device_ids))),
            "quarantine": _delete(session, delete(m.Quarantine).where(m.Quarantine.device_id.in_(device_ids))),
            "rule_failures": _delete(session, delete(m.RuleFailure).where(m.RuleFailure.device_id.in_(device_ids))),
            "device_state": _delete(session, delete(m.DeviceState).where(m.DeviceState.device_id.in_(device_ids))),
            "absences": _delete(session, delete(m.Absence).where(m.Absence.resident_id == resident_id)),
            "family_links": _delete(session, delete(m.FamilyToken).where(m.FamilyToken.resident_id == resident_id)),
            "person_state": _delete(session, delete(m.ResidentStatus).where(m.ResidentStatus.resident_id == resident_id)),
            "notifications": _delete(session, update(m.Notification).where(
                or_(m.Notification.alert_id.in_(alert_ids), m.Notification.phone.in_(phones))).values(
                body=ERASED_BODY, params=None, phone="", recipient_name="", error=None)),
            "short_links": _delete(session, delete(m.ShortLink).where(m.ShortLink.alert_id.in_(alert_ids))),
            # a grid's digest lists several residents' alerts by name
            "digests": _delete(session, update(m.Notification).where(or_(
                *(m.Notification.body.contains(t, autoescape=True) for t in (resident.name, resident.address or resident.name))
            )).values(body=ERASED_BODY, params=None)),
            "family_recipients": _delete(session, update(m.Notification).where(
                m.Notification.recipient_id.startswith(f"family:{resident_id}:", autoescape=True)).values(
                recipient_id=None)),
            "alerts": _delete(session, update(m.Alert).where(m.Alert.id.in_(alert_ids)).values(
                resident_id=alias, reason="", reason_data=None, zone=None, device_id=None)),
            "transitions": _delete(session, update(m.AlertTransition).where(
                m.AlertTransition.alert_id.in_(alert_ids)).values(note="")),
            "audit": _delete(session, update(m.Audit).where(_concerns(resident_id, alert_ids)).values(
                resident_id=alias, detail=None)),
            "devices_unlinked": _delete(session, update(m.Device).where(m.Device.id.in_(device_ids)).values(resident_id=None)),
        }
        counts.update(_erase_contact_traces(session, resident_id, phones, alias))
        _forget_in_engine_state(session, resident_id, device_ids)
        session.delete(resident)  # contacts and zones go with it
        forget_resident(session, resident_id)  # running hubs forget them too
        session.add(m.Audit(at=now, actor=actor, channel="cli", action="resident.erase", resident_id=alias,
                            detail={"pseudonym": alias, **counts}))
    return {"pseudonym": alias, **counts}


def _erase_contact_traces(session: Session, resident_id: str, phones: list[str], alias: str) -> dict[str, int]:
    """Where the resident's family acted or texted: their actor name and their numbers.

    A contact acts as `family:<resident>:<name or index>` (SMS replies, responder links), or as
    the bare phone; that actor stays in `alerts.acknowledged_by`, `alert_transitions.by` and
    `audit.actor` of any alert, and SMS audit rows (`sms_unknown_number`, `sms_not_understood`,
    ...) hold the number they came from in their detail, with no resident or alert to find them
    by. The actor becomes `family:<pseudonym>` (still "a family member acted" for the
    statistics); a detail naming a number is dropped."""
    actor = f"family:{alias}"

    def by_contact(column: Any) -> Any:
        return or_(column.startswith(f"family:{resident_id}:", autoescape=True), column.in_(phones))

    counts = {
        "acknowledged_by": _delete(session, update(m.Alert).where(by_contact(m.Alert.acknowledged_by)).values(
            acknowledged_by=actor)),
        "transitions_by": _delete(session, update(m.AlertTransition).where(by_contact(m.AlertTransition.by)).values(
            by=actor)),
        "audit_actor": _delete(session, update(m.Audit).where(by_contact(m.Audit.actor)).values(actor=actor, detail=None)),
    }
    detail_text = cast(m.Audit.detail, String)
    mentions = [detail_text.contains(phone, autoescape=True) for phone in phones if phone]
    counts["audit_numbers"] = _delete(session, update(m.Audit).where(or_(*mentions)).values(detail=None)) if mentions else 0
    return counts


def _delete(session: Session, statement: Any) -> int:
    return int(session.execute(statement).rowcount or 0)  # type: ignore[attr-defined]


def _forget_in_engine_state(session: Session, resident_id: str, device_ids: list[str]) -> None:
    """Drop the resident and their devices from the engine's saved state (restore would skip them anyway):
    their unit rows in every engine scope, and a full snapshot not upgraded yet."""
    forget_units(session, [resident_id, *(DEVICE_UNIT + d for d in device_ids)])
    row = session.get(m.EngineState, ENGINE_STATE_KEY)
    if row is None or "engine" not in row.data:
        return
    data = json.loads(json.dumps(row.data))  # a copy, so the JSON column sees a new value
    engine = data["engine"]
    engine.get("residents", {}).pop(resident_id, None)
    for device in device_ids:
        engine.get("devices", {}).pop(device, None)
    gone = {resident_key(resident_id), *(device_key(d) for d in device_ids)}
    engine["deadlines"] = [d for d in engine.get("deadlines", []) if d[0] not in gone]
    row.data = data
