"""HTTP API under /api: alerts, resident status, absences. Bearer tokens; OpenAPI at /openapi.json.

Reads use the same view models as the board (dashboards.queries); writes go through the hub's
ports with channel `api` and the token's name as the actor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Response
from pydantic import BaseModel, Field, field_validator, model_validator

from alerts.reasons import Explanation
from dashboards import queries
from dashboards.auth import Principal, Role, api_user
from dashboards.i18n import pick_language, translator
from dashboards.reasons import ReasonWords
from hub.ports import AlertNotFound, AlertView, InvalidTransition

if TYPE_CHECKING:
    from dashboards.app import WebServices

CHANNEL = "api"
# An id: 1 to ID_MAX word characters, dots, colons or dashes. Written `+` with a max_length, not `{1,64}`:
# pydantic-core compiles a counted repeat of the Unicode class `\w` into 64 copies of it, ~3 ms a field and
# ~40 ms of `pingan serve`'s start with the user names' `{1,100}` (docs/BENCHMARKS.md, session 15); same strings accepted.
ID_PATTERN = r"^[\w.:-]+$"
ID_MAX = 64

AlertId = Annotated[str, Path(pattern=ID_PATTERN, max_length=ID_MAX, description="alert id")]
ResidentId = Annotated[str, Path(pattern=ID_PATTERN, max_length=ID_MAX, description="resident id")]
AbsenceId = Annotated[int, Path(ge=1, le=2**62, description="absence id")]


class Problem(BaseModel):
    detail: str


ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": Problem, "description": "no valid bearer token"},
    403: {"model": Problem, "description": "the token's role is too low"},
}
NOT_FOUND: dict[int | str, dict[str, object]] = {404: {"model": Problem, "description": "not found"}}
CONFLICT: dict[int | str, dict[str, object]] = {409: {"model": Problem, "description": "not allowed in the alert's state"}}


class ReasonOut(BaseModel):
    """Why, as data: a code of docs/RULES.md "Reason codes" and its values (devices as
    {id, kind}, times as epoch seconds, durations in seconds)."""

    code: str
    params: dict[str, Any]

    @classmethod
    def of(cls, why: Explanation) -> ReasonOut:
        return cls(code=why.code.value, params=dict(why.params))


class AlertOut(BaseModel):
    id: str
    code: str
    kind: str
    severity: Literal["critical", "high", "low"] | str
    state: str
    resident: str | None
    device: str | None
    opened_at: float
    acknowledged_at: float | None
    on_site_at: float | None
    resolved_at: float | None
    outcome: str | None
    reason: ReasonOut = Field(description="why it opened")
    notes: list[ReasonOut] = Field(description="what was learnt since, and what ended it")
    reason_text: str = Field(description="the reason and notes worded in the requested language (`lang`, else Accept-Language)")

    @classmethod
    def of(cls, a: AlertView, words: ReasonWords) -> AlertOut:
        return cls(
            id=a.id, code=a.code, kind=a.kind, severity=a.severity, state=a.state, resident=a.resident,
            device=a.device, opened_at=a.opened_at, acknowledged_at=a.acknowledged_at, on_site_at=a.on_site_at,
            resolved_at=a.resolved_at, outcome=a.outcome, reason=ReasonOut.of(a.reason),
            notes=[ReasonOut.of(n) for n in a.notes], reason_text=words.alert(a),
        )  # fmt: skip


class TransitionOut(BaseModel):
    state: str
    at: float
    by: str
    channel: str
    note: str


class NotificationOut(BaseModel):
    id: int
    purpose: str
    step: int
    role: str
    recipient: str
    state: str
    attempts: int
    created_at: float
    sent_at: float | None
    delivered_at: float | None
    error: str | None
    channel: str = "sms"


class AuditOut(BaseModel):
    at: float
    actor: str
    channel: str
    action: str
    detail: dict[str, object] | None


class AlertDetailOut(AlertOut):
    escalation_step: int
    acknowledged_by: str | None
    transitions: list[TransitionOut]
    notifications: list[NotificationOut]
    audit: list[AuditOut]


class ResolveIn(BaseModel):
    outcome: Literal["ok", "assisted", "hospital", "false_alarm"]


class DeviceOut(BaseModel):
    id: str
    kind: str
    health: str
    online: bool | None
    last_seen_at: float | None
    battery: int | None


class AbsenceOut(BaseModel):
    id: int
    resident: str
    start_at: float
    until_at: float
    note: str
    created_by: str

    @classmethod
    def of(cls, a: queries.AbsenceRow) -> AbsenceOut:
        return cls(id=a.id, resident=a.resident, start_at=a.start_at, until_at=a.until_at, note=a.note, created_by=a.created_by)


class ResidentStatusOut(BaseModel):
    id: str
    name: str
    grid: str
    person_state: Literal["home_active", "home_quiet", "away", "unknown", "alert"]
    state_source: str
    last_activity_at: float | None
    devices: list[DeviceOut]
    open_alerts: list[AlertOut]
    absence: AbsenceOut | None


class AbsenceIn(BaseModel):
    resident: str = Field(pattern=ID_PATTERN, max_length=ID_MAX)
    start_at: float = Field(allow_inf_nan=False, ge=0, le=1e11, description="epoch seconds")
    until_at: float = Field(allow_inf_nan=False, ge=0, le=1e11, description="expected return, epoch seconds")
    note: str = Field("", max_length=400)

    @field_validator("note")
    @classmethod
    def _no_nul(cls, v: str) -> str:
        if "\x00" in v:
            raise ValueError("must not contain NUL characters")
        return v

    @model_validator(mode="after")
    def _ordered(self) -> AbsenceIn:
        if self.until_at <= self.start_at:
            raise ValueError("until_at must be after start_at")
        return self


def router(services: WebServices) -> APIRouter:
    r = APIRouter(prefix="/api", tags=["api"], responses=ERRORS)
    viewer = Depends(api_user(services.sessions, Role.VIEWER))
    operator = Depends(api_user(services.sessions, Role.OPERATOR))

    def reason_words(
        lang: str | None = Query(None, pattern=r"^[A-Za-z-]{2,16}$", description="language of `reason_text`: zh-CN (default) or en"),
        accept_language: str | None = Header(None),
    ) -> ReasonWords:
        language = pick_language(lang or accept_language)
        return ReasonWords(translator(language), language, services.display_timezone, services.clock.now())

    words_dep = Depends(reason_words)

    @r.get("/alerts", response_model=list[AlertOut])
    def list_alerts(
        state: Literal["open", "acknowledged", "on_site", "resolved", "active"] | None = Query(
            None, description="one state, or `active` for every state but resolved"
        ),
        kind: str | None = Query(None, pattern=r"^[a-z_]{1,32}$"),
        resident: str | None = Query(None, pattern=ID_PATTERN, max_length=ID_MAX),
        since: float | None = Query(None, allow_inf_nan=False, ge=0, le=1e11, description="opened at or after, epoch seconds"),
        limit: int = Query(500, ge=1, le=5000),
        user: Principal = viewer,
        words: ReasonWords = words_dep,
    ) -> list[AlertOut]:
        with services.read(user) as session:
            rows = queries.list_alerts(session, state, kind, resident, since, limit)
        return [AlertOut.of(a, words) for a in rows]

    @r.get("/alerts/{alert_id}", response_model=AlertDetailOut, responses=NOT_FOUND)
    def get_alert(alert_id: AlertId, user: Principal = viewer, words: ReasonWords = words_dep) -> AlertDetailOut:
        with services.read(user) as session:
            d = queries.alert_detail(session, alert_id)
        if d is None:
            raise HTTPException(404, "no such alert")
        return AlertDetailOut(
            **AlertOut.of(d.alert, words).model_dump(),
            escalation_step=d.alert.escalation_step,
            acknowledged_by=d.alert.acknowledged_by,
            transitions=[TransitionOut(**t.__dict__) for t in d.transitions],
            notifications=[
                NotificationOut(**{k: v for k, v in n.__dict__.items() if k != "phone"}) for n in d.notifications
            ],
            audit=[AuditOut(at=a.at, actor=a.actor, channel=a.channel, action=a.action, detail=a.detail) for a in d.audit],
        )

    @r.post("/alerts/{alert_id}/ack", response_model=AlertOut, responses={**NOT_FOUND, **CONFLICT})
    def acknowledge(alert_id: AlertId, user: Principal = operator, words: ReasonWords = words_dep) -> AlertOut:
        return _run(services, alert_id, words, lambda: services.alert_commands.acknowledge(alert_id, user.name, CHANNEL), user)

    @r.post("/alerts/{alert_id}/on-site", response_model=AlertOut, responses={**NOT_FOUND, **CONFLICT})
    def on_site(alert_id: AlertId, user: Principal = operator, words: ReasonWords = words_dep) -> AlertOut:
        return _run(services, alert_id, words, lambda: services.alert_commands.on_site(alert_id, user.name, CHANNEL), user)

    @r.post("/alerts/{alert_id}/resolve", response_model=AlertOut, responses={**NOT_FOUND, **CONFLICT})
    def resolve(alert_id: AlertId, body: ResolveIn, user: Principal = operator, words: ReasonWords = words_dep) -> AlertOut:
        return _run(services, alert_id, words,
                    lambda: services.alert_commands.resolve(alert_id, body.outcome, user.name, CHANNEL), user)

    @r.get("/residents/{resident_id}/status", response_model=ResidentStatusOut, responses=NOT_FOUND)
    def resident_status(resident_id: ResidentId, user: Principal = viewer, words: ReasonWords = words_dep) -> ResidentStatusOut:
        with services.read(user) as session:
            s = queries.resident_status(session, resident_id, services.clock.now())
        if s is None:
            raise HTTPException(404, "no such resident")
        return ResidentStatusOut(
            id=s.id,
            name=s.name,
            grid=s.grid,
            person_state=s.person_state,
            state_source=s.state_source,
            last_activity_at=s.last_activity_at,
            devices=[
                DeviceOut(id=d.id, kind=d.kind, health=d.health, online=d.online, last_seen_at=d.last_seen_at, battery=d.battery)
                for d in s.devices
            ],
            open_alerts=[AlertOut.of(a, words) for a in s.open_alerts],
            absence=AbsenceOut.of(s.absence) if s.absence else None,
        )

    @r.get("/absences", response_model=list[AbsenceOut])
    def list_absences(
        resident: str | None = Query(None, pattern=ID_PATTERN, max_length=ID_MAX),
        include_past: bool = Query(False, description="also absences whose return is past"),
        user: Principal = viewer,
    ) -> list[AbsenceOut]:
        with services.read(user) as session:
            rows = queries.absences_of(session, resident, include_past, services.clock.now())
        return [AbsenceOut.of(a) for a in rows]

    @r.get("/absences/{absence_id}", response_model=AbsenceOut, responses=NOT_FOUND)
    def get_absence(absence_id: AbsenceId, user: Principal = viewer) -> AbsenceOut:
        with services.read(user) as session:
            row = queries.absence(session, absence_id)
        if row is None:
            raise HTTPException(404, "no such absence")
        return AbsenceOut.of(row)

    @r.post("/absences", response_model=AbsenceOut, status_code=201, responses=NOT_FOUND)
    def add_absence(body: AbsenceIn, user: Principal = operator) -> AbsenceOut:
        with services.read(user) as session:
            if queries.resident_status(session, body.resident, services.clock.now()) is None:
                raise HTTPException(404, "no such resident")
        absence_id = services.absence_commands.add_absence(body.resident, body.start_at, body.until_at, body.note, user.name)
        with services.read(user) as session:
            row = queries.absence(session, absence_id)
        assert row is not None
        return AbsenceOut.of(row)

    @r.delete("/absences/{absence_id}", status_code=204, responses=NOT_FOUND)
    def remove_absence(absence_id: AbsenceId, user: Principal = operator) -> Response:
        with services.read(user) as session:
            if queries.absence(session, absence_id) is None:
                raise HTTPException(404, "no such absence")
        services.absence_commands.remove_absence(absence_id, user.name)
        return Response(status_code=204)

    return r


def _run(services: WebServices, alert_id: str, words: ReasonWords, command: object, user: Principal) -> AlertOut:
    with services.read(user) as session:
        if queries.alert_row(session, alert_id) is None:
            raise HTTPException(404, "no such alert")  # not there, or not in the caller's grids
    try:
        view = command()  # type: ignore[operator]
    except AlertNotFound:
        raise HTTPException(404, "no such alert") from None
    except InvalidTransition as exc:
        raise HTTPException(409, str(exc)) from None
    with services.read(user) as session:
        row = queries.alert_row(session, view.id)
    if row is None:
        raise HTTPException(404, "no such alert")
    return AlertOut.of(row, words)
