"""Workspace API: residents, devices and responders — list, create, edit, retire (issue 19).

Bearer token or board session (a session's writes also send its CSRF token in `X-CSRF-Token`);
viewers read, operators change. Bodies are the registry file's entries (docs/REGISTRY.md) and
are validated by the import's own code (hub/registry/file.py): an error is 422 with the field
and the import's message. Every change goes through the hub core (`RegistryCommands`): one
transaction, an audit row, and live in the engine at once.
"""

# No `from __future__ import annotations`: FastAPI evaluates the route signatures.

import hmac
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel

from dashboards import workspace_queries as wq
from dashboards.auth import BoardSessions, Principal, Role, api_user
from dashboards.routers.api import ERRORS, ID_MAX, ID_PATTERN, NOT_FOUND, Problem
from hub.ports import RegistryCommands
from hub.registry import workspace as ws
from hub.registry.file import DeviceEntry, RegistryError, ResidentEntry, ResponderEntry
from hub.storage import models as m

if TYPE_CHECKING:
    from dashboards.app import WebServices

CHANNEL = "api"
ResidentId = Annotated[str, Path(pattern=ID_PATTERN, max_length=ID_MAX, description="resident id")]
DeviceId = Annotated[str, Path(pattern=ID_PATTERN, max_length=ID_MAX, description="device id")]
ResponderId = Annotated[str, Path(pattern=ID_PATTERN, max_length=ID_MAX, description="responder id")]


class FieldProblem(BaseModel):
    loc: list[str]
    msg: str
    type: str
    field: str | None
    text: str


class FieldProblems(BaseModel):
    detail: list[FieldProblem]


INVALID: dict[int | str, dict[str, Any]] = {422: {"model": FieldProblems, "description": "invalid: the field and the import's message"}}
CONFLICT: dict[int | str, dict[str, Any]] = {409: {"model": Problem, "description": "not allowed now (an open alert)"}}


class ResidentPage(BaseModel):
    items: list[ResidentEntry]
    total: int
    page: int
    per_page: int


class DevicePage(BaseModel):
    items: list[DeviceEntry]
    total: int


class ReplaceIn(BaseModel):
    new_id: str


class Changed(BaseModel):
    outcome: str


def body_of(model: type[BaseModel], partial: bool = False) -> dict[str, Any]:
    """The documented request body: the registry entry's schema (validated by the import's code)."""
    schema: dict[str, Any] = {"$ref": f"#/components/schemas/{model.__name__}"}
    if partial:
        schema = {"type": "object", "description": f"any fields of {model.__name__}; lists given replace the stored ones"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def api_or_session_user(services: "WebServices", least: Role) -> Callable[[Request], Principal]:
    """A bearer token (as the rest of /api), or the board's session for the browser's own calls."""
    by_token = api_user(services.sessions, least)
    board = BoardSessions.of(services)

    def dependency(request: Request) -> Principal:
        if request.headers.get("authorization"):
            return by_token(request)
        principal = board.principal(request)
        if principal is None:
            raise HTTPException(401, "a valid bearer token or board login is required", headers={"WWW-Authenticate": "Bearer"})
        if principal.role < least:
            raise HTTPException(403, f"needs role {least.name.lower()}")
        if request.method not in ("GET", "HEAD"):
            sent, expected = request.headers.get("x-csrf-token", ""), request.session.get("csrf")
            if not isinstance(expected, str) or not hmac.compare_digest(sent, expected):
                raise HTTPException(403, "X-CSRF-Token missing or wrong")
        return principal

    return dependency


def router(services: "WebServices", registry: RegistryCommands) -> APIRouter:
    r = APIRouter(prefix="/api", tags=["workspace"], responses=ERRORS)
    viewer = Depends(api_or_session_user(services, Role.VIEWER))
    operator = Depends(api_or_session_user(services, Role.OPERATOR))
    now = services.clock.now

    def run(user: Principal, edit: Callable[..., ws.RegistryEdit], *args: Any, **where: Any) -> ws.RegistryEdit:
        """The edit in the hub core's transaction, inside the user's grids (`where`: what it names)."""
        try:
            return registry.change_registry(ws.within(user.grids, lambda session: edit(session, *args), **where))
        except ws.OutOfScope as exc:
            raise HTTPException(403, str(exc)) from None
        except RegistryError as exc:
            raise _Invalid(ws.field_errors(exc)) from None
        except ws.NotFound as exc:
            raise HTTPException(404, str(exc)) from None
        except ws.Conflict as exc:
            raise HTTPException(409, str(exc)) from None

    # --- residents ----------------------------------------------------------------------------

    @r.get("/residents", response_model=ResidentPage)
    def list_residents(
        q: str = Query("", max_length=100, description="part of the name, address, id or a contact's phone"),
        grid: str = Query("", max_length=64),
        page: int = Query(1, ge=1, le=100_000),
        per_page: int = Query(wq.PER_PAGE, ge=1, le=wq.PER_PAGE_MAX),
        user: Principal = viewer,
    ) -> ResidentPage:
        with services.read(user) as session:
            found = wq.search_residents(session, q, grid, page, per_page)
            items = [ResidentEntry.model_validate(ws.resident_entry(row)) for row in found.residents]
        return ResidentPage(items=items, total=found.total, page=found.page, per_page=found.per_page)

    @r.post("/residents", status_code=201, response_model=ResidentEntry, responses=INVALID, openapi_extra=body_of(ResidentEntry))
    def create_resident(body: Annotated[dict[str, Any], Body()], user: Principal = operator) -> Any:
        done = run(user, ws.create_resident, body, user.name, CHANNEL, now())
        return _resident(services, user, done.result)

    @r.get("/residents/{resident_id}", response_model=ResidentEntry, responses=NOT_FOUND)
    def get_resident(resident_id: ResidentId, user: Principal = viewer) -> Any:
        return _resident(services, user, resident_id)

    @r.patch("/residents/{resident_id}", response_model=ResidentEntry, responses={**NOT_FOUND, **INVALID},
             openapi_extra=body_of(ResidentEntry, partial=True))
    def update_resident(resident_id: ResidentId, body: Annotated[dict[str, Any], Body()], user: Principal = operator) -> Any:
        run(user, ws.update_resident, resident_id, body, user.name, CHANNEL, now(), resident=resident_id)
        return _resident(services, user, resident_id)

    @r.delete("/residents/{resident_id}", status_code=204, responses={**NOT_FOUND, **CONFLICT})
    def retire_resident(resident_id: ResidentId, user: Principal = operator) -> Response:
        run(user, ws.retire_resident, resident_id, user.name, CHANNEL, now(), resident=resident_id)
        return Response(status_code=204)

    # --- devices ------------------------------------------------------------------------------

    @r.get("/devices", response_model=DevicePage)
    def list_devices(
        resident: str = Query("", max_length=64, description="only this resident's devices"),
        page: int = Query(1, ge=1, le=100_000),
        per_page: int = Query(wq.PER_PAGE, ge=1, le=wq.PER_PAGE_MAX),
        user: Principal = viewer,
    ) -> DevicePage:
        with services.read(user) as session:
            rows, total = wq.list_devices(session, resident, page, per_page)
            items = [DeviceEntry.model_validate(ws.device_entry(d)) for d in rows]
        return DevicePage(items=items, total=total)

    @r.post("/devices", status_code=201, response_model=DeviceEntry, responses=INVALID, openapi_extra=body_of(DeviceEntry))
    def create_device(body: Annotated[dict[str, Any], Body()], user: Principal = operator) -> Any:
        done = run(user, ws.create_device, body, user.name, CHANNEL, now())
        return _device(services, user, done.result)

    @r.patch("/devices/{device_id}", response_model=DeviceEntry, responses={**NOT_FOUND, **INVALID},
             openapi_extra=body_of(DeviceEntry, partial=True))
    def update_device(device_id: DeviceId, body: Annotated[dict[str, Any], Body()], user: Principal = operator) -> Any:
        run(user, ws.update_device, device_id, body, user.name, CHANNEL, now(), device=device_id)
        return _device(services, user, device_id)

    @r.delete("/devices/{device_id}", status_code=204, responses=NOT_FOUND)
    def retire_device(device_id: DeviceId, user: Principal = operator) -> Response:
        run(user, ws.retire_device, device_id, user.name, CHANNEL, now(), device=device_id)
        return Response(status_code=204)

    @r.post("/devices/{device_id}/replace", response_model=DeviceEntry, responses={**NOT_FOUND, **INVALID})
    def replace_device(device_id: DeviceId, body: ReplaceIn, user: Principal = operator) -> Any:
        """The new device takes over (kind, resident, heartbeat); the old one is retired, its history kept."""
        done = run(user, ws.replace_device, device_id, body.new_id, user.name, CHANNEL, now(), device=device_id)
        return _device(services, user, done.result)

    # --- responders ---------------------------------------------------------------------------

    @r.get("/responders", response_model=list[ResponderEntry])
    def list_responders(user: Principal = viewer) -> Any:
        with services.sessions() as session:
            return [ResponderEntry.model_validate(ws.responder_entry(row)) for row in wq.responders(session)]

    @r.post("/responders", status_code=201, response_model=ResponderEntry, responses=INVALID, openapi_extra=body_of(ResponderEntry))
    def create_responder(body: Annotated[dict[str, Any], Body()], user: Principal = operator) -> Any:
        done = run(user, ws.create_responder, body, user.name, CHANNEL, now(), registry_wide=True)
        return _responder(services, done.result)

    @r.get("/responders/{responder_id}", response_model=ResponderEntry, responses=NOT_FOUND)
    def get_responder(responder_id: ResponderId, user: Principal = viewer) -> Any:
        return _responder(services, responder_id)

    @r.patch("/responders/{responder_id}", response_model=ResponderEntry, responses={**NOT_FOUND, **INVALID},
             openapi_extra=body_of(ResponderEntry, partial=True))
    def update_responder(responder_id: ResponderId, body: Annotated[dict[str, Any], Body()], user: Principal = operator) -> Any:
        run(user, ws.update_responder, responder_id, body, user.name, CHANNEL, now(), registry_wide=True)
        return _responder(services, responder_id)

    @r.delete("/responders/{responder_id}", status_code=204, responses=NOT_FOUND)
    def remove_responder(responder_id: ResponderId, user: Principal = operator) -> Response:
        run(user, ws.remove_responder, responder_id, user.name, CHANNEL, now(), registry_wide=True)
        return Response(status_code=204)

    return r


class _Invalid(HTTPException):
    def __init__(self, detail: list[dict[str, Any]]) -> None:
        super().__init__(422, detail)


def _resident(services: "WebServices", user: Principal, resident_id: str) -> ResidentEntry:
    with services.read(user) as session:
        row = wq.live_resident(session, resident_id)
        if row is None:
            raise HTTPException(404, f"no resident {resident_id!r}")
        return ResidentEntry.model_validate(ws.resident_entry(row))


def _device(services: "WebServices", user: Principal, device_id: str) -> DeviceEntry:
    with services.read(user) as session:
        row = session.get(m.Device, device_id)
        if row is None or row.retired_at is not None:
            raise HTTPException(404, f"no device {device_id!r}")
        return DeviceEntry.model_validate(ws.device_entry(row))


def _responder(services: "WebServices", responder_id: str) -> ResponderEntry:
    with services.sessions() as session:
        row = session.get(m.Responder, responder_id)
        if row is None:
            raise HTTPException(404, f"no responder {responder_id!r}")
        return ResponderEntry.model_validate(ws.responder_entry(row))
