"""Detection quality benchmark (not a test): the rules against injected incidents, next to a
fixed-threshold baseline, on one simulated community.

    .venv/bin/python benchmarks/detection.py [--residents 200] [--days 30] [--seed 1]
        [--workdir DIR] [--configs rules,baseline,routine] [--details]

1. Simulates the community (`pingan simulate --residents N --days D --seed S --out FILE`, with
   random incidents and their ground truth) into DIR (default: a temp dir; an existing
   recording of the same name is reused).
2. Replays it offline (`hub.rules.replay.run_offline`, what `pingan replay --offline FILE --config C`
   runs) with each configuration: `config` = config.yaml as shipped (learned routine on,
   `min_factor: 0.4`), `rules` = the same with the routine off (PRODUCT.md's fixed thresholds),
   `baseline` = benchmarks/detection/baseline.yaml (fixed thresholds: 5 h without motion day
   and night, exit on the first outside fix of any accuracy), `routine` = config.yaml with
   `min_factor: 0.5`.
3. Scores each run against the truth lines with `hub.rules.replay.match` (as `pingan replay` does):
   incidents found / missed per kind (a cancelled SOS counts as found by an sos alert resolved
   `cancelled`), false alerts per home-week per kind, detection delays (median, p90, nearest
   rank) from the incident's start and, for inactivity, from the resident's last movement (the
   newest activity event or moving GPS fix before the fall).

Prints one table per configuration; the last line is
`detection: found=N/M false_per_home_week=X median_inactivity_delay_h=Y` for config.yaml.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.config import Config, load_config  # noqa: E402
from hub.registry.file import load_registry_file, to_snapshot  # noqa: E402
from hub.rules.replay import WEEK_S, ReplayResult, match, percentile, run_offline  # noqa: E402
from simulators.community import registry_yaml  # noqa: E402
from simulators.engine import SimConfig, Simulation, write_recording  # noqa: E402

BASELINE = ROOT / "benchmarks" / "detection" / "baseline.yaml"
KINDS = ("inactivity", "geofence_exit", "sos", "sos_cancelled", "device_offline", "low_battery")
ALERT_KINDS = ("inactivity", "geofence_exit", "sos", "device_offline", "low_battery")
ACTIVITY_EVENTS = frozenset({"motion", "door_open", "door_close", "water_flow", "button"})
MOVING_SPEED_MS = 0.5  # as alerts/rules/geofence.py: a fix at this speed is movement


class _Line(msgspec.Struct):
    t: float
    topic: str | None = None
    payload: str | None = None
    truth: dict[str, str] | None = None


class _Payload(msgspec.Struct):
    ts: float | None = None
    type: str | None = None
    speed: float | None = None


_LINE = msgspec.json.Decoder(_Line).decode
_PAYLOAD = msgspec.json.Decoder(_Payload).decode


@dataclass
class Score:
    name: str
    incidents: Counter[str] = field(default_factory=Counter)
    found: Counter[str] = field(default_factory=Counter)
    delays: dict[str, list[float]] = field(default_factory=dict)
    since_movement: list[float] = field(default_factory=list)
    false: Counter[str] = field(default_factory=Counter)
    home_weeks: float = 0.0
    seconds: float = 0.0
    missed_detail: list[str] = field(default_factory=list)
    false_detail: list[str] = field(default_factory=list)

    @property
    def false_per_home_week(self) -> float:
        return sum(self.false.values()) / self.home_weeks if self.home_weeks else math.nan


def score(name: str, result: ReplayResult, homes: int, last_movement: dict[tuple[str, float], float]) -> Score:
    """hub.rules.replay's matching (incidents in time order, each to the first unused alert that
    answers it), plus the inactivity delay from the last movement and the details."""
    out = Score(name, home_weeks=homes * result.summary["span_s"] / WEEK_S)
    matches, false = match(result.alerts, result.truths)
    for m in matches:
        truth = m.truth
        out.incidents[truth.kind] += 1
        if m.alert is None or m.delay_s is None:
            out.missed_detail.append(f"{truth.kind} {truth.resident} at {truth.t:.0f}")
            continue
        out.found[truth.kind] += 1
        out.delays.setdefault(truth.kind, []).append(m.delay_s)
        moved = last_movement.get((truth.resident, truth.t))
        if truth.kind == "inactivity" and moved is not None:
            out.since_movement.append(m.alert.opened_at - moved)
    for alert in false:
        out.false[alert.kind.value] += 1
        out.false_detail.append(f"{alert.kind.value} {alert.severity.value} {alert.resident} {alert.device or '-'} "
                                f"at {alert.opened_at:.0f} ({alert.outcome.value if alert.outcome else 'open'}): {alert.reason}")
    return out


def last_movements(recording: Path, device_resident: dict[str, str]) -> dict[tuple[str, float], float]:
    """For every inactivity truth line: the device time of the resident's newest movement before it."""
    newest: dict[str, float] = {}
    out: dict[tuple[str, float], float] = {}
    with recording.open("rb") as fh:
        for raw in fh:
            if b'"truth"' in raw:
                line = _LINE(raw)
                assert line.truth is not None
                fallen = line.truth.get("resident", "")
                if line.truth.get("kind") == "inactivity" and fallen in newest:
                    out[(fallen, line.t)] = newest[fallen]
                continue
            if b"/event" not in raw and b'speed' not in raw:
                continue
            line = _LINE(raw)
            if line.topic is None or line.payload is None:
                continue
            _, _, rest = line.topic.partition("/dev/")
            device, _, channel = rest.partition("/")
            payload = _PAYLOAD(line.payload.encode())
            moving = (channel == "event" and payload.type in ACTIVITY_EVENTS) or (
                channel == "gps" and payload.speed is not None and payload.speed >= MOVING_SPEED_MS)
            rid = device_resident.get(device)
            if moving and rid is not None:
                at = payload.ts if payload.ts is not None else line.t
                newest[rid] = max(at, newest.get(rid, at))
    return out


def simulate(workdir: Path, residents: int, days: float, seed: int) -> tuple[Path, Path]:
    recording = workdir / f"community-{residents}r-{days:g}d-s{seed}.jsonl"
    registry = recording.with_name(recording.name + ".registry.yaml")
    if recording.exists() and registry.exists():
        print(f"reusing {recording}", flush=True)
        return recording, registry
    began = time.perf_counter()
    sim = Simulation(SimConfig(residents=residents, days=days, seed=seed))
    registry.write_text(registry_yaml(sim.community), encoding="utf-8")
    lines = write_recording(sim, recording)
    print(f"simulated {lines} lines to {recording} in {time.perf_counter() - began:.0f} s", flush=True)
    return recording, registry


def configs(names: list[str]) -> dict[str, Config]:
    known = {
        # config.yaml as shipped: the learned routine allowed down to 0.4 × 6 h (the 2.5 h target)
        "config": lambda: load_config(ROOT / "hub" / "default_config.yaml", environ={}),
        # the fixed thresholds of PRODUCT.md alone
        "rules": lambda: load_config(ROOT / "hub" / "default_config.yaml", environ={"PINGAN_RULES__ROUTINE__ENABLED": "false"}),
        "baseline": lambda: load_config(BASELINE, environ={}),
        "routine": lambda: load_config(ROOT / "hub" / "default_config.yaml", environ={"PINGAN_RULES__ROUTINE__MIN_FACTOR": "0.5"}),
    }
    return {name: known[name]() for name in names}


def fmt(seconds: float | None, unit: float = 60.0) -> str:
    return "-" if seconds is None else f"{seconds / unit:.1f}"


def table(s: Score) -> str:
    rows = [f"## {s.name}  (replay {s.seconds:.0f} s; {s.home_weeks:.1f} home-weeks)",
            "| kind | found | false alerts | false / home-week | delay median (min) | delay p90 (min) |",
            "| --- | --- | --- | --- | --- | --- |"]
    for kind in KINDS:
        delays = s.delays.get(kind, [])
        false = s.false.get(kind, 0) if kind in ALERT_KINDS else None
        rows.append(f"| {kind} | {s.found[kind]}/{s.incidents[kind]} | {'-' if false is None else false} | "
                    f"{'-' if false is None else f'{false / s.home_weeks:.4f}'} | {fmt(percentile(delays, 50))} | {fmt(percentile(delays, 90))} |")
    rows.append(f"| **all** | {sum(s.found.values())}/{sum(s.incidents.values())} | {sum(s.false.values())} | "
                f"{s.false_per_home_week:.4f} | | |")
    rows.append(f"inactivity delay from the last movement: median {fmt(percentile(s.since_movement, 50), 3600)} h, "
                f"p90 {fmt(percentile(s.since_movement, 90), 3600)} h")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=200)
    parser.add_argument("--days", type=float, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None, help="where the recording goes (default: a temp dir)")
    parser.add_argument("--configs", default="config,rules,baseline,routine", help="comma-separated: config, rules, baseline, routine")
    parser.add_argument("--details", action="store_true", help="list missed incidents and false alerts")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="detection-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        recording, registry_file = simulate(workdir, args.residents, args.days, args.seed)
        registry = to_snapshot(load_registry_file(registry_file))
        moved = last_movements(recording, {d.id: d.resident for d in registry.devices.values() if d.resident})
        scores: list[Score] = []
        for name, config in configs(args.configs.split(",")).items():
            began = time.perf_counter()
            result = run_offline(recording, registry, config)
            s = score(name, result, len(registry.residents), moved)
            s.seconds = time.perf_counter() - began
            scores.append(s)
            print(table(s), flush=True)
            if args.details:
                print("\n".join(["missed:", *s.missed_detail, "false:", *s.false_detail]), flush=True)
            print(flush=True)
    main_score = next((s for s in scores if s.name == "config"), scores[0])
    median_h = percentile(main_score.since_movement, 50)
    print(f"detection: found={sum(main_score.found.values())}/{sum(main_score.incidents.values())} "
          f"false_per_home_week={main_score.false_per_home_week:.4f} "
          f"median_inactivity_delay_h={'-' if median_h is None else f'{median_h / 3600:.2f}'}")


if __name__ == "__main__":
    main()
