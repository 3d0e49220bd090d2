"""The replay of benchmarks/rules.py, small and alone, for counting its instructions (not a test).

A loaded machine's wall clock cannot tell a 5 % difference; instruction counts can (they do not
depend on the load). Run each part under callgrind, once with `--setup-only`, and subtract:

    python benchmarks/rules_cost.py --write /tmp/load.jsonl --residents 200 --hours 6
    PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.%p \\
        python benchmarks/rules_cost.py --read /tmp/load.jsonl --residents 200 --part whole [--setup-only]

`--part whole` is `run_offline` with the checkout's own hub/default_config.yaml (parsing, `devices.interpret`, the
engine, ticks); `--part engine` is `engine_only` (messages parsed beforehand, `RulesConfig()`),
`--part engine-hub` the same with the hub's default rules. `--setup-only` does everything but
the replay (imports, config, registry, the parsed messages, the engine built), so the
difference of the two counts is the replay's. Point PYTHONPATH at another checkout to count its
code on the same recording.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rules import generate, registry  # benchmarks/rules.py, beside this script

import hub
from alerts.config import AlertsConfig, RulesConfig
from alerts.engine import Engine
from devices import DeviceMessage, interpret
from hub.config import load_config
from hub.rules.replay import _DECODE, run_offline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=200)
    parser.add_argument("--hours", type=int, default=6)
    parser.add_argument("--write", type=Path, help="generate the recording into this file and stop")
    parser.add_argument("--read", type=Path, help="the recording to replay")
    parser.add_argument("--part", choices=("whole", "engine", "engine-hub"), default="whole")
    parser.add_argument("--setup-only", action="store_true")
    args = parser.parse_args()
    if args.write:
        print(f"{generate(args.write, args.residents, args.hours)} lines")
        return
    config = load_config(Path(hub.__file__).parent / "default_config.yaml", environ={})  # the checkout's own
    reg = registry(args.residents)
    if args.part == "whole":
        if not args.setup_only:
            result = run_offline(args.read, reg, config)
            print(result.summary["alerts"], "alerts")
        return
    msgs = []
    for raw in args.read.read_bytes().splitlines():
        line = _DECODE(raw)
        msg = interpret(line.topic or "", (line.payload or "").encode(), line.t)
        if isinstance(msg, DeviceMessage):
            msgs.append(msg)
    rules = RulesConfig() if args.part == "engine" else config.rules
    engine = Engine(reg, rules, AlertsConfig())
    if args.setup_only:
        return
    actions = 0
    for msg in msgs:
        now = msg.received_at
        while (due := engine.next_deadline()) is not None and due < now:
            actions += len(engine.tick(due))
        actions += len(engine.handle(msg, now))
    print(len(msgs), "messages", actions, "actions")


if __name__ == "__main__":
    main()
