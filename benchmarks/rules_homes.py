"""The rules' instructions on whole homes (not a test): recordings replayed through `Engine.handle`
and the ticks between messages, as `run_offline` does, each with the registry beside it.

    PYTHONHASHSEED=0 PYTHONPATH=<checkout> valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=cg.NAME \
        .venv/bin/python benchmarks/rules_homes.py handle|save --instrument REC...
    PYTHONHASHSEED=0 PYTHONPATH=<checkout> .venv/bin/python benchmarks/rules_homes.py dump OUT REC...

`benchmarks/rules_cpu.py` measures one message a device, the load generator's mix: no resident is
heard twice in an evening there, so a rule that keeps an answer per resident never finds it kept,
and the learned histories are empty. Real and simulated homes (`REC.registry.yaml` beside each
recording, as `pingan replay --offline` reads them) have both. The messages are interpreted before
the measure; the collector as `pingan serve` sets it. `handle`: the replay (`--instrument`:
callgrind's instrumentation on around it only); `save`: the replay unmeasured, then
`Engine.unit_state` of every unit of the engine, `--rounds` times; `dump OUT`: every action and
the units' states at the end, to compare checkouts (the same file: the same decisions).
PYTHONPATH picks the checkout whose code runs.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
from collections import Counter
from pathlib import Path

import hub
from alerts.engine import Engine
from devices import DeviceMessage, interpret
from hub.config import load_config
from hub.registry.file import load_registry_file, to_snapshot
from hub.rules.replay import _lines, _payload


def callgrind(on: bool) -> None:
    subprocess.run(["callgrind_control", "-i", "on" if on else "off", str(os.getpid())], check=True, capture_output=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=["handle", "save", "dump"])
    parser.add_argument("recordings", nargs="+", help="dump: the output file first")
    parser.add_argument("--rounds", type=int, default=20, help="save: unit_state of every unit this many times")
    parser.add_argument("--instrument", action="store_true", help="under callgrind --instr-atstart=no")
    args = parser.parse_args()
    out_path = Path(args.recordings.pop(0)) if args.mode == "dump" else None
    config = load_config(Path(hub.__file__).parent / "default_config.yaml", environ={})  # the checkout's own
    out: list[str] = []
    messages = unit_states = 0
    for recording in map(Path, args.recordings):
        engine = Engine(to_snapshot(load_registry_file(recording.with_name(recording.name + ".registry.yaml"))),
                        config.rules, config.alerts)
        items = []
        for line in _lines(recording, Counter()):
            raw = _payload(line)
            if line.truth is not None or line.topic is None or raw is None:
                continue
            msg = interpret(line.topic, raw, line.t, config.mqtt.topic_root)
            if isinstance(msg, DeviceMessage):
                items.append((line.t, msg))
        gc.collect()
        gc.freeze()
        gc.set_threshold(20_000, 20, 20)  # as pingan/serve.py
        measure = args.instrument and args.mode == "handle"
        if measure:
            callgrind(True)
        for now, msg in items:
            while (due := engine.next_deadline()) is not None and due < now:
                actions = engine.tick(due)
                if out_path:
                    out.append(json.dumps([f"{type(a).__name__}{a!r}" for a in actions]))
            actions = engine.handle(msg, now)
            if out_path:
                out.append(json.dumps([f"{type(a).__name__}{a!r}" for a in actions]))
        if measure:
            callgrind(False)
        messages += len(items)
        if args.mode == "save":
            units = sorted(set(engine._ctx.residents) | {engine.unit_of(d) for d in engine._ctx.devices})
            if args.instrument:
                callgrind(True)
            for _ in range(args.rounds):
                for unit in units:
                    engine.unit_state(unit)
            if args.instrument:
                callgrind(False)
            unit_states += args.rounds * len(units)
        if out_path:
            out += [f"{unit} {json.dumps(engine.unit_state(unit))}" for unit in sorted(engine.take_dirty())]
        gc.unfreeze()
    if out_path:
        out_path.write_text("\n".join(out) + "\n", encoding="utf-8")
    print(f"messages {messages}" + (f" unit_states {unit_states}" if args.mode == "save" else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
