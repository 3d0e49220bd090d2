"""Shared fixtures: real Mosquitto brokers on free ports, real databases.

Under CI=true a missing service fails the test instead of skipping it.
"""

from __future__ import annotations

import os
import queue
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database with the current schema, on SQLite and on PostgreSQL."""
    from hub.storage.db import make_engine, reset_schema

    url = f"sqlite:///{tmp_path}/pingan.db" if request.param == "sqlite" else request.getfixturevalue("pg_database")
    engine = make_engine(url)
    reset_schema(engine)  # on PostgreSQL, events partitioned as `pingan db upgrade` makes it
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
