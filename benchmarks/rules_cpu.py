"""The rules' CPU per message in the full hub (not a test): `Engine.handle` on the load generator's mix,
and `Engine.unit_state` over the units it changed (the state save's part in the engine).

    PYTHONHASHSEED=0 PYTHONPATH=. .venv/bin/python benchmarks/rules_cpu.py cpu
    PYTHONHASHSEED=0 PYTHONPATH=. valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=cg.NAME \
        .venv/bin/python benchmarks/rules_cpu.py handle|save|write [--db postgresql] --instrument
    PYTHONHASHSEED=0 PYTHONPATH=. .venv/bin/python benchmarks/rules_cpu.py dump OUT   # to diff two checkouts

The hub of `benchmarks/ingest_writer.py` (a SQLite database of 10,000 load devices, the packaged
config, `HubCore.load`) writes 10,000 load messages through the writer with the rules hook (warm-up),
then the writer interprets `--count` more without the hook; those are the measured messages, as
`HubCore.on_batch` hands them to `Engine.handle` (`msg.received_at` as the time). The collector is
set as `pingan serve` sets it (frozen, young passes every 20,000 allocations).

Modes: `handle` runs every measured message through `Engine.handle`; `save` does that unmeasured,
then `Engine.unit_state` of every unit it changed (`--instrument`: callgrind's instrumentation on
around the measured part only, as `ingest_writer.py --instrument`); `write` does that unmeasured,
writes the states once (`write_units`, as a hub's first save) and measures their second write (each
with a new watermark `w`, as the interval save), in one transaction, the commit left out (`--db
postgresql`: a scratch PostgreSQL database, the client's instructions only); `cpu` prints µs a message of
`handle` (CPU time, best of `--rounds` fresh slices); `dump OUT` writes the actions of every message
and the unit states after them, on a fixed clock (the same on every run), to compare checkouts:
a change that only removes Python steps gives the same file. `--only heartbeat,gps,...` measures
those messages only (channels, or event types), the others handled first, unmeasured.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import queue
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ingest_writer
from harness import create_database, drop_database
from prometheus_client import CollectorRegistry

from devices import DeviceMessage
from hub.ingest.batch import BatchWriter, WriterSettings
from hub.metrics import IngestMetrics
from hub.rules import runtime
from hub.storage.engine_units import write_units
from simulators.load import _Fleet


def kind(msg: DeviceMessage) -> str:
    channel = msg.channel.value
    return channel if channel != "event" else str(getattr(msg.payload, "type", ""))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=["handle", "save", "write", "cpu", "dump"])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("out", nargs="?", help="dump: the file to write")
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5, help="cpu: slices of --count messages, the best one")
    parser.add_argument("--only", help="measure these channels or event types only (comma-separated)")
    parser.add_argument("--instrument", action="store_true", help="under callgrind --instr-atstart=no")
    args = parser.parse_args()
    if args.mode == "dump":
        clock = [1_796_620_000.0]

        def fixed() -> float:
            clock[0] += 0.01
            return clock[0]
        time.time = fixed  # every receive time and the hub's clock: the same on every run
    runtime.STATE_SAVE_INTERVAL_S = float("inf")  # no interval saves in the warm-up
    pg_name = f"pingan_bench_rules_cpu_{os.getpid()}"
    url = create_database(pg_name) if args.db == "postgresql" else f"sqlite:///{tempfile.mkdtemp()}/rules_cpu.db"
    db, sessions, clock_, core = ingest_writer.fresh_hub(url)
    metrics = IngestMetrics(CollectorRegistry())
    fleet = _Fleet([f"load-{i + 1:05d}" for i in range(ingest_writer.DEVICES)], "pingan/v1", seed=1)
    warm = BatchWriter(queue.Queue(), sessions, ingest_writer.NoAcks(), metrics, WriterSettings(), clock_, core.on_batch)
    for batch in ingest_writer.batches(fleet, 10_000):
        warm.write(batch)
    captured: list[DeviceMessage] = []

    def capture(_session: object, messages: list[DeviceMessage], _now: float) -> list[object]:
        captured.extend(messages)
        return []
    taker = BatchWriter(queue.Queue(), sessions, ingest_writer.NoAcks(), IngestMetrics(CollectorRegistry()), WriterSettings(),
                        clock_, capture)  # type: ignore[arg-type]
    for batch in ingest_writer.batches(fleet, args.count * (args.rounds if args.mode == "cpu" else 1)):
        taker.write(batch)
    engine = core._engine()
    msgs = captured
    if args.only:
        keep = set(args.only.split(","))
        for msg in msgs:
            if kind(msg) not in keep:
                engine.handle(msg, msg.received_at)
        msgs = [msg for msg in msgs if kind(msg) in keep]
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)  # as pingan/serve.py
    if args.mode == "handle":
        if args.instrument:
            ingest_writer.callgrind(True)
        for msg in msgs:
            engine.handle(msg, msg.received_at)
        if args.instrument:
            ingest_writer.callgrind(False)
    elif args.mode == "save":
        for msg in msgs:
            engine.handle(msg, msg.received_at)
        units = sorted(engine.take_dirty())
        if args.instrument:
            ingest_writer.callgrind(True)
        for unit in units:
            engine.unit_state(unit)
        if args.instrument:
            ingest_writer.callgrind(False)
        print(f"units {len(units)}")
    elif args.mode == "write":
        for msg in msgs:
            engine.handle(msg, msg.received_at)
        rows = {unit: engine.unit_state(unit) for unit in sorted(engine.take_dirty())}
        with sessions.begin() as session:
            write_units(session, "bench", rows)
        for data in rows.values():
            if data is not None:
                data["w"] = 1
        with sessions.begin() as session:
            session.connection()  # the transaction begun, outside the measure
            if args.instrument:
                ingest_writer.callgrind(True)
            write_units(session, "bench", rows)
            if args.instrument:
                ingest_writer.callgrind(False)
        print(f"units {len(rows)}")
    elif args.mode == "cpu":
        slices = []
        for k in range(args.rounds):
            part = msgs[k * args.count:(k + 1) * args.count]
            started = time.process_time()
            for msg in part:
                engine.handle(msg, msg.received_at)
            slices.append((time.process_time() - started) / max(1, len(part)) * 1e6)
        print("handle µs a message: " + " ".join(f"{s:.2f}" for s in slices) + f"; best {min(slices):.2f}")
    else:
        lines = [json.dumps([f"{type(a).__name__}{a!r}" for a in engine.handle(msg, msg.received_at)]) for msg in msgs]
        lines += [f"{unit} {json.dumps(engine.unit_state(unit))}" for unit in sorted(engine.take_dirty())]
        Path(args.out or "rules_cpu.dump").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"messages {len(msgs)}: " + ", ".join(f"{k} {n}" for k, n in Counter(map(kind, msgs)).most_common()))
    db.dispose()
    if args.db == "postgresql":
        drop_database(pg_name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
