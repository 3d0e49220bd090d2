"""The responder page `/r/{token}`: the signed link from a dispatch SMS opens its alert on a phone
with acknowledge / on-site / resolve. The link is checked by the injected verifier (the dispatch
module's signature check); an expired, tampered or unknown link gets a 404 that says only that
the link is not valid. The link is the responder's credential; POSTs also need the page's CSRF token.

A link acts only while its alert is open (open, acknowledged or on site): once the alert is
resolved, the page and every action answer 410 with a page that says only that the alert is
closed — no name, address or position for whoever holds an old SMS.

`/s/{code}` is the short form an SMS carries (hub/dispatch/links.py): it redirects to the signed
link it stands for while that link is valid, and is a 404 like a bad link after.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from dashboards import queries
from dashboards.auth import check_csrf
from dashboards.render import Renderer
from hub.dispatch.links import is_short_code
from hub.ports import AlertNotFound, AlertView, InvalidTransition
from hub.storage.models import Alert, ShortLink

if TYPE_CHECKING:
    from dashboards.app import ResponderClaim, WebServices

log = logging.getLogger(__name__)

CHANNEL = "web"
RESPONDER_OUTCOMES = ("ok", "assisted", "hospital", "false_alarm")


def router(services: WebServices, renderer: Renderer) -> APIRouter:
    r = APIRouter(include_in_schema=False)

    def claim_of(token: str) -> ResponderClaim:
        claim = services.verify_responder_link(token) if len(token) <= 512 else None
        if claim is None:
            log.info("responder link refused")
            raise HTTPException(404, "this link is not valid or has expired")
        return claim

    def closed(request: Request) -> Response:
        response = renderer.page(request, "responder_closed.html", status_code=410)
        response.headers["Cache-Control"] = "no-store"
        return response

    def is_closed(alert_id: str) -> bool:
        with services.sessions() as session:
            state = session.scalar(select(Alert.state).where(Alert.id == alert_id))
        if state is None:
            raise HTTPException(404, "this link is not valid or has expired")
        return state == "resolved"

    @r.get("/s/{code}")
    def short_link(code: str) -> Response:
        now = services.clock.now()
        with services.sessions() as session:
            link = session.get(ShortLink, code) if is_short_code(code) else None
        if link is None or link.expires_at < now:
            log.info("short link refused")
            raise HTTPException(404, "this link is not valid or has expired")
        return RedirectResponse(link.url, status_code=302, headers={"Cache-Control": "no-store"})

    @r.get("/r/{token}")
    def responder_page(request: Request, token: str) -> Response:
        claim = claim_of(token)
        if is_closed(claim.alert_id):
            return closed(request)
        with services.sessions() as session:
            alert = queries.alert_row(session, claim.alert_id)
            status = queries.resident_status(session, alert.resident, services.clock.now()) if alert and alert.resident else None
        if alert is None:
            raise HTTPException(404, "this link is not valid or has expired")
        context = {"a": alert, "s": status, "claim": claim, "token": token, "outcomes": RESPONDER_OUTCOMES}
        response = renderer.page(request, "responder.html", context)
        response.headers["Cache-Control"] = "no-store"
        return response

    def act(request: Request, token: str, command: Callable[[ResponderClaim], AlertView], what: str) -> Response:
        claim = claim_of(token)
        if is_closed(claim.alert_id):
            return closed(request)
        try:
            view = command(claim)
            request.session["flash"] = f"{view.code}: {what}"
            log.info("responder action=%s alert=%s responder=%s", what, claim.alert_id, claim.responder)
        except AlertNotFound:
            raise HTTPException(404, "this link is not valid or has expired") from None
        except InvalidTransition as exc:
            request.session["flash"] = f"! {exc}"
        return RedirectResponse(f"/r/{token}", status_code=303)

    cmd = services.alert_commands

    @r.post("/r/{token}/ack", dependencies=[Depends(check_csrf)])
    def acknowledge(request: Request, token: str) -> Response:
        return act(request, token, lambda c: cmd.acknowledge(c.alert_id, c.responder, CHANNEL), "acknowledged")

    @r.post("/r/{token}/on-site", dependencies=[Depends(check_csrf)])
    def on_site(request: Request, token: str) -> Response:
        return act(request, token, lambda c: cmd.on_site(c.alert_id, c.responder, CHANNEL), "on_site")

    @r.post("/r/{token}/resolve", dependencies=[Depends(check_csrf)])
    def resolve(request: Request, token: str, outcome: str = Form(...)) -> Response:
        if outcome not in RESPONDER_OUTCOMES:
            raise HTTPException(422, f"outcome must be one of {', '.join(RESPONDER_OUTCOMES)}")
        return act(request, token, lambda c: cmd.resolve(c.alert_id, outcome, c.responder, CHANNEL), f"resolved ({outcome})")

    return r
