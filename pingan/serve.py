"""`pingan serve`: migrate, then run the whole hub (ingestion, rules, dispatch, board, API) until SIGTERM.

Critical first: the hub (engine, outbox sender, critical lane, ingestion) starts before the web
framework is imported and the board's app built, so an SOS waiting in the broker is texted
without waiting for them (docs/INGESTION.md, "Start-up"). Then uvicorn serves the app.

uvicorn owns the signals: on SIGTERM or SIGINT it stops serving and runs the lifespan
shutdown, where ingestion drains its queue, commits, acknowledges and disconnects without
clearing the broker session, and the scheduler and outbox sender stop; the process exits 0.
"""

from __future__ import annotations

import gc
import logging
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from hub.config import Config
from hub.logging_setup import configure_logging
from hub.operations.production import config_notes, production_report
from hub.storage.db import upgrade
from pingan.wiring import Hub, build_hub

if TYPE_CHECKING:
    import uvicorn
    from fastapi import FastAPI

log = logging.getLogger("pingan.serve")


def warn_unless_production_ready(config: Config, config_file: Path) -> None:
    """Loud, not fatal: a test bench or a pilot may run like this, residents must not. Without the
    default-password check of `pingan check-config --production`: its argon2 tries cost ~0.65 s of
    CPU a user, at the start, while a backlog drains (docs/SECURITY.md)."""
    problems, _ = production_report(config, config_file, passwords=False)
    for key, text in config_notes(config):
        log.warning("%s: %s", key, text)
    if problems:
        banner = "!" * 78
        log.warning("\n%s\nNOT READY FOR RESIDENTS: `pingan check-config --production` refuses this hub:\n%s\n%s",
                    banner, "\n".join(problems), banner)


def with_lifespan(hub: Hub) -> FastAPI:
    """The hub's app (built now), stopping the started hub (draining) with the server."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            hub.stop()

    hub.app.router.lifespan_context = lifespan
    return hub.app


NO_SECRET_KEY = (
    "http.secret_key is not set. It signs session cookies and the responder links sent by SMS, and "
    "comes only from the environment or a secrets file: set PINGAN_HTTP__SECRET_KEY, or write it to "
    "$PINGAN_SECRETS_DIR/PINGAN_HTTP__SECRET_KEY (make one with "
    "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`). See docs/SECURITY.md."
)


def serve(config: Config, config_file: Path, *, run_upgrade: bool = True) -> int:
    """Run the hub until a signal stops it; returns the exit code (2: no session key)."""
    if config.http.secret_key is None:
        print(NO_SECRET_KEY, file=sys.stderr)
        return 2
    configure_logging()  # hub.logging_setup: masks phone numbers in every record
    if run_upgrade:
        upgrade(config.database.url)
    hub = build_hub(config)
    hub.start()  # before the web app: see the module's docstring
    # The registry and the engine loaded at start live as long as the process: frozen, the garbage
    # collector's full passes no longer walk them on every few thousand messages (the batch writer
    # with the rules: x1.15 messages per CPU-second, docs/BENCHMARKS.md "Session 11: the collector").
    # Objects made later are collected as before; refcounting still frees frozen ones. A young
    # pass every 20,000 allocations, not 700: a batch of messages makes thousands of short-lived
    # objects that refcounting frees anyway (writer with the rules: x1.09-1.11 more).
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    try:
        warn_unless_production_ready(config, config_file)
        server = hub_server(hub, config)
        server.run()
    finally:
        hub.stop()  # done already by the server's shutdown, unless the server never ran
    return 0 if server.started else 1


def hub_server(hub: Hub, config: Config) -> uvicorn.Server:
    import uvicorn

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

    app = with_lifespan(hub)
    return HubServer(uvicorn.Config(app, host=config.http.host, port=config.http.port, log_config=None, lifespan="on"))
