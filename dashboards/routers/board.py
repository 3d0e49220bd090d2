"""The operator board: live alert list, alert pages and actions, residents, absences, family
links, the map, device pages and the audit trail. Server-rendered; writes go through the ports.
"""

# No `from __future__ import annotations` here: the route signatures use local Annotated
# dependency aliases (Viewer, Operator...), which FastAPI must be able to evaluate.

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sse_starlette.sse import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from dashboards import queries
from dashboards import workspace_queries as wq
from dashboards.auth import SESSION_KEY, BoardSessions, Principal, Role, check_csrf, page_user
from dashboards.family_links import UnknownResident, create_family_link, links_of, revoke_family_link
from dashboards.live import SESSION_EVENT, LiveEvent
from dashboards.render import Renderer
from dashboards.routers.access import safe_next
from dashboards.routers.teamwork import alert_page_context
from dashboards.scope import LiveScope
from dashboards.svg import day_hour_grid, line_chart
from hub.gcj02 import wgs84_to_gcj02
from hub.ports import AlertNotFound, AlertView, InvalidTransition
from hub.teamwork import assignees_of

if TYPE_CHECKING:
    from dashboards.app import WebServices

log = logging.getLogger(__name__)

CHANNEL = "board"


class BoardView:
    """The board's residents list: search (name, address, id, phone), grid, person state, page."""

    def __init__(
        self,
        q: Annotated[str, Query(max_length=100)] = "",
        grid: Annotated[str, Query(max_length=64)] = "",
        state: Annotated[str, Query(pattern=r"^(|alert|unknown|away|home_active|home_quiet)$")] = "",
        page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    ) -> None:
        self.q, self.grid, self.state, self.page = q, grid, state, page


def router(services: "WebServices", renderer: Renderer) -> APIRouter:
    r = APIRouter(include_in_schema=False)
    logins = BoardSessions.of(services)
    viewer = page_user(services, Role.VIEWER)
    operator = page_user(services, Role.OPERATOR)
    admin = page_user(services, Role.ADMIN)
    write = [Depends(check_csrf)]
    Viewer = Annotated[Principal, Depends(viewer)]
    Operator = Annotated[Principal, Depends(operator)]
    Admin = Annotated[Principal, Depends(admin)]

    def board_context(user: Principal, view: "BoardView") -> dict[str, Any]:
        now = services.clock.now()
        with services.read(user) as session:
            alerts = queries.list_alerts(session, state="active")
            notifications = queries.notifications_of(session, [a.id for a in alerts])
            assignees = assignees_of(session, [a.id for a in alerts])
            device_kinds = queries.device_kinds(session, [a.device for a in alerts])
            ids, total = wq.board_page(session, view.q, view.grid, view.state, view.page)
            residents = sorted(queries.resident_statuses(session, now, ids), key=lambda s: ids.index(s.id))
            absences = queries.absences_of(session, now=now)
            names = queries.resident_names(session, [ab.resident for ab in absences])
            grids = wq.grids(session)
        return {
            "alerts": alerts,
            "notifications": notifications,
            "assignees": assignees,
            "device_kinds": device_kinds,
            "residents": residents,
            "residents_total": total,
            "view": view,
            "pages": max(1, -(-total // wq.PER_PAGE)),
            "grids": grids,
            "states": wq.BOARD_STATES,
            "absences": absences,
            "resident_names": names,
            "outcomes": queries.OPERATOR_OUTCOMES,
            "back": "/",
        }

    @r.get("/")
    def board(request: Request, user: Viewer, view: Annotated[BoardView, Depends()]) -> Response:
        return renderer.page(request, "board.html", board_context(user, view), user)

    @r.get("/partials/alerts")
    def alerts_partial(request: Request, user: Viewer) -> Response:
        return renderer.page(request, "_alerts.html", board_context(user, BoardView()), user)

    @r.get("/partials/residents")
    def residents_partial(request: Request, user: Viewer, view: Annotated[BoardView, Depends()]) -> Response:
        return renderer.page(request, "_residents.html", board_context(user, view), user)

    @r.get("/live")
    async def live(request: Request, user: Viewer) -> Response:
        token = str(request.session.get(SESSION_KEY, ""))
        recheck_s = services.config.http.live_recheck_s
        limited = LiveScope(services.sessions, user.grids) if user.grids is not None else None

        async def still_logged_in() -> bool:
            return await run_in_threadpool(logins.principal_of, token) is not None

        async def stream() -> AsyncIterator[dict[str, str]]:
            """Events until the session ends (checked every `live_recheck_s`, and at once when
            one ends in this process); then `ended`, and the board goes back to the login."""
            async with services.events.subscribe() as queue:
                yield {"event": "hello", "data": "{}"}
                while True:
                    try:
                        event: LiveEvent | None = await asyncio.wait_for(queue.get(), recheck_s)
                    except TimeoutError:
                        event = None
                    if event is None or event.kind == SESSION_EVENT:
                        if not await still_logged_in():
                            yield {"event": "ended", "data": "{}"}
                            return
                        continue
                    if limited is not None and not await run_in_threadpool(limited.allows, event.kind, event.data):
                        continue  # about a resident outside the user's grids
                    yield {"event": event.kind, "data": json.dumps(event.data, default=str)}

        return EventSourceResponse(stream(), ping=15)

    # --- alerts ---------------------------------------------------------------------------

    @r.get("/alerts/{alert_id}")
    def alert_page(request: Request, alert_id: str, user: Viewer) -> Response:
        with services.read(user) as session:
            detail = queries.alert_detail(session, alert_id)
            team = alert_page_context(session, alert_id) if detail is not None else {}
            team["device_kinds"] = queries.device_kinds(session, [detail.alert.device] if detail else [])
        if detail is None:
            raise HTTPException(404, "no such alert")
        return renderer.page(request, "alert.html", {"d": detail, "outcomes": queries.OPERATOR_OUTCOMES, **team}, user)

    def act(request: Request, alert_id: str, command: Callable[[], AlertView], what: str, user: Principal, back: str) -> Response:
        with services.read(user) as session:
            if queries.alert_row(session, alert_id) is None:
                raise HTTPException(404, "no such alert")  # not there, or not in the user's grids
        try:
            view = command()
            request.session["flash"] = f"{view.code}: {what}"
        except AlertNotFound:
            raise HTTPException(404, "no such alert") from None
        except InvalidTransition as exc:
            request.session["flash"] = f"! {exc}"
        log.info("board action=%s alert=%s user=%s", what, alert_id, user.name)
        return RedirectResponse(safe_next(back) if back else f"/alerts/{alert_id}", status_code=303)

    @r.post("/alerts/{alert_id}/ack", dependencies=write)
    def acknowledge(request: Request, alert_id: str, user: Operator, next: Annotated[str, Form()] = "") -> Response:
        cmd = services.alert_commands
        return act(request, alert_id, lambda: cmd.acknowledge(alert_id, user.name, CHANNEL), "acknowledged", user, next)

    @r.post("/alerts/{alert_id}/on-site", dependencies=write)
    def on_site(request: Request, alert_id: str, user: Operator, next: Annotated[str, Form()] = "") -> Response:
        cmd = services.alert_commands
        return act(request, alert_id, lambda: cmd.on_site(alert_id, user.name, CHANNEL), "on_site", user, next)

    @r.post("/alerts/{alert_id}/resolve", dependencies=write)
    def resolve(
        request: Request, alert_id: str, outcome: Annotated[str, Form()], user: Operator, next: Annotated[str, Form()] = ""
    ) -> Response:
        if outcome not in queries.OPERATOR_OUTCOMES:
            raise HTTPException(422, f"outcome must be one of {', '.join(queries.OPERATOR_OUTCOMES)}")
        cmd = services.alert_commands
        return act(request, alert_id, lambda: cmd.resolve(alert_id, outcome, user.name, CHANNEL), f"resolved ({outcome})", user, next)

    # --- residents, absences, family links -------------------------------------------------

    @r.get("/residents/{resident_id}")
    def resident_page(request: Request, resident_id: str, user: Viewer) -> Response:
        now = services.clock.now()
        with services.read(user) as session:
            status = queries.resident_status(session, resident_id, now)
            if status is None:
                raise HTTPException(404, "no such resident")
            alerts = queries.list_alerts(session, resident=resident_id, limit=50)
            device_kinds = queries.device_kinds(session, [a.device for a in alerts])
            events = queries.resident_events(session, resident_id, since=now - 7 * 86400, limit=100, heartbeats=False)
            activity = queries.activity_times(session, resident_id, since=now - 14 * 86400)
            absences = queries.absences_of(session, resident_id, include_past=True)
            links = links_of(session, resident_id)
        context = {
            "s": status,
            "alerts": alerts,
            "events": events,
            "absences": absences,
            "links": links,
            "device_kinds": device_kinds,
            "activity_chart": day_hour_grid(_activity_rows(renderer, activity, now, days=14)),
            "new_link": request.session.pop("new_family_link", None),
        }
        return renderer.page(request, "resident.html", context, user)

    @r.post("/residents/{resident_id}/absences", dependencies=write)
    def add_absence(
        request: Request,
        resident_id: str,
        start: Annotated[str, Form()],
        until: Annotated[str, Form()],
        user: Operator,
        note: Annotated[str, Form(max_length=400)] = "",
    ) -> Response:
        start_at, until_at = _parse_local(renderer, start), _parse_local(renderer, until)
        if until_at <= start_at:
            raise HTTPException(422, "the expected return must be after the start")
        with services.read(user) as session:
            if queries.resident_status(session, resident_id, services.clock.now()) is None:
                raise HTTPException(404, "no such resident")
        services.absence_commands.add_absence(resident_id, start_at, until_at, note.replace("\x00", ""), user.name)
        request.session["flash"] = "absence added"
        return RedirectResponse(_back(request, f"/residents/{resident_id}"), status_code=303)

    @r.post("/absences/{absence_id}/delete", dependencies=write)
    def remove_absence(request: Request, absence_id: int, user: Operator) -> Response:
        with services.read(user) as session:
            row = queries.absence(session, absence_id)
        if row is None:
            raise HTTPException(404, "no such absence")
        services.absence_commands.remove_absence(absence_id, user.name)
        request.session["flash"] = "absence removed"
        return RedirectResponse(_back(request, f"/residents/{row.resident}"), status_code=303)

    @r.post("/residents/{resident_id}/family-links", dependencies=write)
    def new_family_link(
        request: Request,
        resident_id: str,
        user: Operator,
        label: Annotated[str, Form(max_length=200)] = "",
        days: Annotated[int, Form(ge=0, le=3650)] = 0,
    ) -> Response:
        with services.read(user) as session:
            try:
                _link, token = create_family_link(
                    session, resident_id, services.clock.now(), user.name, label.replace("\x00", ""), days * 86400 or None
                )
            except UnknownResident:
                raise HTTPException(404, "no such resident") from None
        # Shown once on the next page view; never stored in clear.
        request.session["new_family_link"] = family_url(services, token)
        return RedirectResponse(f"/residents/{resident_id}#family", status_code=303)

    @r.post("/family-links/{link_id}/revoke", dependencies=write)
    def revoke_link(request: Request, link_id: int, user: Operator) -> Response:
        with services.read(user) as session:
            link = revoke_family_link(session, link_id, services.clock.now(), user.name)
        if link is None:
            raise HTTPException(404, "no such link")
        request.session["flash"] = "family link revoked"
        return RedirectResponse(f"/residents/{link.resident}#family", status_code=303)

    # --- devices, map, audit ----------------------------------------------------------------

    @r.get("/devices/{device_id}")
    def device_page(request: Request, device_id: str, user: Viewer) -> Response:
        now = services.clock.now()
        with services.read(user) as session:
            device = queries.device_row(session, device_id)
            if device is None:
                raise HTTPException(404, "no such device")
            points = queries.battery_points(session, device_id, since=now - 30 * 86400)
            events = queries.resident_events(session, device.resident, now - 2 * 86400, 50) if device.resident else []
        left = queries.days_left(points, now)
        # The fitted line, drawn from the newest reading to empty when that is within 60 days.
        fit = ((points[-1][0], float(points[-1][1])), (now + left * 86400, 0.0)) if left is not None and left <= 60 else None
        end = fit[1][0] if fit else now
        labels = (renderer.format_time(points[0][0], "%m-%d"), renderer.format_time(end, "%m-%d")) if points else ("", "")
        chart = line_chart([(t, float(b)) for t, b in points], fit=fit, x_labels=labels)
        context = {
            "d": device,
            "points": points,
            "days_left": left,
            "chart": chart,
            "events": [e for e in events if e.device == device_id],
        }
        return renderer.page(request, "device.html", context, user)

    @r.get("/map")
    def map_page(request: Request, user: Viewer) -> Response:
        return renderer.page(request, "map.html", {"map": services.map}, user)

    @r.get("/map/data.json")
    def map_data(user: Viewer) -> Response:
        with services.read(user) as session:
            data = queries.map_features(session, services.clock.now())
        if services.map.tile_crs == "gcj02":
            data = _to_gcj02(data)
        return JSONResponse(data)

    @r.get("/audit")
    def audit_page(request: Request, user: Admin) -> Response:
        with services.read(user) as session:
            rows = queries.recent_audit(session)
        return renderer.page(request, "audit.html", {"rows": rows}, user)

    return r


def family_url(services: "WebServices", token: str) -> str:
    return services.config.http.public_url.rstrip("/") + "/f/" + token


def _back(request: Request, default: str) -> str:
    """Return to the page the form was on (same site only), when the browser says which."""
    referer = request.headers.get("referer", "")
    base = str(request.base_url)
    if referer.startswith(base):
        return safe_next("/" + referer[len(base) :])
    return default


def _parse_local(renderer: Renderer, value: str) -> float:
    """`2026-11-26T14:30` (an <input type=datetime-local>) in the display time zone → epoch seconds."""
    try:
        return datetime.fromisoformat(value).replace(tzinfo=renderer.tz).timestamp()
    except ValueError:
        raise HTTPException(422, f"not a date and time: {value[:40]!r}") from None


def _activity_rows(renderer: Renderer, times: list[float], now: float, days: int) -> list[tuple[str, list[int]]]:
    """Activity counts per local day and hour for the last `days` days, oldest first."""
    today = renderer.local(now).date()
    first = today - timedelta(days=days - 1)
    counts = {first + timedelta(days=i): [0] * 24 for i in range(days)}
    for t in times:
        local = renderer.local(t)
        if local.date() in counts:
            counts[local.date()][local.hour] += 1
    return [(day.strftime("%m-%d"), hours) for day, hours in counts.items()]


def _to_gcj02(data: dict[str, Any]) -> dict[str, Any]:
    """Shift every coordinate for a GCJ-02 base map (display only; storage stays WGS-84)."""
    def pair(p: list[float] | None) -> list[float] | None:
        return list(wgs84_to_gcj02(p[0], p[1])) if p else p

    for home in data["homes"]:
        home["lat"], home["lon"] = wgs84_to_gcj02(home["lat"], home["lon"])
    for zone in data["zones"]:
        if zone["circle"]:
            lat, lon = wgs84_to_gcj02(zone["circle"][0], zone["circle"][1])
            zone["circle"] = [lat, lon, zone["circle"][2]]
        if zone["polygon"]:
            zone["polygon"] = [pair(p) for p in zone["polygon"]]
    for tag in data["tags"]:
        tag["fix"] = pair(tag["fix"])
        tag["trail"] = [pair(p) for p in tag["trail"]]
    return data
