"""Read side of the web: view models built straight from hub.storage.models.

Pages and the API both read through these functions; nothing here writes. Times are epoch
seconds; formatting belongs to the templates.

Person state shown for a resident (PRODUCT "Person state"), first match wins:
1. `alert` when the resident has an unresolved alert;
2. the hub core's own judgement, stored in `resident_status` with every decision;
3. `away` during a recorded absence;
4. derived from `device_state`: `unknown` when no device of the resident is online; `away` when
   the GPS tag's last fix is more than `AWAY_DISTANCE_M` from home; `home_active` when the
   newest activity is less than `ACTIVE_WINDOW_S` old; else `home_quiet`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.ports import AlertView
from hub.storage.alert_store import alert_view
from hub.storage.models import (
    Absence,
    Alert,
    AlertTransition,
    ApiToken,
    Audit,
    Device,
    DeviceState,
    Event,
    Grid,
    Notification,
    Resident,
    Responder,
    User,
)
from hub.storage.models import (
    ResidentStatus as StoredPersonState,
)

SEVERITY_RANK = {"critical": 0, "high": 1, "low": 2}
ALERT_STATES = ("open", "acknowledged", "on_site", "resolved")
ACTIVE_STATES = ("open", "acknowledged", "on_site")
OUTCOMES = ("ok", "assisted", "hospital", "false_alarm", "cleared", "returned", "cancelled")
OPERATOR_OUTCOMES = ("ok", "assisted", "hospital", "false_alarm")
ALERT_KINDS = ("sos", "fall", "smoke", "gas", "inactivity", "device_offline", "geofence_exit", "low_battery", "manual")
PERSON_STATES = ("home_active", "home_quiet", "away", "unknown", "alert")
ACTIVITY_TYPES = ("motion", "door_open", "door_close", "water_flow", "button", "sos", "sos_cancel", "fall")
ACTIVE_WINDOW_S = 3600.0
AWAY_DISTANCE_M = 300.0


# --- alerts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TransitionRow:
    state: str
    at: float
    by: str
    channel: str
    note: str


@dataclass(frozen=True)
class NotificationRow:
    id: int
    purpose: str
    step: int
    role: str
    recipient: str
    phone: str
    state: str
    attempts: int
    created_at: float
    sent_at: float | None
    delivered_at: float | None
    error: str | None
    channel: str = "sms"  # sms | voice | group: every attempt on every channel is a row


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: float
    actor: str
    channel: str
    action: str
    alert_id: str | None
    resident_id: str | None
    detail: dict[str, Any] | None


@dataclass(frozen=True)
class AlertDetail:
    alert: AlertView
    transitions: list[TransitionRow]
    notifications: list[NotificationRow]
    audit: list[AuditRow]


def _acknowledgers(session: Session, alerts: list[Alert]) -> dict[str, tuple[str, str]]:
    """alert id -> (actor, display name) of whoever first acknowledged it (or went on site).

    Read from the transitions, the hub core's audit of every change: the `acknowledged_by`
    column is not always filled by the core's store."""
    ids = [a.id for a in alerts if a.acknowledged_at is not None or a.on_site_at is not None]
    if not ids:
        return {}
    found: dict[str, str] = {}
    for t in session.scalars(
        select(AlertTransition)
        .where(AlertTransition.alert_id.in_(ids), AlertTransition.state.in_(("acknowledged", "on_site")))
        .order_by(AlertTransition.at, AlertTransition.id)
    ):
        found.setdefault(t.alert_id, t.by)
    for a in alerts:
        if a.acknowledged_by:
            found[a.id] = a.acknowledged_by
    names = actor_names(session, set(found.values()))
    return {alert_id: (actor, names.get(actor, actor)) for alert_id, actor in found.items()}


#: Who acknowledged, as the family page says it: a responder's registry role, a family member,
#: the service centre (a board user or an API token), or just "someone" (e.g. a bare number).
ACKNOWLEDGER_ROLES = ("grid_worker", "grid_leader", "grid_secretary", "volunteer", "operator", "family", "staff", "someone")


def acknowledger_role(session: Session, actor: str) -> str:
    if actor.startswith("family:"):
        return "family"
    responder = session.get(Responder, actor)
    if responder is not None:
        return responder.role if responder.role in ACKNOWLEDGER_ROLES else "someone"
    if session.scalar(select(User.id).where(User.name == actor)) is not None:
        return "staff"
    if session.scalar(select(ApiToken.id).where(ApiToken.name == actor).limit(1)) is not None:
        return "staff"
    return "someone"


def actor_names(session: Session, actors: set[str]) -> dict[str, str]:
    """How an actor id reads on a page: a responder's name, a family contact's name, else the id."""
    names = {r.id: r.name for r in session.scalars(select(Responder).where(Responder.id.in_(actors)))} if actors else {}
    for actor in actors:
        if actor.startswith("family:") and actor.count(":") >= 2:
            names[actor] = actor.split(":", 2)[2]
    return names


def _alert_rows(session: Session, pairs: list[tuple[Alert, Resident | None]]) -> list[AlertView]:
    ackers = _acknowledgers(session, [a for a, _ in pairs])
    return [alert_view(a, r, ackers.get(a.id)) for a, r in pairs]


def list_alerts(
    session: Session,
    state: str | None = None,
    kind: str | None = None,
    resident: str | None = None,
    since: float | None = None,
    limit: int = 500,
) -> list[AlertView]:
    """Alerts, most urgent first: severity, then the longest waiting.

    `state` is one of ALERT_STATES, or `active` for every state but resolved.
    """
    query = select(Alert, Resident).outerjoin(Resident, Resident.id == Alert.resident_id)
    if state == "active":
        query = query.where(Alert.state.in_(ACTIVE_STATES))
    elif state:
        query = query.where(Alert.state == state)
    if kind:
        query = query.where(Alert.kind == kind)
    if resident:
        query = query.where(Alert.resident_id == resident)
    if since is not None:
        query = query.where(Alert.opened_at >= since)
    if state in ("resolved", None):
        query = query.order_by(Alert.opened_at.desc(), Alert.id)
        return _alert_rows(session, [(a, r) for a, r in session.execute(query.limit(limit))])
    rows = _alert_rows(session, [(a, r) for a, r in session.execute(query.order_by(Alert.opened_at, Alert.id).limit(limit))])
    return sorted(rows, key=lambda a: (SEVERITY_RANK.get(a.severity, 9), a.opened_at, a.id))


def alert_row(session: Session, alert_id: str) -> AlertView | None:
    alert = session.get(Alert, alert_id)
    if alert is None:
        return None
    return _alert_rows(session, [(alert, session.get(Resident, alert.resident_id) if alert.resident_id else None)])[0]


def notifications_of(session: Session, alert_ids: list[str]) -> dict[str, list[NotificationRow]]:
    found: dict[str, list[NotificationRow]] = {a: [] for a in alert_ids}
    if not alert_ids:
        return found
    query = select(Notification).where(Notification.alert_id.in_(alert_ids)).order_by(Notification.id)
    for n in session.scalars(query):
        found[n.alert_id or ""].append(
            NotificationRow(
                id=n.id,
                purpose=n.purpose,
                step=n.step,
                role=n.role,
                recipient=n.recipient_name or n.recipient_id or "",
                phone=n.phone,
                state=n.state,
                attempts=n.attempts,
                created_at=n.created_at,
                sent_at=n.sent_at,
                delivered_at=n.delivered_at,
                error=n.error or n.error_code,
                channel=n.channel or "sms",
            )
        )
    return found


def _audit_row(a: Audit) -> AuditRow:
    return AuditRow(a.id, a.at, a.actor, a.channel, a.action, a.alert_id, a.resident_id, a.detail)


def alert_detail(session: Session, alert_id: str) -> AlertDetail | None:
    row = alert_row(session, alert_id)
    if row is None:
        return None
    transitions = [
        TransitionRow(t.state, t.at, t.by, t.channel, t.note)
        for t in session.scalars(
            select(AlertTransition).where(AlertTransition.alert_id == alert_id).order_by(AlertTransition.id)
        )
    ]
    audit = [
        _audit_row(a) for a in session.scalars(select(Audit).where(Audit.alert_id == alert_id).order_by(Audit.id))
    ]
    return AlertDetail(row, transitions, notifications_of(session, [alert_id])[alert_id], audit)


def recent_audit(session: Session, limit: int = 200) -> list[AuditRow]:
    return [_audit_row(a) for a in session.scalars(select(Audit).order_by(Audit.id.desc()).limit(limit))]


def audit_between(session: Session, start: float, end: float, limit: int = 500) -> list[AuditRow]:
    """What was done from `start` to `end`, newest first (the handover page)."""
    query = select(Audit).where(Audit.at.between(start, end)).order_by(Audit.at.desc(), Audit.id.desc()).limit(limit)
    return [_audit_row(a) for a in session.scalars(query)]


# --- residents and devices ------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceHealthRow:
    id: str
    kind: str
    resident: str | None
    heartbeat_s: int
    online: bool | None  # None: never heard
    last_seen_at: float | None
    battery: int | None
    rssi: int | None
    fw: str | None
    last_lat: float | None
    last_lon: float | None
    last_fix_at: float | None

    @property
    def health(self) -> str:
        """ok, low_battery, offline or unknown (never heard)."""
        if self.online is None and self.last_seen_at is None:
            return "unknown"
        if self.online is False:
            return "offline"
        if self.battery is not None and self.battery <= 20:
            return "low_battery"
        return "ok"


@dataclass(frozen=True)
class AbsenceRow:
    id: int
    resident: str
    start_at: float
    until_at: float
    note: str
    created_by: str


@dataclass(frozen=True)
class ResidentStatus:
    id: str
    name: str
    grid: str
    grid_name: str
    address: str
    home_lat: float
    home_lon: float
    share_location: bool
    person_state: str
    state_source: str  # alert, engine, absence, derived
    last_activity_at: float | None
    devices: list[DeviceHealthRow]
    open_alerts: list[AlertView]
    absence: AbsenceRow | None  # the absence in force now, if any

    @property
    def health(self) -> str:
        """The worst device health of the resident."""
        order = ["offline", "low_battery", "unknown", "ok"]
        found = [d.health for d in self.devices]
        return next((h for h in order if h in found), "unknown")


def _device_rows(session: Session, resident_ids: list[str] | None = None) -> list[DeviceHealthRow]:
    query = select(Device, DeviceState).outerjoin(DeviceState, DeviceState.device_id == Device.id).where(Device.retired_at.is_(None))
    if resident_ids is not None:
        query = query.where(Device.resident_id.in_(resident_ids))
    rows = []
    for d, s in session.execute(query.order_by(Device.id)):
        rows.append(
            DeviceHealthRow(
                id=d.id,
                kind=d.kind,
                resident=d.resident_id,
                heartbeat_s=d.heartbeat_s,
                online=s.online if s else None,
                last_seen_at=s.last_seen_at if s else None,
                battery=s.battery if s else None,
                rssi=s.rssi if s else None,
                fw=s.fw if s else None,
                last_lat=s.last_lat if s else None,
                last_lon=s.last_lon if s else None,
                last_fix_at=s.last_fix_at if s else None,
            )
        )
    return rows


def _last_activity(session: Session, device_ids: list[str]) -> float | None:
    if not device_ids:
        return None
    value = session.scalar(
        select(func.max(DeviceState.last_activity_at)).where(DeviceState.device_id.in_(device_ids))
    )
    return float(value) if value is not None else None


def _absence_now(session: Session, resident_ids: list[str], now: float) -> dict[str, AbsenceRow]:
    query = (
        select(Absence)
        .where(Absence.resident_id.in_(resident_ids), Absence.start_at <= now, Absence.until_at > now)
        .order_by(Absence.until_at)
    )
    return {a.resident_id: _absence_row(a) for a in session.scalars(query)}


def _absence_row(a: Absence) -> AbsenceRow:
    return AbsenceRow(a.id, a.resident_id, a.start_at, a.until_at, a.note, a.created_by)


def _engine_person(session: Session, resident_ids: list[str]) -> dict[str, str]:
    """The hub core's fused person state per resident (table `resident_status`)."""
    rows = session.scalars(select(StoredPersonState).where(StoredPersonState.resident_id.in_(resident_ids)))
    return {row.resident_id: row.state for row in rows if row.state in PERSON_STATES}


def great_circle_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance in metres (display-side estimate; the rules use their own geometry)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371008.8 * math.asin(min(1.0, math.sqrt(h)))


def derive_person_state(
    devices: list[DeviceHealthRow], home: tuple[float, float], last_activity_at: float | None, now: float
) -> str:
    """Person state from device state alone (rule 4 of the module docstring)."""
    if not any(d.online for d in devices):
        return "unknown"
    tags_far = [
        d
        for d in devices
        if d.kind == "gps_tag" and d.online and d.last_lat is not None and d.last_lon is not None
        and great_circle_m(home[0], home[1], d.last_lat, d.last_lon) > AWAY_DISTANCE_M
    ]
    if tags_far:
        return "away"
    if last_activity_at is not None and now - last_activity_at < ACTIVE_WINDOW_S:
        return "home_active"
    return "home_quiet"


def resident_statuses(session: Session, now: float, resident_ids: list[str] | None = None) -> list[ResidentStatus]:
    query = select(Resident, Grid).join(Grid, Grid.id == Resident.grid_id).order_by(Resident.id)
    if resident_ids is not None:
        query = query.where(Resident.id.in_(resident_ids))
    else:  # the board's list: residents in service; a retired one's own page still opens (its history)
        query = query.where(Resident.retired_at.is_(None))
    pairs = list(session.execute(query))
    ids = [r.id for r, _ in pairs]
    devices = _device_rows(session, ids)
    by_resident: dict[str, list[DeviceHealthRow]] = {i: [] for i in ids}
    for d in devices:
        if d.resident in by_resident:
            by_resident[d.resident].append(d)
    open_alerts: dict[str, list[AlertView]] = {i: [] for i in ids}
    for a in list_alerts(session, state="active"):
        if a.resident in open_alerts:
            open_alerts[a.resident].append(a)
    absences = _absence_now(session, ids, now) if ids else {}
    engine = _engine_person(session, ids) if ids else {}
    statuses = []
    for resident, grid in pairs:
        mine = by_resident[resident.id]
        last = _last_activity(session, [d.id for d in mine])
        if open_alerts[resident.id]:
            state, source = "alert", "alert"
        elif resident.id in engine:
            state, source = engine[resident.id], "engine"
        elif resident.id in absences:
            state, source = "away", "absence"
        else:
            state = derive_person_state(mine, (resident.home_lat, resident.home_lon), last, now)
            source = "derived"
        statuses.append(
            ResidentStatus(
                id=resident.id,
                name=resident.name,
                grid=grid.id,
                grid_name=grid.name,
                address=resident.address,
                home_lat=resident.home_lat,
                home_lon=resident.home_lon,
                share_location=resident.share_location,
                person_state=state,
                state_source=source,
                last_activity_at=last,
                devices=mine,
                open_alerts=open_alerts[resident.id],
                absence=absences.get(resident.id),
            )
        )
    return statuses


def resident_names(session: Session, ids: list[str]) -> dict[str, str]:
    """Names of these residents (the board's absences list), by id."""
    if not ids:
        return {}
    return dict(session.execute(select(Resident.id, Resident.name).where(Resident.id.in_(set(ids)))).tuples().all())


def resident_status(session: Session, resident_id: str, now: float) -> ResidentStatus | None:
    found = resident_statuses(session, now, [resident_id])
    return found[0] if found else None


def absences_of(session: Session, resident_id: str | None = None, include_past: bool = False, now: float = 0.0) -> list[AbsenceRow]:
    query = select(Absence).order_by(Absence.start_at, Absence.id)
    if resident_id is not None:
        query = query.where(Absence.resident_id == resident_id)
    if not include_past:
        query = query.where(Absence.until_at > now)
    return [_absence_row(a) for a in session.scalars(query)]


def absence(session: Session, absence_id: int) -> AbsenceRow | None:
    row = session.get(Absence, absence_id)
    return _absence_row(row) if row else None


@dataclass(frozen=True)
class EventRow:
    id: int
    device: str
    channel: str
    type: str | None
    at: float
    late: bool
    lat: float | None
    lon: float | None
    battery: int | None


def resident_events(
    session: Session, resident_id: str, since: float, limit: int = 200, heartbeats: bool = True
) -> list[EventRow]:
    """The resident's device events since `since`, newest first; `heartbeats=False` leaves out the
    periodic heartbeats (device health, shown on the device page) so the resident's own activity
    is not buried under them."""
    device_ids = select(Device.id).where(Device.resident_id == resident_id)
    query = select(Event).where(Event.device_id.in_(device_ids), Event.at >= since)
    if not heartbeats:
        query = query.where(Event.channel != "heartbeat")
    query = query.order_by(Event.at.desc(), Event.id.desc()).limit(limit)
    return [EventRow(e.id, e.device_id, e.channel, e.type, e.at, e.late, e.lat, e.lon, e.battery) for e in session.scalars(query)]


def activity_times(session: Session, resident_id: str, since: float) -> list[float]:
    """Times of the resident's activity events (what the inactivity rule counts) since `since`."""
    device_ids = select(Device.id).where(Device.resident_id == resident_id)
    query = select(Event.at).where(
        Event.device_id.in_(device_ids), Event.at >= since, Event.channel == "event", Event.type.in_(ACTIVITY_TYPES)
    )
    return [float(t) for t in session.scalars(query)]


def device_row(session: Session, device_id: str) -> DeviceHealthRow | None:
    rows = [d for d in _device_rows(session) if d.id == device_id]
    return rows[0] if rows else None


def battery_points(session: Session, device_id: str, since: float) -> list[tuple[float, int]]:
    query = (
        select(Event.at, Event.battery)
        .where(Event.device_id == device_id, Event.at >= since, Event.battery.is_not(None))
        .order_by(Event.at)
    )
    return [(float(at), int(b)) for at, b in session.execute(query)]


def days_left(points: list[tuple[float, int]], now: float, empty_at: float = 0.0) -> float | None:
    """Days until the battery reaches `empty_at` %, by a least-squares line through `points`.

    None with fewer than two points spread over at least an hour, or when the trend is not falling.
    """
    if len(points) < 2 or points[-1][0] - points[0][0] < 3600:
        return None
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_b = sum(b for _, b in points) / n
    var_t = sum((t - mean_t) ** 2 for t, _ in points)
    slope = sum((t - mean_t) * (b - mean_b) for t, b in points) / var_t  # % per second
    if slope >= 0:
        return None
    level_now = mean_b + slope * (now - mean_t)
    return max(0.0, (level_now - empty_at) / -slope / 86400)


# --- map ------------------------------------------------------------------------------------


def map_features(session: Session, now: float, trail_s: float = 86400.0) -> dict[str, Any]:
    """Homes, zones, tags' last fixes and trails, and which residents have an open alert (WGS-84)."""
    statuses = resident_statuses(session, now)
    homes = [
        {
            "id": s.id,
            "name": s.name,
            "address": s.address,
            "lat": s.home_lat,
            "lon": s.home_lon,
            "state": s.person_state,
            "alert": bool(s.open_alerts),
            "alerts": [{"id": a.id, "code": a.code, "kind": a.kind, "severity": a.severity} for a in s.open_alerts],
        }
        for s in statuses
    ]
    residents = {r.id: r for r in session.scalars(select(Resident).where(Resident.retired_at.is_(None)))}
    zones = []
    for resident in residents.values():
        for z in resident.zones:
            zones.append(
                {
                    "resident": resident.id,
                    "name": z.name,
                    "circle": [z.center_lat, z.center_lon, z.radius_m] if z.center_lat is not None else None,
                    "polygon": z.polygon,
                }
            )
    tags = []
    for s in statuses:
        for d in s.devices:
            if d.kind != "gps_tag":
                continue
            trail_query = (
                select(Event.lat, Event.lon, Event.at)
                .where(Event.device_id == d.id, Event.at >= now - trail_s, Event.lat.is_not(None))
                .order_by(Event.at)
                .limit(2000)
            )
            trail = [[lat, lon] for lat, lon, _ in session.execute(trail_query)]
            fix = [d.last_lat, d.last_lon] if d.last_lat is not None else (trail[-1] if trail else None)
            tags.append({"device": d.id, "resident": s.id, "fix": fix, "fix_at": d.last_fix_at, "trail": trail, "alert": bool(s.open_alerts)})
    return {"homes": homes, "zones": zones, "tags": tags}


def device_kinds(session: Session, device_ids: list[str | None]) -> dict[str, str]:
    """{device id: kind} of these devices (pages name devices by kind: devices.labels)."""
    wanted = sorted({d for d in device_ids if d})
    if not wanted:
        return {}
    return dict(session.execute(select(Device.id, Device.kind).where(Device.id.in_(wanted))).tuples().all())
