"""Detection quality benchmark (not a test): the rules against injected incidents on harsh
simulated worlds, next to a fixed-threshold baseline scored on the same files.

    .venv/bin/python benchmarks/detection.py [--profiles field,gps,devices,nights,sparse,ours]
        [--seeds 1,2] [--residents 60] [--days 14] [--workdir DIR] [--details]
    .venv/bin/python benchmarks/detection.py --profiles rooms,irregular,pets,falls,long

The default profiles are the first round's; the harsher ones (`rooms`, `irregular`, `pets`,
`falls`, `long`, `clocks`: device clocks hours behind or reset to 2000, `leaks`: a running cistern) and `habits` (a world whose days are planned by simulators/habits.py, not by
our routines.py: elderly people in Chinese cities) and `harbin` (simulators/harbin.py, a world written without
reading the rules: a Harbin winter) and `lingnan` (simulators/lingnan.py, written the same way: a Guangzhou summer) and `shanghai` (simulators/shanghai.py, the same way:
a Shanghai spring, its own safe zones in its registry) and `sichuan` (simulators/sichuan.py, the same way: a winter
in the Sichuan hills, its own safe zones) are selected by name. A profile with its own length (`long`: 28 days) runs
that long whatever `--days` says.

For every profile and seed:
1. Simulates the world into DIR (default: a temp dir; a recording of the same name is reused).
   `field`, `gps`, `devices`, `nights`, `sparse` are `simulators.field` profiles (field devices:
   still-tag scatter and multipath, dead home units, Wi-Fi outages, drifting clocks, replaced
   units, homes without a door sensor or tag, sleep-ins, naps, night falls, visitors, ...);
   `rooms`, `irregular`, `pets`, `falls`, `long` the harsher ones (one home unit that sees part
   of the home, night owls and irregular nights, 3 h naps, bedridden spells, pets, door sensors
   that miss openings, falls at any hour and right after coming home, 28 days);
   `ours` is the ordinary `pingan simulate` community with random incidents.
2. Replays it offline (`hub.rules.replay.run_offline`, what `pingan replay --offline FILE --config C`
   runs) with the shipped configuration, hub/default_config.yaml (twice: the alerts must be the same) and with the fixed-threshold
   baseline (benchmarks/detection/baseline.yaml: no motion for 5 h day and night, exit on the
   first outside fix of any accuracy).
3. Scores each run against the truth lines of alert kinds with `hub.rules.replay.match` (truth lines
   of kind `fault` are context, not incidents): incidents found / injected, false alerts per
   home-week, and the median inactivity delay from the resident's last movement (the newest
   activity event or moving GPS fix before the fall, receive time). A fall counts as found when
   an alert opens within 24 h of it (`match`), even after someone found her; where the world's
   truth line says when that was (`found_after_h`: the blind worlds), the last column counts the
   falls whose alert came before the finder.

Overrides: a profile `name+key=value+key=value` (or `--set key=value,key=value` for every profile
of the run) is the named world with those `simulators.field.Profile` knobs changed, a tuple as
`low:high` — the same random streams, so only the knobs differ (e.g. a sweep of the still tag's
scatter: `--profiles field+scatter_m=400+fix_reach=3,field+indoor_jump=0.05`). Its recording is
named after the whole spec (`field+scatter_m=400+fix_reach=3-60r-14d-s1.jsonl`), never after the
base profile. docs/DETECTION.md "Field physics" lists the knobs and a sweep.

Prints one row per profile and seed for config.yaml and one for the baseline, then a total
per profile; the last line is `detection: found=N/M false_per_home_week=X
median_inactivity_delay_h=Y same_alerts=yes|no` over all config.yaml runs.
"""

from __future__ import annotations

import argparse
import math
import os
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
from simulators.field import PROFILES, FieldSimulation, Profile, with_overrides  # noqa: E402
from simulators.habits import HABITS, HabitsSimulation  # noqa: E402
from simulators.harbin import HARBIN, HarbinSimulation, HarbinWorld  # noqa: E402
from simulators.lingnan import LINGNAN, LingnanSimulation, LingnanWorld  # noqa: E402
from simulators.shanghai import SHANGHAI, ShanghaiSimulation, ShanghaiWorld  # noqa: E402
from simulators.sichuan import SICHUAN, SichuanSimulation, SichuanWorld  # noqa: E402

BASELINE = ROOT / "benchmarks" / "detection" / "baseline.yaml"
KINDS = ("inactivity", "geofence_exit", "sos", "sos_cancelled", "device_offline", "low_battery")
ALERT_KINDS = ("inactivity", "geofence_exit", "sos", "device_offline", "low_battery")
ACTIVITY_EVENTS = frozenset({"motion", "door_open", "door_close", "water_flow", "button"})
FIRST_ROUND = ("field", "gps", "devices", "nights", "sparse")  # the default set; the harsher profiles by name
WORLDS = {**PROFILES, HABITS.name: HABITS}  # habits: simulators/habits.py's own day planner
BLIND_WORLDS = {HARBIN.name: HARBIN, LINGNAN.name: LINGNAN, SHANGHAI.name: SHANGHAI, SICHUAN.name: SICHUAN}  # written
# without reading the rules (simulators/harbin.py, lingnan.py, shanghai.py, sichuan.py): no Profile knobs
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
    finder_falls: int = 0  # falls whose truth line says when someone found her ...
    before_finder: int = 0  # ... and of them, found by an alert before that
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
        if truth.kind == "inactivity" and truth.found_after_s is not None:
            out.finder_falls += 1
            out.before_finder += m.alert is not None and m.alert.opened_at <= truth.t + truth.found_after_s
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
    """For every inactivity truth line: when the resident last moved before it (receive time)."""
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
                newest[rid] = max(line.t, newest.get(rid, line.t))  # receive time: device clocks drift
    return out


def world(spec: str) -> Profile | HarbinWorld | LingnanWorld | ShanghaiWorld | SichuanWorld | None:
    """The profile a spec names: `name` or `name+key=value+...` (None for `ours`); ValueError if unknown."""
    name, *pairs = spec.split("+")
    if name == "ours" and not pairs:
        return None
    if name in BLIND_WORLDS:
        if pairs:
            raise ValueError(f"profile {name!r} has no knobs to override")
        return BLIND_WORLDS[name]
    if name not in WORLDS:
        raise ValueError(f"unknown profile {name!r} (known: {', '.join([*WORLDS, *BLIND_WORLDS, 'ours'])})")
    return with_overrides(WORLDS[name], pairs) if pairs else WORLDS[name]


def with_set(specs: list[str], pairs: str | None) -> list[str]:
    """`--set k=v,k=v`: append the overrides to every profile's spec."""
    if not pairs:
        return specs
    return ["+".join([spec, *(p.strip() for p in pairs.split(",") if p.strip())]) for spec in specs]


def profile_days(profile: str, days: float) -> float:
    """The profile's own length if it has one (`long`), else `--days`."""
    own = world(profile)
    return (own.days if own is not None else None) or days


def simulate(workdir: Path, profile: str, residents: int, days: float, seed: int) -> tuple[Path, Path]:
    days = profile_days(profile, days)
    recording = workdir / f"{profile}-{residents}r-{days:g}d-s{seed}.jsonl"  # an overridden profile: its whole spec
    registry = recording.with_name(recording.name + ".registry.yaml")
    if recording.exists() and registry.exists():
        return recording, registry
    chosen = world(profile)
    sim: Simulation | HarbinSimulation | LingnanSimulation | ShanghaiSimulation | SichuanSimulation
    if chosen is None:
        sim = Simulation(SimConfig(residents=residents, days=days, seed=seed))
    elif isinstance(chosen, HarbinWorld):
        sim = HarbinSimulation(residents, days, seed)
    elif isinstance(chosen, LingnanWorld):
        sim = LingnanSimulation(residents, days, seed)
    elif isinstance(chosen, ShanghaiWorld):
        sim = ShanghaiSimulation(residents, days, seed)
    elif isinstance(chosen, SichuanWorld):
        sim = SichuanSimulation(residents, days, seed)
    elif chosen.name == HABITS.name:
        sim = HabitsSimulation(residents, days, seed, profile=chosen)
    else:
        sim = FieldSimulation(chosen, residents, days, seed)
    # written under temporary names, then renamed: a second run sharing the workdir never reads half a file
    partial = recording.with_name(f".{recording.name}.{os.getpid()}")
    write_recording(sim, partial)
    text = sim.registry_yaml() if isinstance(sim, ShanghaiSimulation | SichuanSimulation) else registry_yaml(sim.community)  # own zones
    registry.with_name(partial.name + ".registry").write_text(text, encoding="utf-8")
    partial.with_name(partial.name + ".registry").replace(registry)
    partial.replace(recording)
    return recording, registry


def fmt(seconds: float | None, unit: float = 60.0) -> str:
    return "-" if seconds is None else f"{seconds / unit:.1f}"


def row(profile: str, seed: str, name: str, s: Score, same: str) -> str:
    return (f"| {profile} | {seed} | {name} | {sum(s.found.values())}/{sum(s.incidents.values())} | "
            f"{s.found['inactivity']}/{s.incidents['inactivity']} | {sum(s.false.values())} | {s.false_per_home_week:.3f} | "
            f"{fmt(percentile(s.since_movement, 50), 3600)} | {fmt(percentile(s.since_movement, 90), 3600)} | {same} | "
            f"{f'{s.before_finder}/{s.finder_falls}' if s.finder_falls else '-'} |")


HEADER = ("| profile | seed | rules | found / injected | falls found | false alerts | false / home-week | "
          "inactivity delay from last movement, median (h) | p90 (h) | same alerts twice | falls found before the finder |\n"
          "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |")


def merge(name: str, scores: list[Score]) -> Score:
    out = Score(name)
    for s in scores:
        out.incidents.update(s.incidents)
        out.found.update(s.found)
        out.false.update(s.false)
        out.since_movement += s.since_movement
        out.finder_falls += s.finder_falls
        out.before_finder += s.before_finder
        out.home_weeks += s.home_weeks
        out.missed_detail += s.missed_detail
        out.false_detail += s.false_detail
    return out


def run_one(profile: str, seed: int, args: argparse.Namespace, workdir: Path, configs: dict[str, Config]) -> dict[str, Score]:
    recording, registry_file = simulate(workdir, profile, args.residents, args.days, seed)
    registry = to_snapshot(load_registry_file(registry_file))
    moved = last_movements(recording, {d.id: d.resident for d in registry.devices.values() if d.resident})
    scores: dict[str, Score] = {}
    for name, config in configs.items():
        result = run_offline(recording, registry, config)
        scores[name] = score(name, result, len(registry.residents), moved)
        if name == "config":
            again = run_offline(recording, registry, config)
            scores[name].seconds = 1.0 if again.json_lines() == result.json_lines() else 0.0  # 1: same alerts
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", default=",".join([*FIRST_ROUND, "ours"]))
    parser.add_argument("--seeds", default="1,2")
    parser.add_argument("--residents", type=int, default=60)
    parser.add_argument("--days", type=float, default=14)
    parser.add_argument("--workdir", type=Path, default=None, help="where the recordings go (default: a temp dir)")
    parser.add_argument("--details", action="store_true", help="list missed incidents and false alerts")
    parser.add_argument("--set", default=None, help="key=value,...: simulators.field.Profile knobs changed on every profile")
    args = parser.parse_args()
    args.profiles = ",".join(with_set(args.profiles.split(","), args.set))
    for spec in args.profiles.split(","):
        try:
            world(spec)
        except (ValueError, TypeError) as exc:
            parser.error(f"--profiles: {exc}")
    configs = {"config": load_config(ROOT / "hub" / "default_config.yaml", environ={}), "baseline": load_config(BASELINE, environ={})}
    began = time.perf_counter()
    totals: dict[str, list[Score]] = {"config": [], "baseline": []}
    same_all = True
    with tempfile.TemporaryDirectory(prefix="detection-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        print(HEADER, flush=True)
        for profile in args.profiles.split(","):
            per: dict[str, list[Score]] = {"config": [], "baseline": []}
            for seed in (int(x) for x in args.seeds.split(",")):
                scores = run_one(profile, seed, args, workdir, configs)
                same = scores["config"].seconds == 1.0
                same_all &= same
                for name, s in scores.items():
                    per[name].append(s)
                    print(row(profile, str(seed), name, s, ("yes" if same else "NO") if name == "config" else ""), flush=True)
                    if args.details and name == "config":
                        print("\n".join([f"  missed: {m}" for m in s.missed_detail] + [f"  false: {f}" for f in s.false_detail]), flush=True)
            for name in per:
                merged = merge(name, per[name])
                totals[name].append(merged)
                print(row(profile, "all", f"**{name}**", merged, ""), flush=True)
    main_score = merge("config", totals["config"])
    median_h = percentile(main_score.since_movement, 50)
    print(f"elapsed {time.perf_counter() - began:.0f} s")
    print(f"detection: found={sum(main_score.found.values())}/{sum(main_score.incidents.values())} "
          f"false_per_home_week={main_score.false_per_home_week:.4f} "
          f"median_inactivity_delay_h={'-' if median_h is None else f'{median_h / 3600:.2f}'} same_alerts={'yes' if same_all else 'no'}")


if __name__ == "__main__":
    main()
