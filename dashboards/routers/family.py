"""The family page `/f/{token}`: one resident's status for relatives, mobile first, zh-CN / en.

Unknown, revoked and expired tokens get one and the same 404 page, so a guess learns nothing.
Every successful view is an audit record. The location (home map point, tag's last fix) is
shown only when the resident's `share_location` allows it. Who is on an open alert is told by
role ("网格员已响应"), never by a phone number, a board login or a name.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dashboards import queries
from dashboards.family_links import record_family_view, resolve_family_token
from dashboards.render import Renderer

if TYPE_CHECKING:
    from dashboards.app import WebServices

log = logging.getLogger(__name__)


def router(services: WebServices, renderer: Renderer) -> APIRouter:
    r = APIRouter(include_in_schema=False)

    @r.get("/f/{token}")
    def family_page(request: Request, token: str) -> Response:
        now = services.clock.now()
        client = request.client.host if request.client else ""
        with services.sessions() as session:
            link = resolve_family_token(session, token, now)
            if link is None:
                log.info("family link refused client=%s", client)
                return renderer.page(request, "family_missing.html", status_code=404)
            status = queries.resident_status(session, link.resident, now)
            if status is None:
                return renderer.page(request, "family_missing.html", status_code=404)
            helpers = {a.id: queries.acknowledger_role(session, a.acknowledged_by) for a in status.open_alerts if a.acknowledged_by}
            record_family_view(session, link, now, client)
        log.info("family view link=%s resident=%s", link.id, link.resident)
        tags = [d for d in status.devices if d.kind == "gps_tag" and d.last_lat is not None]
        context = {"s": status, "helpers": helpers, "tags": tags if status.share_location else [], "token": token}
        response = renderer.page(request, "family.html", context)
        response.headers["Cache-Control"] = "no-store"
        return response

    return r

