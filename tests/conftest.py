"""Shared fixtures: real Mosquitto brokers on free ports, real databases.

Under CI=true a missing service fails the test instead of skipping it. The suite runs on
pytest-xdist workers (pyproject.toml): whatever a test starts or creates must be its own — ports
from free_port() (a slice per worker), files under tmp_path, PostgreSQL databases named after
the worker's pid — never a fixed port, a shared file or the Mosquitto on :1883.
"""

from __future__ import annotations

import os
import queue
import random
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def require(condition: bool, what: str) -> None:
    """Skip locally, fail in CI, when a real service or tool is missing."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{what} is required in CI", pytrace=False)
    pytest.skip(f"{what} not available")


# Ports for the servers the tests start (brokers, hubs, PostgreSQL, Caddy) come from below the
# kernel's ephemeral range (32768-60999), so no client socket of any process can take one between
# free_port() and the server's bind; each pytest-xdist worker has a slice of its own, so two
# workers never hand out the same port. A random start keeps two runs on one machine apart.
PORTS_FIRST, PORTS_END = 20_000, 32_000


def _worker_ports() -> range:
    index = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    size = (PORTS_END - PORTS_FIRST) // max(workers, 1)
    return range(PORTS_FIRST + index * size, PORTS_FIRST + (index + 1) * size)


_PORTS = _worker_ports()
_next_port = _PORTS.start + random.randrange(len(_PORTS))


def free_port() -> int:
    """A port nothing listens on, from this worker's slice; handed out again only once the slice wraps."""
    global _next_port
    for _ in range(len(_PORTS)):
        port, _next_port = _next_port, _PORTS.start + (_next_port + 1 - _PORTS.start) % len(_PORTS)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:  # in use (by another run, or a server still closing)
                continue
            return port
    raise RuntimeError(f"no free port in {_PORTS}")


def wait_for_port(port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout_s}s")


@dataclass
class Broker:
    """A Mosquitto process of the test's own, with its own config file."""

    port: int
    conf: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["mosquitto", "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


def write_broker_conf(directory: Path, port: int, extra: str = "") -> Path:
    """Mosquitto started as root drops to the `mosquitto` user, which cannot write its
    persistence file into pytest's private tmp directory: `user root` keeps the privileges
    it was started with (ignored when not root), so persistence really works."""
    conf = directory / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\n"
        "user root\n"
        "allow_anonymous true\n"
        "persistence true\n"
        f"persistence_location {directory}/\n"
        "max_queued_messages 0\n"
        "max_inflight_messages 0\n"
        "log_dest none\n" + extra
    )
    return conf


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A fresh Mosquitto on a free port, persistence on, no queue limits."""
    require(shutil.which("mosquitto") is not None, "mosquitto")
    port = free_port()
    b = Broker(port, write_broker_conf(tmp_path, port))
    b.start()
    yield b
    b.stop()


PG_ADMIN_URL = os.environ.get("PINGAN_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _pg_available() -> bool:
    import sqlalchemy as sa

    try:
        with sa.create_engine(PG_ADMIN_URL).connect():
            return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, dropped at the end."""
    import sqlalchemy as sa

    require(_pg_available(), f"PostgreSQL at {PG_ADMIN_URL}")
    name = f"pingan_test_{os.getpid()}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


class PgSchemaCopies:
    """Fresh PostgreSQL databases for the tests, each a copy (CREATE DATABASE ... TEMPLATE, ~0.1 s)
    of a database where `reset_schema` built the current schema once (~1 s for every test
    before). The previous test's copy is dropped by a background thread: DROP DATABASE waits for
    a checkpoint. One template per UTC day, as `reset_schema` makes the events partitions of the
    day it runs."""

    def __init__(self, session_url: str) -> None:
        import sqlalchemy as sa

        self.server, self.prefix = session_url.rsplit("/", 1)
        self.admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        self.templates: dict[int, str] = {}
        self.copies = 0
        self.current: str | None = None
        self.dropper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="drop-test-database")

    def fresh(self) -> str:
        """The URL of a new database with the current, empty schema."""
        from hub.clock import SystemClock

        template = self._template(int(SystemClock().now() // 86400))
        self.copies += 1
        name = f"{self.prefix}_{self.copies}"
        self._sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        if self.current:
            self.dropper.submit(self._sql, f'DROP DATABASE IF EXISTS "{self.current}" WITH (FORCE)')
        self.current = name
        return f"{self.server}/{name}"

    def _template(self, day: int) -> str:
        if day not in self.templates:
            from hub.storage.db import make_engine, reset_schema

            name = f"{self.prefix}_schema_{day}"
            self._sql(f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')
            engine = make_engine(f"{self.server}/{name}")
            reset_schema(engine)  # events partitioned as `pingan db upgrade` makes it
            engine.dispose()
            self.templates[day] = name
        return self.templates[day]

    def _sql(self, *statements: str) -> None:
        import sqlalchemy as sa

        with self.admin.connect() as conn:
            for statement in statements:
                conn.execute(sa.text(statement))

    def close(self) -> None:
        """Drop every copy and template of this run (also any copy whose drop failed)."""
        import sqlalchemy as sa

        self.dropper.shutdown(wait=True)
        with self.admin.connect() as conn:
            names = conn.scalars(sa.text("SELECT datname FROM pg_database WHERE starts_with(datname, :p)"),
                                 {"p": f"{self.prefix}_"}).all()
        self._sql(*(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in names))
        self.admin.dispose()


@pytest.fixture(scope="session")
def pg_schema_copies(pg_database: str) -> Iterator[PgSchemaCopies]:
    copies = PgSchemaCopies(pg_database)
    yield copies
    copies.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database with the current schema, on SQLite and on PostgreSQL."""
    if request.param == "postgresql":
        yield request.getfixturevalue("pg_schema_copies").fresh()
        return
    from hub.storage.db import make_engine, reset_schema

    url = f"sqlite:///{tmp_path}/pingan.db"
    engine = make_engine(url)
    reset_schema(engine)
    engine.dispose()
    yield url


@pytest.fixture
def home_unit(broker: Broker) -> Iterator[tuple[mqtt.Client, queue.Queue[bytes]]]:
    """Home unit cat-0001 on the test broker: its client (to publish) and the commands it receives."""
    commands: queue.Queue[bytes] = queue.Queue()
    device = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="cat-0001")
    device.on_message = lambda _c, _u, msg: commands.put(msg.payload)
    device.connect("127.0.0.1", broker.port)
    device.subscribe("pingan/v1/dev/cat-0001/cmd", qos=1)
    device.loop_start()
    yield device, commands
    device.loop_stop()
    device.disconnect()
