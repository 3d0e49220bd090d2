"""Fixtures of the ingestion tests (`broker` and `db_url` come from tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Broker, free_port

from ingest.helpers import HubProcess, write_config


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
