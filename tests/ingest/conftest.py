"""Fixtures of the ingestion tests (`db_url` comes from tests/conftest.py).

`broker` is overridden here: Mosquitto started as root drops to the `mosquitto` user, which
cannot write its persistence file into pytest's private tmp directory, so the shared fixture's
"persistence on" silently loses every session at a broker restart ("Error saving in-memory
database" in its log). `user root` keeps the privileges it was started with (ignored when not root).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Broker, free_port, require, write_broker_conf

from ingest.helpers import HubProcess, write_config


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A fresh Mosquitto on a free port whose persistence really works, no queue limits."""
    require(shutil.which("mosquitto") is not None, "mosquitto")
    port = free_port()
    b = Broker(port, write_broker_conf(tmp_path, port, extra="user root\n"))
    b.start()
    yield b
    b.stop()


@pytest.fixture
def hub_factory(tmp_path: Path) -> Iterator[object]:
    """Build `pingan serve` subprocesses on the test's broker and database; all killed at teardown."""
    started: list[HubProcess] = []

    def make(broker: Broker, db_url: str, name: str = "hub", upgrade: bool = False, **mqtt_extra: object) -> HubProcess:
        port = free_port()
        config = write_config(tmp_path / f"{name}.yaml", broker.url, db_url, port, **mqtt_extra)
        hub = HubProcess(config, port, tmp_path / f"{name}.log", upgrade=upgrade)
        started.append(hub)
        return hub

    yield make
    for hub in started:
        hub.cleanup()
