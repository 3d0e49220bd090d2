"""Where the median inactivity delay comes from: every fall found, by the allowance that found it.

    .venv/bin/python benchmarks/delay_by_basis.py --profiles field,gps,... --seeds 1,2 --workdir /tmp/det [--jobs N]

For each world and seed (recorded as benchmarks/detection.py records them), replays with the shipped
config and, for every inactivity incident found, takes the delay from her last movement (as
detection.py measures it) and the `basis` of the alert that found it (night, nap, day_door,
learned_day, day, ...; an away alert by its reason code). Prints one row per basis (falls, median
delay, how many within 2.5 h) and per hour of the last movement, then the overall median.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import detection  # noqa: E402

from hub.config import load_config  # noqa: E402
from hub.registry.file import load_registry_file, to_snapshot  # noqa: E402
from hub.rules.replay import match, run_offline  # noqa: E402

GOAL_H = 2.5  # issue 15: median delay after the last movement


def found_falls(profile: str, seed: int, workdir: Path, zone: ZoneInfo) -> list[tuple[int, float, str]]:
    """(local hour of the last movement, delay in hours, basis) for every fall found."""
    recording, registry_file = detection.simulate(workdir, profile, 60, 14, seed)
    registry = to_snapshot(load_registry_file(registry_file))
    moved = detection.last_movements(recording, {d.id: d.resident for d in registry.devices.values() if d.resident})
    result = run_offline(recording, registry, load_config(ROOT / "hub" / "default_config.yaml", environ={}))
    rows = []
    for m in match(result.alerts, result.truths)[0]:
        last = moved.get((m.truth.resident, m.truth.t))
        if m.truth.kind != "inactivity" or m.alert is None or last is None:
            continue
        why = m.alert.reason
        basis = str(why.params.get("basis") or why.code.value)
        rows.append((datetime.fromtimestamp(last, zone).hour, (m.alert.opened_at - last) / 3600, basis))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", default=",".join(detection.WORLDS))
    parser.add_argument("--seeds", default="1,2")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/det"))
    parser.add_argument("--timezone", default="Asia/Shanghai")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="recordings replayed at once")
    args = parser.parse_args()
    profiles = [p for p in args.profiles.split(",") for _ in args.seeds.split(",")]
    seeds = [int(s) for _ in args.profiles.split(",") for s in args.seeds.split(",")]
    with ProcessPoolExecutor(args.jobs) as pool:
        results = pool.map(found_falls, profiles, seeds, [args.workdir] * len(seeds), [ZoneInfo(args.timezone)] * len(seeds))
        rows = [row for result in results for row in result]
    by_basis: dict[str, list[float]] = defaultdict(list)
    by_hour: dict[int, list[float]] = defaultdict(list)
    for hour, delay, basis in rows:
        by_basis[basis].append(delay)
        by_hour[hour].append(delay)
    print("| basis | falls | median (h) | within 2.5 h |\n| --- | ---: | ---: | ---: |")
    for basis, delays in sorted(by_basis.items(), key=lambda item: -len(item[1])):
        print(f"| {basis} | {len(delays)} | {statistics.median(delays):.2f} | {sum(d <= GOAL_H for d in delays)} |")
    print("\nlast movement (local hour): falls, median (h)")
    print(", ".join(f"{h:02d}: {len(d)}, {statistics.median(d):.1f}" for h, d in sorted(by_hour.items())))
    if rows:
        print(f"delay_by_basis: falls={len(rows)} median_h={statistics.median(d for _, d, _ in rows):.2f} "
              f"within_goal={sum(d <= GOAL_H for _, d, _ in rows)}")


if __name__ == "__main__":
    main()
