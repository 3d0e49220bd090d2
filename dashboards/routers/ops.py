"""Operations endpoints: `/healthz` (the process answers), `/readyz` (broker and database), `/metrics`.

Built by `ops_router(health, registry, metrics_token, metrics_here)` from what it is given; no
globals. `/metrics` says how busy the hub is and which devices misbehave: on the public port it
needs `Authorization: Bearer <http.metrics_token>` (401 without it, or while no token is set);
with `http.metrics_port` it is served only by that separate listener (pingan.wiring), not here.
"""

from __future__ import annotations

import hmac
from typing import Protocol

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest


class HealthProbe(Protocol):
    def checks(self) -> dict[str, bool]:
        """Each readiness condition by name (e.g. broker, database): True when satisfied."""
        ...


def ops_router(
    health: HealthProbe, registry: CollectorRegistry, metrics_token: str | None = None, metrics_here: bool = True
) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", responses={503: {"description": "not ready: the broker connection or the database is down"}})
    def readyz() -> JSONResponse:
        checks = health.checks()
        ready = all(checks.values())
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    if not metrics_here:
        return router

    @router.get("/metrics", responses={401: {"description": "no or wrong bearer token (http.metrics_token)"}})
    def metrics(request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if metrics_token is None or scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), metrics_token.encode()):
            raise HTTPException(401, "metrics need the bearer token http.metrics_token", headers={"WWW-Authenticate": "Bearer"})
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
