"""Operations endpoints: `/healthz` (the process answers), `/readyz` (broker and database), `/metrics`.

Built by `ops_router(health, registry)` from what it is given; no globals.
"""

from __future__ import annotations

from typing import Protocol

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest


class HealthProbe(Protocol):
    def checks(self) -> dict[str, bool]:
        """Each readiness condition by name (e.g. broker, database): True when satisfied."""
        ...


def ops_router(health: HealthProbe, registry: CollectorRegistry) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", responses={503: {"description": "not ready: the broker connection or the database is down"}})
    def readyz() -> JSONResponse:
        checks = health.checks()
        ready = all(checks.values())
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    @router.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
