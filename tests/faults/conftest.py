"""Fixtures of the fault suite: a recorded day with incidents, a fresh schema, hubs as processes.

`broker`, `db_url` and `pg_database` come from tests/conftest.py. Multi-hub tests need
PostgreSQL (`fresh_pg`: the session's test database, emptied and re-created per test).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import require

from hub.storage.db import create_schema, make_engine, reset_schema

from .helpers import OwnPostgres, postgres_bin

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SCENARIO = HERE / "incidents.yaml"


@pytest.fixture(scope="session")
def day_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`pingan simulate` of tests/faults/incidents.yaml: 20 homes (PINGAN_FAULTS_HOMES: more),
    one day, 7 incidents (registry beside it as FILE.registry.yaml)."""
    out = tmp_path_factory.mktemp("recording") / "day.jsonl"
    homes = os.environ.get("PINGAN_FAULTS_HOMES")  # more homes, same incidents (r-0003 … r-0019)
    subprocess.run(
        [sys.executable, "-m", "pingan", "simulate", "--scenario", str(SCENARIO), "--out", str(out),
         *(["--residents", homes] if homes else [])],
        cwd=REPO, check=True, capture_output=True, timeout=120 + 2 * int(homes or 0),
    )
    return out


@pytest.fixture
def fresh_pg(pg_database: str) -> Iterator[str]:
    """The session's PostgreSQL database with an empty, current schema."""
    engine = make_engine(pg_database)
    reset_schema(engine)  # events partitioned by day, as `pingan db upgrade` builds it
    engine.dispose()
    yield pg_database


@pytest.fixture
def twilio_server() -> Iterator[object]:
    """The local Twilio-compatible server (tests/support/twilio_server.py)."""
    from support.twilio_server import TwilioTestServer

    with TwilioTestServer() as server:
        yield server


@pytest.fixture
def own_pg() -> Iterator[tuple[OwnPostgres, str]]:
    """A PostgreSQL server of the test's own (initdb, pg_ctl) on a free port, with a database of
    the current schema: (server, database URL). The test may stop, restart or kill it; the
    server is stopped and its directory removed afterwards, whatever the test did."""
    bin_dir = postgres_bin()
    require(bin_dir is not None, "PostgreSQL server binaries (initdb, pg_ctl in /usr/lib/postgresql/*/bin)")
    assert bin_dir is not None
    server = OwnPostgres(bin_dir).init()
    try:
        server.start()
        url = server.create_database("pingan_faults")
        engine = make_engine(url)
        create_schema(engine)
        engine.dispose()
        yield server, url
    finally:
        server.remove()
