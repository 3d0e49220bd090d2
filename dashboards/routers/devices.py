"""Device API for machines: `GET /api/devices/{id}` and `GET /api/devices/{id}/events?limit=N`.

Bearer tokens only (`Authorization: Bearer <token>`), checked by the `authenticate` function
it is given (hub.access.authenticate_token: sha256 of the token in api_tokens).
"""


from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hub.storage.models import Device, DeviceState, Event, Resident

TokenCheck = Callable[[Session, str], tuple[str, str] | None]
MAX_EVENTS = 1000


def devices_router(sessions: sessionmaker[Session], authenticate: TokenCheck) -> APIRouter:
    router = APIRouter(prefix="/api/devices", tags=["devices"], responses={401: {"description": "no valid bearer token"}, 404: {"description": "no such device"}})

    def caller(request: Request) -> tuple[str, str]:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token:
            with sessions() as session:
                who = authenticate(session, token.strip())
            if who is not None:
                return who
        raise HTTPException(401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"})

    Caller = Annotated[tuple[str, str], Depends(caller)]

    @router.get("/{device_id}")
    def get_device(device_id: str, _who: Caller) -> dict[str, Any]:
        """The device, its resident and its state (last seen, last activity, battery, online, last fix)."""
        with sessions() as session:
            device = session.get(Device, device_id)
            if device is None:
                raise HTTPException(404, f"no device {device_id!r}")
            resident = session.get(Resident, device.resident_id) if device.resident_id else None
            state = session.get(DeviceState, device_id)
            return {
                "id": device.id,
                "kind": device.kind,
                "heartbeat_s": device.heartbeat_s,
                "resident": {"id": resident.id, "name": resident.name} if resident else None,
                "state": _state(state) if state else None,
            }

    @router.get("/{device_id}/events")
    def get_events(
        device_id: str, _who: Caller, limit: Annotated[int, Query(ge=1, le=MAX_EVENTS)] = 50
    ) -> list[dict[str, Any]]:
        """Stored events of the device, newest first (by the time the rules used, then arrival)."""
        with sessions() as session:
            if session.get(Device, device_id) is None:
                raise HTTPException(404, f"no device {device_id!r}")
            rows = session.scalars(
                select(Event).where(Event.device_id == device_id)
                .order_by(Event.at.desc(), Event.id.desc()).limit(limit)
            )
            return [_event(e) for e in rows]

    return router


def _state(s: DeviceState) -> dict[str, Any]:
    return {
        "last_seen_at": s.last_seen_at, "last_activity_at": s.last_activity_at, "online": s.online,
        "status_at": s.status_at, "battery": s.battery, "rssi": s.rssi, "fw": s.fw,
        "last_fix": {"lat": s.last_lat, "lon": s.last_lon, "acc": s.last_acc, "at": s.last_fix_at}
        if s.last_fix_at is not None else None,
        "last_seq": s.last_seq, "skew_count": s.skew_count, "late_count": s.late_count,
    }


def _event(e: Event) -> dict[str, Any]:
    return {
        "id": e.id, "channel": e.channel, "type": e.type, "seq": e.seq, "device_ts": e.device_ts,
        "received_at": e.received_at, "at": e.at, "late": e.late, "skewed": e.skewed,
        "lat": e.lat, "lon": e.lon, "acc": e.acc, "battery": e.battery, "payload": e.payload,
    }
