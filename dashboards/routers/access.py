"""Login and logout of the board (server-side sessions), with the login throttle."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from dashboards.auth import BoardSessions, LoginThrottle, check_csrf, check_password
from dashboards.live import SESSION_EVENT
from dashboards.render import Renderer

if TYPE_CHECKING:
    from dashboards.app import WebServices

log = logging.getLogger(__name__)


def safe_next(path: str | None) -> str:
    """Only local paths: a login form must not redirect to another site."""
    if path and path.startswith("/") and not path.startswith("//") and "\\" not in path:
        return path
    return "/"


def router(services: WebServices, renderer: Renderer) -> APIRouter:
    r = APIRouter(include_in_schema=False)
    http = services.config.http
    throttle = LoginThrottle(
        services.sessions, services.clock, http.login_max_failures, http.login_address_max_failures,
        http.login_window.total_seconds(),
    )
    board = BoardSessions.of(services)

    @r.get("/login")
    def login_form(request: Request, next: str = "/") -> Response:
        return renderer.page(request, "login.html", {"next": safe_next(next), "failed": False})

    @r.post("/login", dependencies=[Depends(check_csrf)])
    def login(
        request: Request,
        username: str = Form(..., max_length=100),
        password: str = Form(..., max_length=200),
        next: str = Form("/"),
    ) -> Response:
        client = request.client.host if request.client else "unknown"
        if throttle.blocked(username, client):
            log.warning("login throttled user=%s client=%s", username, client)
            return renderer.page(request, "login.html", {"next": safe_next(next), "throttled": True}, status_code=429)
        with services.sessions() as session:
            principal = check_password(session, username, password)
        if principal is None:
            throttle.failed(username, client)
            log.info("login failed user=%s client=%s", username, client)
            return renderer.page(request, "login.html", {"next": safe_next(next), "failed": True}, status_code=401)
        throttle.succeeded(username, client)
        board.login(request, principal.name)
        log.info("login user=%s role=%s client=%s", principal.name, principal.role.name.lower(), client)
        return RedirectResponse(safe_next(next), status_code=303)

    @r.post("/logout", dependencies=[Depends(check_csrf)])
    def logout(request: Request) -> Response:
        board.logout(request)
        services.events.publish(SESSION_EVENT)  # open /live streams re-check their session now
        return RedirectResponse("/login", status_code=303)

    return r
