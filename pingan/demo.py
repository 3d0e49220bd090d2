"""`pingan demo`: the whole product on one machine with nothing else installed.

An embedded MQTT broker (unless `--broker` names a real one), SQLite in a demo folder, a
simulated Harbin community (registry imported, devices publishing through the broker like
real ones), console SMS shown on the board, and the board on http://127.0.0.1:8000.

Without `http.secret_key` the demo makes a random key in memory for this run only (never
stored): logins and the responder links it prints end when the demo stops. `pingan serve`
refuses to start without a key.

Demo time runs `--speed` times faster than the wall clock (default 60: an hour a minute), for
the simulator and the hub alike, so a 6-hour silence is judged after 6 minutes; incidents are
injected every few demo hours, so something happens every minute or two. Simulated responders
(pingan/demo_responders.py) answer some texts — acknowledge, arrive, resolve — and leave others
unanswered, so both an alert's whole life and escalation show (`--no-responders`: nobody answers).
"""

from __future__ import annotations

import logging
import secrets
import socket
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from pydantic import SecretStr
from sqlalchemy import select

from devices.kinds import DeviceKind
from hub.access import add_user
from hub.clock import ScaledClock, SystemClock
from hub.config import Config
from hub.dispatch.providers.console import ConsoleProvider
from hub.embedded_broker import EmbeddedBroker
from hub.logging_setup import configure_logging
from hub.registry.file import load_registry_file
from hub.registry.importer import import_document
from hub.storage import models as m
from hub.storage.db import make_engine, make_sessions, upgrade
from pingan.commands.context import load
from pingan.demo_responders import DemoResponders
from pingan.serve import hub_server
from pingan.wiring import build_hub
from simulators.community import build_community, registry_yaml
from simulators.engine import LOCAL_TZ, SimConfig, Simulation, Truth, local_midnight, payload_bytes
from simulators.incidents import Incident
from simulators.publisher import BrokerError, publish_stream

log = logging.getLogger("pingan.demo")

DEMO_USER, DEMO_PASSWORD = "demo", "pingan-demo"
#: Incident kinds injected in turn, and how far apart (demo seconds).
DEMO_INCIDENTS = ("sos", "fall", "sos_cancelled", "wandering", "battery", "dead_device")
INCIDENT_EVERY_S = 90 * 60


def demo_command(
    ctx: typer.Context,
    residents: Annotated[int, typer.Option(min=5, max=500, help="residents of the simulated community")] = 30,
    speed: Annotated[float, typer.Option(min=1, max=3600, help="demo seconds per wall second")] = 60.0,
    port: Annotated[int, typer.Option(help="HTTP port of the board")] = 8000,
    broker: Annotated[str | None, typer.Option(help="use this MQTT broker (mqtt://host:port) instead of the embedded one")] = None,
    data_dir: Annotated[Path, typer.Option(help="folder for the demo database")] = Path("demo-data"),
    days: Annotated[float, typer.Option(help="demo days to simulate")] = 7.0,
    seed: Annotated[int, typer.Option(help="random seed of the community")] = 7,
    responders: Annotated[bool, typer.Option(help="simulated responders answer some texts (acknowledge, arrive, resolve)")] = True,
) -> None:
    """Run the demo: embedded broker, SQLite, a simulated community, console SMS, the board."""

    configure_logging()  # hub.logging_setup: masks phone numbers in every record
    data_dir.mkdir(parents=True, exist_ok=True)
    embedded = None
    if broker is None:

        embedded = EmbeddedBroker(_free_port(1883))
        embedded.start()
        broker = embedded.url
    config = demo_config(load(ctx), data_dir, broker, embedded is not None, port)
    try:
        run_demo(config, residents, speed, days, seed, responders)
    finally:
        if embedded is not None:
            embedded.stop()


def demo_config(base: Config, data_dir: Path, broker_url: str, embedded: bool, port: int) -> Config:
    mqtt = base.mqtt.model_copy(update={
        "url": broker_url,
        "client_id": "pingan-demo-hub",
        # amqtt (the embedded broker) speaks 3.1.1 and keeps sessions only for named users
        **({"protocol": "3.1.1", "username": "hub"} if embedded else {}),
    })
    # An ephemeral key when none is configured: in memory for this run, never in the database.
    secret = base.http.secret_key or SecretStr(secrets.token_urlsafe(32))
    http = base.http.model_copy(update={"port": port, "public_url": f"http://127.0.0.1:{port}", "secret_key": secret})
    database = base.database.model_copy(update={"url": f"sqlite:///{data_dir.resolve()}/pingan.db"})
    sms = base.sms.model_copy(update={"provider": "console"})
    return base.model_copy(update={"mqtt": mqtt, "http": http, "database": database, "sms": sms})


def run_demo(config: Config, residents: int, speed: float, days: float, seed: int, responders: bool = True) -> None:
    simulation = demo_simulation(residents, days, seed, SystemClock().now())
    prepare_database(config, simulation)
    clock = ScaledClock(simulation.start, speed)
    hub = build_hub(config, clock=clock)
    hub.start()
    stop = threading.Event()
    publisher = threading.Thread(target=_publish, args=(simulation, config.mqtt.url, speed, stop), daemon=True)
    publisher.start()
    if responders and isinstance(hub.provider, ConsoleProvider) and hub.replies is not None:
        answering = DemoResponders(hub.provider, hub.replies.handle_reply, clock.now)
        threading.Thread(target=answering.run, args=(stop,), name="demo-responders", daemon=True).start()
    typer.echo(
        f"\n  Ping'an Hub demo: http://127.0.0.1:{config.http.port}  login {DEMO_USER} / {DEMO_PASSWORD}\n"
        f"  {residents} residents, demo time ×{speed:g}; SMS are printed here and shown on the board. Ctrl-C stops.\n"
    )
    try:
        # serve's server: on SIGTERM (a service manager's stop) as on Ctrl-C it drains the hub and
        # exits 0; plain uvicorn.run re-raised SIGTERM and the process died before this `finally`
        for name in ("uvicorn.error", "uvicorn.access"):  # the console is for alerts and SMS, not each request
            logging.getLogger(name).setLevel(logging.WARNING)
        hub_server(hub, config).run()
    finally:
        stop.set()
        hub.stop()


def demo_simulation(residents: int, days: float, seed: int, now: float):  # type: ignore[no-untyped-def]
    """A community starting now, with an incident every INCIDENT_EVERY_S demo seconds."""
    community = build_community(residents, seed)
    with_tag = [r.id for r in community.residents if r.device(DeviceKind.GPS_TAG) is not None]
    everyone = [r.id for r in community.residents]
    start = datetime.fromtimestamp(now, UTC).astimezone(LOCAL_TZ).replace(microsecond=0)
    first = now - local_midnight(now) + 30 * 60  # half a demo hour after the start
    incidents = []
    for i in range(int(days * 86400 // INCIDENT_EVERY_S)):
        kind = DEMO_INCIDENTS[i % len(DEMO_INCIDENTS)]
        pool = with_tag if kind == "wandering" else everyone
        incidents.append(Incident(kind, pool[(i * 7) % len(pool)], first + i * INCIDENT_EVERY_S))
    config = SimConfig(residents=residents, days=days, seed=seed, start=start.isoformat(), incidents=incidents,
                       random_incidents=False)
    return Simulation(config, community)


def prepare_database(config: Config, simulation) -> None:  # type: ignore[no-untyped-def]
    """Migrate, import the simulated community's registry and create the demo login."""
    upgrade(config.database.url)
    engine = make_engine(config.database.url)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "demo-registry.yaml"
        path.write_text(registry_yaml(simulation.community), encoding="utf-8")
        document = load_registry_file(path)
    with make_sessions(engine).begin() as session:
        import_document(session, document)
        if session.scalar(select(m.User).where(m.User.name == DEMO_USER)) is None:
            add_user(session, DEMO_USER, "admin", DEMO_PASSWORD, SystemClock().now())
    engine.dispose()


def _publish(simulation: Simulation, url: str, speed: float, stop: threading.Event) -> None:
    """Publish the simulation in demo time: payloads keep their simulated ts (the hub's clock
    runs at the same speed), paced so demo time t is reached at wall time (t - start) / speed."""

    def messages() -> Iterator[tuple[float, str, bytes, bool]]:
        for item in simulation:
            if stop.is_set():
                return
            if not isinstance(item, Truth):
                yield item.t, item.topic, payload_bytes(item.payload), item.retain

    try:
        publish_stream(messages(), url, speed)
    except BrokerError as exc:
        log.error("demo simulator stopped: %s", exc)


def _free_port(preferred: int) -> int:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])
