"""`pingan serve`: migrate, start ingestion, serve HTTP (ops endpoints and the device API) until SIGTERM.

Wiring only. uvicorn owns the signals: on SIGTERM or SIGINT it stops serving and runs the
lifespan shutdown, where ingestion drains its queue, commits, acknowledges and disconnects
without clearing the broker session; the process then exits 0.

Until the dashboards' `create_app(services)` exists this module builds a small FastAPI app
with the ingestion routers; `build_app` is the one place to swap for it.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from dashboards.routers.devices import devices_router
from dashboards.routers.ops import ops_router
from hub.access import authenticate_token
from hub.config import Config
from hub.ingest import IngestService, OnBatch
from hub.metrics import IngestMetrics
from hub.storage.db import make_engine, make_sessions, upgrade

log = logging.getLogger("pingan.serve")


@dataclass
class Readiness:
    """Ready when the broker connection is up and the database answers."""

    ingest: IngestService
    engine: Engine

    def checks(self) -> dict[str, bool]:
        return {"broker": self.ingest.connected, "database": self._database_answers()}

    def _database_answers(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception as exc:
            log.warning("database not reachable error=%s", str(exc).splitlines()[0] if str(exc) else exc)
            return False


def build_app(ingest: IngestService, readiness: Readiness, registry: CollectorRegistry,
              sessions: sessionmaker[Session]) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        ingest.start()
        try:
            yield
        finally:
            ingest.stop()

    app = FastAPI(title="Ping'an Hub", lifespan=lifespan)
    app.include_router(ops_router(readiness, registry))
    app.include_router(devices_router(sessions, authenticate_token))
    return app


class HubServer(uvicorn.Server):
    """uvicorn re-raises SIGTERM after its graceful shutdown, so the process would die by the
    signal (exit -15). The hub has drained and committed by then: a clean stop exits 0."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def serve(config: Config, *, run_upgrade: bool = True, on_batch: OnBatch | None = None) -> int:
    """Run the hub until a signal stops it; returns the exit code."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if run_upgrade:
        upgrade(config.database.url)
    engine = make_engine(config.database.url)
    sessions = make_sessions(engine)
    registry = CollectorRegistry()
    ingest = IngestService(config, sessions, IngestMetrics(registry), on_batch=on_batch)
    app = build_app(ingest, Readiness(ingest, engine), registry, sessions)
    server = HubServer(uvicorn.Config(app, host=config.http.host, port=config.http.port, log_config=None,
                                           lifespan="on"))
    server.run()
    engine.dispose()
    return 0 if server.started else 1
