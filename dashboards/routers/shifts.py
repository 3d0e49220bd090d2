"""Shifts: the operators' on-duty roster and the handover page, in the board and the API.

The `operator` escalation role texts the operators whose shift covers the moment of the step
(hub/dispatch/dispatcher.py `on_duty`); with nobody rostered then, every available operator.
The handover page lists what is open now and what happened during a shift (alerts opened and
resolved, every audited action), for the operator who takes over.
"""

# No `from __future__ import annotations`: FastAPI evaluates the Annotated dependency aliases.

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from alerts.config import Role as EscalationRole
from dashboards import queries
from dashboards.auth import Principal, Role, api_user, check_csrf, page_user
from dashboards.render import Renderer
from dashboards.routers.api import ERRORS, ID_MAX, ID_PATTERN, NOT_FOUND
from hub.ports import AlertView
from hub.storage import models as m

if TYPE_CHECKING:
    from dashboards.app import WebServices

ShiftId = Annotated[int, Path(ge=1, le=2**62, description="shift id")]
MAX_SHIFT_S = 24 * 3600  # a shift longer than a day is a typing mistake
DEFAULT_HANDOVER_S = 12 * 3600  # the window when no shift is chosen and none is on now


class ShiftIn(BaseModel):
    responder: str = Field(pattern=ID_PATTERN, max_length=ID_MAX, description="an operator's responder id (registry)")
    starts_at: datetime = Field(description="ISO 8601; without an offset, the community's time zone")
    ends_at: datetime


class ShiftOut(BaseModel):
    id: int
    responder: str
    name: str
    starts_at: float
    ends_at: float
    created_by: str


class HandoverOut(BaseModel):
    start: float
    end: float
    open: list[dict[str, Any]]
    opened: list[dict[str, Any]]
    resolved: list[dict[str, Any]]
    actions: list[dict[str, Any]]


@dataclass(frozen=True)
class Handover:
    start: float
    end: float
    open: list[AlertView]
    opened: list[AlertView]
    resolved: list[AlertView]
    actions: list[queries.AuditRow]


class RosterError(ValueError):
    """A shift that cannot be added: `field` says which input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def add_shift(session: Session, responder_id: str, start: float, end: float, actor: str, now: float,
              channel: str = "board") -> m.Shift:
    responder = session.get(m.Responder, responder_id)
    if responder is None:
        raise RosterError("responder", f"no responder {responder_id!r}")
    if responder.role != EscalationRole.OPERATOR.value:
        raise RosterError("responder", f"{responder_id} is a {responder.role}, not an operator")
    if not 0 < end - start <= MAX_SHIFT_S:
        raise RosterError("ends_at", "a shift ends after it starts, within 24 hours")
    row = m.Shift(responder_id=responder_id, starts_at=start, ends_at=end, created_by=actor, created_at=now)
    session.add(row)
    session.flush()
    session.add(m.Audit(at=now, actor=actor, channel=channel, action="shift.add",
                        detail={"shift": row.id, "responder": responder_id, "starts_at": start, "ends_at": end}))
    return row


def remove_shift(session: Session, shift_id: int, actor: str, now: float, channel: str = "board") -> None:
    row = session.get(m.Shift, shift_id)
    if row is None:
        raise LookupError(f"no shift {shift_id}")
    session.add(m.Audit(at=now, actor=actor, channel=channel, action="shift.remove",
                        detail={"shift": shift_id, "responder": row.responder_id}))
    session.delete(row)


def list_shifts(session: Session, since: float, until: float) -> list[ShiftOut]:
    query = (select(m.Shift, m.Responder.name).join(m.Responder, m.Responder.id == m.Shift.responder_id)
             .where(m.Shift.ends_at > since, m.Shift.starts_at < until).order_by(m.Shift.starts_at, m.Shift.id))
    return [ShiftOut(id=s.id, responder=s.responder_id, name=name, starts_at=s.starts_at, ends_at=s.ends_at,
                     created_by=s.created_by) for s, name in session.execute(query)]


def handover_window(session: Session, shift_id: int | None, now: float) -> tuple[float, float]:
    """The chosen shift; else the shifts on now (from the earliest start); else the last 12 hours."""
    if shift_id is not None:
        row = session.get(m.Shift, shift_id)
        if row is None:
            raise LookupError(f"no shift {shift_id}")
        return row.starts_at, min(row.ends_at, now)
    current = [s.starts_at for s in session.scalars(select(m.Shift).where(m.Shift.starts_at <= now, m.Shift.ends_at > now))]
    return (min(current) if current else now - DEFAULT_HANDOVER_S), now


def handover(session: Session, start: float, end: float) -> Handover:
    changed = (select(m.Alert.id).where(or_(m.Alert.opened_at.between(start, end), m.Alert.resolved_at.between(start, end))))
    ids = list(session.scalars(changed))
    rows = [a for a in (queries.alert_row(session, i) for i in ids) if a is not None]
    actions = queries.audit_between(session, start, end)
    return Handover(
        start, end,
        open=queries.list_alerts(session, state="active"),
        opened=sorted((a for a in rows if start <= a.opened_at <= end), key=lambda a: a.opened_at),
        resolved=sorted((a for a in rows if a.resolved_at is not None and start <= a.resolved_at <= end),
                        key=lambda a: a.resolved_at or 0.0),
        actions=actions,
    )


def router(services: "WebServices", renderer: Renderer) -> APIRouter:
    r = APIRouter()
    Operator = Annotated[Principal, Depends(page_user(services, Role.OPERATOR))]
    Viewer = Annotated[Principal, Depends(page_user(services, Role.VIEWER))]
    api_viewer = Depends(api_user(services.sessions, Role.VIEWER))
    api_operator = Depends(api_user(services.sessions, Role.OPERATOR))
    zone = ZoneInfo(services.display_timezone)

    def epoch(value: datetime) -> float:
        return (value if value.tzinfo is not None else value.replace(tzinfo=zone)).timestamp()

    # --- board ------------------------------------------------------------------------------

    @r.get("/shifts", include_in_schema=False)
    def shifts_page(request: Request, user: Viewer) -> Response:
        now = services.clock.now()
        with services.read(user) as session:
            shifts = list_shifts(session, now - 86400, now + 14 * 86400)
            operators = session.scalars(select(m.Responder).where(m.Responder.role == EscalationRole.OPERATOR.value)
                                        .order_by(m.Responder.id)).all()
            on = {s.id for s in shifts if s.starts_at <= now < s.ends_at}
        return renderer.page(request, "shifts.html", {"shifts": shifts, "operators": operators, "on": on}, user)

    @r.post("/shifts", include_in_schema=False, dependencies=[Depends(check_csrf)])
    def add_shift_form(request: Request, user: Operator, responder: Annotated[str, Form()],
                       starts_at: Annotated[datetime, Form()], ends_at: Annotated[datetime, Form()]) -> Response:
        now = services.clock.now()
        try:
            with services.sessions.begin() as session:
                add_shift(session, responder, epoch(starts_at), epoch(ends_at), user.name, now)
            request.session["flash"] = "shift added"
        except RosterError as exc:
            request.session["flash"] = f"! {exc}"
        return RedirectResponse("/shifts", status_code=303)

    @r.post("/shifts/{shift_id}/remove", include_in_schema=False, dependencies=[Depends(check_csrf)])
    def remove_shift_form(request: Request, shift_id: ShiftId, user: Operator) -> Response:
        try:
            with services.sessions.begin() as session:
                remove_shift(session, shift_id, user.name, services.clock.now())
        except LookupError:
            raise HTTPException(404, "no such shift") from None
        request.session["flash"] = "shift removed"
        return RedirectResponse("/shifts", status_code=303)

    @r.get("/handover", include_in_schema=False)
    def handover_page(request: Request, user: Viewer, shift: Annotated[int | None, Query(ge=1, le=2**62)] = None) -> Response:
        with services.read(user) as session:
            try:
                start, end = handover_window(session, shift, services.clock.now())
            except LookupError:
                raise HTTPException(404, "no such shift") from None
            h = handover(session, start, end)
        return renderer.page(request, "handover.html", {"h": h}, user)

    # --- API --------------------------------------------------------------------------------

    @r.get("/api/shifts", response_model=list[ShiftOut], tags=["shifts"], responses=ERRORS)
    def api_shifts(since: Annotated[float | None, Query(description="epoch seconds; default now − 1 day")] = None,
                   until: Annotated[float | None, Query(description="epoch seconds; default now + 14 days")] = None,
                   user: Principal = api_viewer) -> list[ShiftOut]:
        now = services.clock.now()
        with services.read(user) as session:
            return list_shifts(session, now - 86400 if since is None else since, now + 14 * 86400 if until is None else until)

    @r.post("/api/shifts", response_model=ShiftOut, status_code=201, tags=["shifts"], responses=ERRORS)
    def api_add_shift(body: ShiftIn, user: Principal = api_operator) -> ShiftOut:
        try:
            with services.sessions.begin() as session:
                row = add_shift(session, body.responder, epoch(body.starts_at), epoch(body.ends_at), user.name,
                                services.clock.now(), "api")
                name = session.get(m.Responder, row.responder_id).name  # type: ignore[union-attr]
                return ShiftOut(id=row.id, responder=row.responder_id, name=name, starts_at=row.starts_at,
                                ends_at=row.ends_at, created_by=row.created_by)
        except RosterError as exc:
            raise HTTPException(422, [{"loc": ["body", exc.field], "msg": str(exc), "type": "value_error"}]) from None

    @r.delete("/api/shifts/{shift_id}", status_code=204, tags=["shifts"], responses={**ERRORS, **NOT_FOUND})
    def api_remove_shift(shift_id: ShiftId, user: Principal = api_operator) -> Response:
        try:
            with services.sessions.begin() as session:
                remove_shift(session, shift_id, user.name, services.clock.now(), "api")
        except LookupError:
            raise HTTPException(404, "no such shift") from None
        return Response(status_code=204)

    @r.get("/api/handover", response_model=HandoverOut, tags=["shifts"], responses={**ERRORS, **NOT_FOUND})
    def api_handover(shift: Annotated[int | None, Query(ge=1, le=2**62)] = None, user: Principal = api_viewer) -> HandoverOut:
        with services.read(user) as session:
            try:
                start, end = handover_window(session, shift, services.clock.now())
            except LookupError:
                raise HTTPException(404, "no such shift") from None
            h = handover(session, start, end)
        return HandoverOut(start=h.start, end=h.end, open=[_brief(a) for a in h.open],
                           opened=[_brief(a) for a in h.opened], resolved=[_brief(a) for a in h.resolved],
                           actions=[{"at": a.at, "actor": a.actor, "channel": a.channel, "action": a.action,
                                     "alert": a.alert_id, "resident": a.resident_id} for a in h.actions])

    return r


def _brief(a: AlertView) -> dict[str, Any]:
    return {"id": a.id, "code": a.code, "kind": a.kind, "severity": a.severity, "state": a.state,
            "resident": a.resident, "resident_name": a.resident_name, "opened_at": a.opened_at,
            "resolved_at": a.resolved_at, "outcome": a.outcome}
