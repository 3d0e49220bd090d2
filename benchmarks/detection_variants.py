"""Config variants on the detection benchmark's recordings (not a test): one offline replay per
variant and profile/seed, no baseline and no second run — to compare settings quickly.

    .venv/bin/python benchmarks/detection_variants.py --profiles sparse --seeds 1,2 --workdir /tmp/det \
        "shipped:" "three-days:RULES__LEARNED_DAY__MIN_DAYS=3,RULES__INACTIVITY__OUTING_WINDOW=null"

A variant is `name:KEY=VALUE,...` with the keys of a PINGAN_ environment override (without the
prefix) applied to hub/default_config.yaml. Rows as benchmarks/detection.py's; each false alert
with its resident, local start (Asia/Shanghai), allowance and basis. With `--falls`, each found
fall too: resident, door sensor or not, the world's day and local time of the last movement,
the delay from it, and the allowance and basis that found it (docs/DETECTION.md "The delay").
Profiles take overrides as benchmarks/detection.py's (`field+scatter_m=400`, `--set lossy=0.5`).
"""

from __future__ import annotations

import argparse
import datetime
import re
import sys
import zoneinfo
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import detection as d  # noqa: E402

from alerts.registry import RegistrySnapshot  # noqa: E402
from hub.config import load_config  # noqa: E402
from hub.registry.file import load_registry_file, to_snapshot  # noqa: E402
from hub.rules.replay import ReplayResult, match, run_offline  # noqa: E402

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
FALSE = re.compile(r"(\w+) \w+ (r-\d+) - at \d+.*?since=(\d+).*?threshold_s=(\d+) basis=(\w+)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", default="sparse")
    parser.add_argument("--seeds", default="1,2")
    parser.add_argument("--workdir", type=Path, required=True, help="recordings (made there when missing)")
    parser.add_argument("--days", type=float, default=14, help="days a recording (a month: what residents do now and then)")
    parser.add_argument("--falls", action="store_true", help="list each found fall: day, hour, delay, allowance, basis")
    parser.add_argument("--set", default=None, help="key=value,...: simulators.field.Profile knobs changed on every profile")
    parser.add_argument("variants", nargs="+")
    args = parser.parse_args()
    args.profiles = ",".join(d.with_set(args.profiles.split(","), args.set))
    args.workdir.mkdir(parents=True, exist_ok=True)
    print(d.HEADER)
    for profile in args.profiles.split(","):
        for seed in (int(x) for x in args.seeds.split(",")):
            rec, reg_file = d.simulate(args.workdir, profile, 60, args.days, seed)
            reg = to_snapshot(load_registry_file(reg_file))
            moved = d.last_movements(rec, {x.id: x.resident for x in reg.devices.values() if x.resident})
            for variant in args.variants:
                name, _, pairs = variant.partition(":")
                env = {"PINGAN_" + k: v for k, v in (p.split("=", 1) for p in pairs.split(",") if p)}
                config = load_config(ROOT / "hub" / "default_config.yaml", environ=env)
                result = run_offline(rec, reg, config)
                s = d.score(name, result, len(reg.residents), moved)
                print(d.row(profile, str(seed), name, s, ""), flush=True)
                for line in [f"  missed: {m}" for m in s.missed_detail] + [_false(f) for f in s.false_detail]:
                    print(line, flush=True)
                if args.falls:
                    print("\n".join(_falls(result, reg, moved, rec)), flush=True)


def _falls(result: ReplayResult, reg: RegistrySnapshot, moved: dict[tuple[str, float], float], rec: Path) -> list[str]:
    """Each found fall, by delay from the last movement: who, door sensor or not, day of the world, hour, allowance, basis."""
    with rec.open("rb") as fh:
        first_day = datetime.datetime.fromtimestamp(d._LINE(fh.readline()).t, TZ).date()
    doors = {x.resident for x in reg.devices.values() if x.kind.value == "door_sensor"}
    rows = []
    for m in match(result.alerts, result.truths)[0]:
        last = moved.get((m.truth.resident, m.truth.t))
        if m.truth.kind != "inactivity" or m.alert is None or last is None:
            continue
        at, params = datetime.datetime.fromtimestamp(last, TZ), m.alert.reason.params
        rows.append((m.alert.opened_at - last, f"{m.truth.resident} {'door' if m.truth.resident in doors else 'no door'}, "
                     f"day {(at.date() - first_day).days + 1} {at:%H:%M}", params.get("threshold_s") or 0, params.get("basis")))
    return [f"  fall: {who}: {delay / 3600:.2f} h (allowed {allowed / 3600:.2f} h, {basis})" for delay, who, allowed, basis in sorted(rows)]


def _false(detail: str) -> str:
    m = FALSE.search(detail)
    if m is None:
        return f"  false: {detail[:100]}"
    kind, resident, since, threshold, basis = m.groups()
    start = datetime.datetime.fromtimestamp(int(since), TZ)
    return f"  false: {kind} {resident} {start:%m-%d %H:%M} +{int(threshold) / 3600:.1f} h {basis}"


if __name__ == "__main__":
    main()
