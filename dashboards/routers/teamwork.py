"""Handling an alert as a team, in the API and on the board: notes, assigning a named responder,
asking for backup (what SMS reply "2" does), and recording an alert by hand (kind `manual`: a
neighbour phones in; it escalates like any other).

Manual alerts and backup go through the hub's `AlertCommands`; notes and assignments are audit
records of the alert (hub/teamwork.py). Every write is audited with the user or token as actor
and channel `api` or `board`, and tells open boards to refresh. Refusals the request could not
see coming (an unknown resident or responder) are 422 naming the field, like schema errors.
"""

# No `from __future__ import annotations`: FastAPI evaluates the Annotated route signatures.

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select

from dashboards import queries
from dashboards.auth import Principal, Role, api_user, check_csrf, page_user
from dashboards.i18n import pick_language, translator
from dashboards.reasons import ReasonWords
from dashboards.render import Renderer
from dashboards.routers.api import CONFLICT, ERRORS, ID_MAX, ID_PATTERN, NOT_FOUND, AlertId, AlertOut
from hub import teamwork
from hub.ports import AlertNotFound, AlertView, InvalidTransition, ResidentNotFound
from hub.storage import models as m

if TYPE_CHECKING:
    from dashboards.app import WebServices

log = logging.getLogger(__name__)

SeverityName = Literal["critical", "high", "low"]


def field_error(field: str, message: str) -> HTTPException:
    """A 422 shaped like FastAPI's own validation errors, naming the body field."""
    return HTTPException(422, [{"loc": ["body", field], "msg": message, "type": "value_error"}])


def _text(v: str) -> str:
    v = v.replace("\x00", "").strip()
    if not v:
        raise ValueError("must not be empty")
    return v


class ManualAlertIn(BaseModel):
    resident: str = Field(pattern=ID_PATTERN, max_length=ID_MAX)
    kind: Literal["manual"] = "manual"
    note: str = Field(min_length=1, max_length=400, description="what the caller said")
    severity: SeverityName = Field("critical", description="how it escalates (escalation.<severity>)")

    _clean = field_validator("note")(_text)


class NoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=teamwork.MAX_NOTE)

    _clean = field_validator("text")(_text)


class NoteOut(BaseModel):
    at: float
    author: str
    channel: str
    text: str


class AssignIn(BaseModel):
    responder: str = Field(pattern=ID_PATTERN, max_length=ID_MAX, description="responder id (registry)")


class AssignmentOut(BaseModel):
    alert: str
    responder: str
    name: str
    at: float
    by: str


def router(services: "WebServices", renderer: Renderer) -> APIRouter:
    r = APIRouter()
    viewer_api = Depends(api_user(services.sessions, Role.VIEWER))
    operator_api = Depends(api_user(services.sessions, Role.OPERATOR))
    Operator = Annotated[Principal, Depends(page_user(services, Role.OPERATOR))]
    write = [Depends(check_csrf)]
    commands = services.alert_commands

    def refreshed(alert_id: str) -> None:
        services.events.publish("alert", {"id": alert_id})

    # A user limited to some grids (dashboards/scope.py) acts only on what they can see: other
    # alerts are 404 as if they were not there, other residents "no resident".
    def visible_alert(user: Principal, alert_id: str) -> None:
        with services.read(user) as session:
            if queries.alert_row(session, alert_id) is None:
                raise HTTPException(404, "no such alert")

    def visible_resident(user: Principal, resident_id: str) -> bool:
        with services.read(user) as session:
            return session.scalar(select(m.Resident.id).where(m.Resident.id == resident_id)) is not None

    # --- core operations, shared by the API and the board ----------------------------------

    def open_manual(body: ManualAlertIn, user: Principal, channel: str) -> AlertView:
        if not visible_resident(user, body.resident):
            raise field_error("resident", f"no resident {body.resident!r}")
        try:
            return commands.open_manual(body.resident, body.severity, body.note, user.name, channel)
        except ResidentNotFound:
            raise field_error("resident", f"no resident {body.resident!r}") from None

    def add_note(alert_id: str, text: str, user: Principal, channel: str) -> teamwork.Note:
        visible_alert(user, alert_id)
        try:
            with services.sessions.begin() as session:
                note = teamwork.add_note(session, alert_id, text, user.name, channel, services.clock.now())
        except teamwork.TeamworkError as exc:
            raise field_error(exc.field, str(exc)) from None
        except LookupError:
            raise HTTPException(404, "no such alert") from None
        refreshed(alert_id)
        return note

    def assign(alert_id: str, responder: str, user: Principal, channel: str) -> teamwork.Assignment:
        visible_alert(user, alert_id)
        try:
            with services.sessions.begin() as session:
                done = teamwork.assign(session, alert_id, responder, user.name, channel, services.clock.now())
        except teamwork.TeamworkError as exc:
            if exc.field == "alert":
                raise HTTPException(409, str(exc)) from None
            raise field_error(exc.field, str(exc)) from None
        except LookupError:
            raise HTTPException(404, "no such alert") from None
        refreshed(alert_id)
        return done

    def backup(alert_id: str, user: Principal, channel: str) -> AlertView:
        visible_alert(user, alert_id)
        actor = user.name
        try:
            view = commands.request_backup(alert_id, actor, channel)
        except AlertNotFound:
            raise HTTPException(404, "no such alert") from None
        except InvalidTransition as exc:
            raise HTTPException(409, str(exc)) from None
        with services.sessions.begin() as session:
            teamwork.record_backup(session, alert_id, actor, channel, services.clock.now())
        return view

    def alert_out(view: AlertView) -> AlertOut:
        with services.sessions() as session:
            row = queries.alert_row(session, view.id)
        assert row is not None
        language = pick_language(None)  # the API's default language (GET /api/alerts/{id}?lang=en words it in English)
        return AlertOut.of(row, ReasonWords(translator(language), language, services.display_timezone, services.clock.now()))

    # --- API ------------------------------------------------------------------------------

    @r.post("/api/alerts", response_model=AlertOut, status_code=201, tags=["api"], responses=ERRORS)
    def record_alert(body: ManualAlertIn, user: Principal = operator_api) -> AlertOut:
        return alert_out(open_manual(body, user, "api"))

    @r.get("/api/alerts/{alert_id}/notes", response_model=list[NoteOut], tags=["api"], responses={**ERRORS, **NOT_FOUND})
    def list_notes(alert_id: AlertId, user: Principal = viewer_api) -> list[NoteOut]:
        with services.read(user) as session:
            if queries.alert_row(session, alert_id) is None:
                raise HTTPException(404, "no such alert")
            return [NoteOut(**n.__dict__) for n in teamwork.notes_of(session, alert_id)]

    @r.post("/api/alerts/{alert_id}/notes", response_model=NoteOut, status_code=201, tags=["api"],
            responses={**ERRORS, **NOT_FOUND})  # fmt: skip
    def post_note(alert_id: AlertId, body: NoteIn, user: Principal = operator_api) -> NoteOut:
        return NoteOut(**add_note(alert_id, body.text, user, "api").__dict__)

    @r.post("/api/alerts/{alert_id}/assign", response_model=AssignmentOut, tags=["api"],
            responses={**ERRORS, **NOT_FOUND, **CONFLICT})  # fmt: skip
    def post_assign(alert_id: AlertId, body: AssignIn, user: Principal = operator_api) -> AssignmentOut:
        a = assign(alert_id, body.responder, user, "api")
        return AssignmentOut(alert=alert_id, responder=a.responder, name=a.name, at=a.at, by=a.by)

    @r.post("/api/alerts/{alert_id}/backup", response_model=AlertOut, tags=["api"], responses={**ERRORS, **NOT_FOUND, **CONFLICT})
    def post_backup(alert_id: AlertId, user: Principal = operator_api) -> AlertOut:
        """Escalate to the next step now, as an SMS reply "2" does."""
        return alert_out(backup(alert_id, user, "api"))

    # --- board forms ----------------------------------------------------------------------

    def on_board(request: Request, alert_id: str, action: Callable[[], Any], done: str) -> Response:
        try:
            action()
            request.session["flash"] = done
        except HTTPException as exc:
            if exc.status_code == 404:
                raise
            request.session["flash"] = "! " + _message(exc.detail)
        log.info("board action=%s alert=%s", done, alert_id)
        return RedirectResponse(f"/alerts/{alert_id}", status_code=303)

    @r.post("/alerts", include_in_schema=False, dependencies=write)
    def record_alert_form(
        request: Request,
        user: Operator,
        resident: Annotated[str, Form(pattern=ID_PATTERN, max_length=ID_MAX)],
        note: Annotated[str, Form(min_length=1, max_length=400)],
        severity: Annotated[SeverityName, Form()] = "critical",
    ) -> Response:
        try:
            body = ManualAlertIn(resident=resident, note=note, severity=severity)
            view = open_manual(body, user, "board")
        except (HTTPException, ValueError) as exc:
            request.session["flash"] = "! " + _message(getattr(exc, "detail", str(exc)))
            return RedirectResponse("/", status_code=303)
        request.session["flash"] = f"{view.code}: recorded"
        return RedirectResponse(f"/alerts/{view.id}", status_code=303)

    @r.post("/alerts/{alert_id}/notes", include_in_schema=False, dependencies=write)
    def note_form(request: Request, alert_id: str, user: Operator, text: Annotated[str, Form(max_length=teamwork.MAX_NOTE)]) -> Response:
        return on_board(request, alert_id, lambda: add_note(alert_id, text, user, "board"), "note added")

    @r.post("/alerts/{alert_id}/assign", include_in_schema=False, dependencies=write)
    def assign_form(request: Request, alert_id: str, user: Operator, responder: Annotated[str, Form(max_length=64)]) -> Response:
        return on_board(request, alert_id, lambda: assign(alert_id, responder, user, "board"), "assigned")

    @r.post("/alerts/{alert_id}/backup", include_in_schema=False, dependencies=write)
    def backup_form(request: Request, alert_id: str, user: Operator) -> Response:
        return on_board(request, alert_id, lambda: backup(alert_id, user, "board"), "backup requested")

    return r


def alert_page_context(session: Any, alert_id: str) -> dict[str, Any]:
    """What the alert page shows of the team's work (board.alert_page adds it)."""
    return {
        "notes": teamwork.notes_of(session, alert_id),
        "assignee": teamwork.assignee_of(session, alert_id),
        "responders": teamwork.responders(session),
    }


def _message(detail: object) -> str:
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        return "; ".join(f"{d['loc'][-1]}: {d['msg']}" for d in detail)
    return str(detail)
