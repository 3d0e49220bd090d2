"""Engine state benchmark (not a test): what a decision costs to persist as the community grows.

    .venv/bin/python benchmarks/state.py [--sizes 10000,100000,1000000] [--decisions 200] [--db sqlite|postgresql]

For each N: a registry of N residents (a home unit and a GPS tag each, benchmarks/rules.py), an
engine armed for all of them and every device heard once (built directly, not through MQTT),
its units written to a fresh database (hub/storage/engine_units.py, the hub's own code). Then:

- decisions: `--decisions` SOS messages of random residents, each ruled and committed as the
  hub does it (engine.handle, the alert rows, the changed units and the meta row, one
  transaction): bytes of state written per decision (mean) and time from the message to the
  committed alert (p99);
- start-up: what `HubCore.load` does before it takes a message — the registry read from its
  tables (written there once, like an import: residents with their zone, devices;
  hub/registry/snapshot.py) and a new engine rebuilt from the stored units (one query);
  `registry_s` is the registry's part of `startup_s`;
- memory: the engine's bytes per device with tracemalloc (build, arm, every device heard; the
  units' dirty set drained, as the hub's first save drains it);
- baseline, in the same run: the full snapshot every alert decision used to write
  (`Engine.snapshot()` + `json.dumps`, before any database write): bytes and seconds.

Last line per N: `state: residents=N bytes_per_decision=N decision_p99_ms=N startup_s=N bytes_per_device=N registry_s=N`;
before it the baseline line and the ratio.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import sys
import tempfile
import time
import tracemalloc
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

sys.path.insert(0, str(Path(__file__).parent))
from harness import scratch_database
from rules import T0, registry

from alerts.actions import ALERT_ACTIONS
from alerts.config import AlertsConfig, RulesConfig
from alerts.engine import Engine
from alerts.registry import RegistrySnapshot
from devices import DeviceMessage, interpret
from hub.registry.snapshot import load_snapshot
from hub.storage import models as m
from hub.storage.alert_store import save_alert
from hub.storage.db import create_schema, make_engine, make_sessions
from hub.storage.engine_units import META, read_meta, read_units, write_units

SCOPE = "engine"
WRITE_CHUNK = 20_000  # units per INSERT batch when writing the whole engine at first


def build_engine(reg: RegistrySnapshot) -> Engine:
    """Every device and resident armed, every device heard once (a heartbeat's state)."""
    engine = Engine(reg, RulesConfig(), AlertsConfig())
    engine.tick(T0)
    for device_id in reg.devices:
        state = engine.device_state(device_id)
        assert state is not None
        state.last_heard, state.battery = T0 + 60, 80
    return engine


def save_all(sessions: sessionmaker[Session], engine: Engine) -> float:
    """The first save: every unit (a hub does it once, after its registry import)."""
    started = time.perf_counter()
    units = sorted(engine.take_dirty())
    for i in range(0, len(units), WRITE_CHUNK):
        with sessions.begin() as session:
            changed: dict[str, Any] = {u: engine.unit_state(u) for u in units[i:i + WRITE_CHUNK]}
            if i + WRITE_CHUNK >= len(units):
                changed[META] = engine.meta_state()
            write_units(session, SCOPE, changed)
    return time.perf_counter() - started


def sos(device_id: str, at: float) -> DeviceMessage:
    msg = interpret(f"pingan/v1/dev/{device_id}/event", json.dumps({"ts": at, "type": "sos"}).encode(), at)
    assert isinstance(msg, DeviceMessage)
    return msg


def decisions(sessions: sessionmaker[Session], engine: Engine, residents: int, count: int) -> tuple[float, float]:
    """Mean bytes of state written and p99 ms from the message to the committed alert."""
    rnd = random.Random(18)
    picks = rnd.sample(range(residents), count)
    times, written = [], []
    for k, i in enumerate(picks):
        msg = sos(f"cat-{i:07d}", T0 + 120 + k)
        started = time.perf_counter()
        with sessions.begin() as session:
            actions = engine.handle(msg, msg.received_at)
            for action in actions:
                if isinstance(action, ALERT_ACTIONS):
                    save_alert(session, action.alert)  # type: ignore[attr-defined]
            changed: dict[str, Any] = {u: engine.unit_state(u) for u in engine.take_dirty()}
            changed[META] = engine.meta_state()
            written.append(write_units(session, SCOPE, changed))
        times.append(time.perf_counter() - started)
        assert any(isinstance(a, ALERT_ACTIONS) for a in actions), "every SOS opens an alert"
    times.sort()
    return sum(written) / len(written), times[int(len(times) * 0.99) - 1] * 1000


def store_registry(sessions: sessionmaker[Session], reg: RegistrySnapshot) -> float:
    """The registry in its tables, as an import leaves it (one community, one grid); seconds."""
    started = time.perf_counter()
    with sessions.begin() as session:
        session.execute(sa.insert(m.Community), [{"id": "c01", "name": "c01", "timezone": "Asia/Shanghai"}])
        session.execute(sa.insert(m.Grid), [{"id": "g01", "community_id": "c01", "name": "g01"}])
    residents = list(reg.residents.values())
    for i in range(0, len(residents), WRITE_CHUNK):
        chunk = residents[i:i + WRITE_CHUNK]
        with sessions.begin() as session:
            session.execute(sa.insert(m.Resident), [{"id": r.id, "name": r.name, "grid_id": r.grid, "address": r.address,
                                                     "home_lat": r.home.lat, "home_lon": r.home.lon} for r in chunk])
            session.execute(sa.insert(m.Zone), [
                {"resident_id": r.id, "position": k, "name": z.name, "center_lat": z.center.lat, "center_lon": z.center.lon,
                 "radius_m": z.radius_m, "hours": z.hours} for r in chunk for k, z in enumerate(r.zones) if z.center])
    devices = list(reg.devices.values())
    for i in range(0, len(devices), WRITE_CHUNK):
        with sessions.begin() as session:
            session.execute(sa.insert(m.Device), [{"id": d.id, "kind": d.kind.value, "resident_id": d.resident,
                                                   "heartbeat_s": d.heartbeat_s} for d in devices[i:i + WRITE_CHUNK]])
    return time.perf_counter() - started


def startup(sessions: sessionmaker[Session], reg: RegistrySnapshot, expect: Engine) -> tuple[float, float, float]:
    """Wall and CPU seconds (this process) to read the registry and rebuild the engine from the
    stored units, and the wall seconds of the registry's part."""
    gc.collect()
    started, cpu = time.perf_counter(), time.process_time()
    with sessions() as session:
        loaded = load_snapshot(session, T0)
        registry_s = time.perf_counter() - started
        engine = Engine(loaded, RulesConfig(), AlertsConfig())
        meta = read_meta(session, SCOPE)
        assert meta is not None
        engine.restore_units(meta, read_units(session, SCOPE))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert loaded == reg, "the registry read back is the one stored"
    assert len(engine.open_alerts()) == len(expect.open_alerts()) and engine.next_deadline() == expect.next_deadline()
    return elapsed, cpu, registry_s


def bytes_per_device(reg: RegistrySnapshot) -> float:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    engine = build_engine(reg)
    engine.take_dirty()  # drained by the hub's first save
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (after - before) / len(reg.devices)


def full_snapshot(engine: Engine) -> tuple[int, float]:
    """The old way: what every alert decision serialised before issue 18."""
    gc.collect()
    started = time.perf_counter()
    size = len(json.dumps({"engine": engine.snapshot(), "last_event_id": 0}))
    return size, time.perf_counter() - started


@contextmanager
def database(kind: str, n: int) -> Any:
    if kind == "postgresql":
        with scratch_database(f"pingan_bench_state_{n}") as url:
            yield url
    else:
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/state.db"


def run(n: int, count: int, db: str) -> dict[str, float]:
    reg = registry(n)
    started = time.perf_counter()
    engine = build_engine(reg)
    build_s = time.perf_counter() - started
    with database(db, n) as url:
        db_engine = make_engine(url)
        create_schema(db_engine)
        sessions = make_sessions(db_engine)
        registry_write_s = store_registry(sessions, reg)
        first_s = save_all(sessions, engine)
        per_decision, p99_ms = decisions(sessions, engine, n, count)
        startup_s, startup_cpu_s, registry_s = startup(sessions, reg, engine)
        db_engine.dispose()
    old_bytes, old_s = full_snapshot(engine)
    del engine
    per_device = bytes_per_device(reg)
    print(f"N={n:,} residents ({len(reg.devices):,} devices, {db}): engine built in {build_s:.1f} s, registry stored in "
          f"{registry_write_s:.1f} s, first save of every unit {first_s:.1f} s; start-up {startup_s:.1f} s wall "
          f"(registry {registry_s:.1f} s), {startup_cpu_s:.1f} s CPU of this process")
    print(f"baseline (full snapshot per alert decision, serialising only): {old_bytes:,} bytes in {old_s * 1000:.0f} ms; "
          f"units: {per_decision:,.0f} bytes per decision = 1/{old_bytes / per_decision:,.0f} of it")
    print(f"state: residents={n} bytes_per_decision={per_decision:.0f} decision_p99_ms={p99_ms:.2f} "
          f"startup_s={startup_s:.2f} bytes_per_device={per_device:.0f} registry_s={registry_s:.2f}", flush=True)
    return {"bytes": per_decision, "p99": p99_ms, "startup": startup_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--decisions", type=int, default=200)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results = {n: run(n, args.decisions, args.db) for n in sizes}
    small, large = results[min(sizes)], results[max(sizes)]
    print(f"per-decision growth {min(sizes):,} -> {max(sizes):,} residents: bytes x{large['bytes'] / small['bytes']:.2f}, "
          f"p99 x{large['p99'] / small['p99']:.2f} (aim <= 2)")


if __name__ == "__main__":
    main()
