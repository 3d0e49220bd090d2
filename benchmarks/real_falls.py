"""Falls in real people's days (not a test): how soon the rules find a fall in a real home.

The real recordings (scripts/real_homes.py, docs/DETECTION.md "Real recordings") hold no falls:
alone they measure crying wolf. Here each one is copied once per fall: the fall comes 30 s after
a real motion of the home unit (she was home and up), every activity event of the home (motion,
door, water, button) from then until the finder comes 10–14 h later is removed — heartbeats stay —
and the copy is replayed up to the finder. The fall is found when an inactivity alert opens
before the finder; its delay is counted from that last motion. The falls are drawn among the
home unit's motions, so they come when she moves: by day mostly, some on a night's visit to
the bathroom. One fall per copy: each is judged on her real history up to it.

    .venv/bin/python benchmarks/real_falls.py --dir /tmp/real --falls 20 --seed 1 "shipped:" "name:KEY=VALUE,..."

Variants as benchmarks/detection_variants.py's (`PINGAN_` overrides of hub/default_config.yaml).
Last line: `real_falls: found=N/N median_delay_h=X p90_delay_h=X`.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import zoneinfo
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from detection import ACTIVITY_EVENTS  # noqa: E402

from hub.config import Config, load_config  # noqa: E402
from hub.registry.file import load_registry_file, to_snapshot  # noqa: E402
from hub.rules.replay import run_offline  # noqa: E402

HOMES = "kasteren-a,kasteren-b,kasteren-c,mit-d,mit-e,ordonez-a,ordonez-b"
TZ = zoneinfo.ZoneInfo("Asia/Shanghai")  # the converted recordings' community time zone
FALL_AFTER_S = 30.0  # the fall, after her last motion
FOUND_AFTER_H = (10.0, 14.0)  # the finder comes this long after the fall (as the simulated worlds)
DAY_S = 86400.0


@dataclass(frozen=True)
class Fall:
    home: str
    moved_at: float  # her last motion
    found_at: float  # the finder: data resume, the replay stops

    @property
    def at(self) -> float:
        return self.moved_at + FALL_AFTER_S


def read(path: Path) -> list[tuple[float, str, dict[str, object]]]:
    """(receive time, raw line, parsed line) of a recording."""
    out = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = json.loads(raw)
        out.append((float(line["t"]), raw, line))
    return out


def event_type(line: dict[str, object]) -> str | None:
    topic = str(line.get("topic", ""))
    return str(json.loads(str(line["payload"])).get("type")) if topic.endswith("/event") else None


def draw_falls(home: str, lines: list[tuple[float, str, dict[str, object]]], cat: str, n: int, rng: random.Random,
               from_day: float) -> list[Fall]:
    """`n` falls at real motions of the home unit, after `from_day` days, each with its finder."""
    start, end = lines[0][0], lines[-1][0]
    motions = [t for t, _, line in lines if f"/{cat}/" in str(line.get("topic", "")) and event_type(line) == "motion"
               and t >= start + from_day * DAY_S]
    falls = []
    for t in sorted(rng.sample(motions, min(n, len(motions)))):
        found = t + FALL_AFTER_S + rng.uniform(*FOUND_AFTER_H) * 3600
        if found <= end:
            falls.append(Fall(home, t, found))
    return falls


def copy_with_fall(lines: list[tuple[float, str, dict[str, object]]], fall: Fall, devices: set[str], out: Path) -> None:
    """The recording up to the finder, her home's activity events from the fall on removed."""
    with out.open("w", encoding="utf-8") as fh:
        for t, raw, line in lines:
            if t > fall.found_at:
                break
            if t >= fall.at and str(line.get("topic", "")).split("/")[3:4] and event_type(line) in ACTIVITY_EVENTS \
                    and str(line["topic"]).split("/")[3] in devices:
                continue
            fh.write(raw + "\n")
        # the replay's clock must reach the finder: a last heartbeat then
        fh.write(json.dumps({"t": fall.found_at, "topic": f"pingan/v1/dev/{sorted(devices)[0]}/heartbeat",
                             "payload": json.dumps({"ts": fall.found_at, "seq": 4_000_000_000})}) + "\n")


def found_delay(path: Path, registry: object, config: Config, fall: Fall, resident: str) -> float | None:
    """Hours from her last motion to the first inactivity alert opened between the fall and the finder."""
    result = run_offline(path, registry, config)  # type: ignore[arg-type]
    opened = [a.opened_at for a in result.alerts
              if a.resident == resident and a.kind.value == "inactivity" and fall.at - 60 <= a.opened_at <= fall.found_at]
    return (min(opened) - fall.moved_at) / 3600 if opened else None


def local(t: float) -> str:
    return datetime.fromtimestamp(t, TZ).strftime("%m-%d %H:%M")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/real"), help="the converted recordings and registries")
    parser.add_argument("--homes", default=HOMES)
    parser.add_argument("--falls", type=int, default=20, help="falls per home")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--from-day", type=float, default=1.0, help="no fall before this day of the recording")
    parser.add_argument("--details", action="store_true", help="each fall: local time, delay or missed")
    parser.add_argument("variants", nargs="+")
    args = parser.parse_args()
    configs = {}
    for variant in args.variants:
        name, _, pairs = variant.partition(":")
        env = {"PINGAN_" + k: v for k, v in (p.split("=", 1) for p in pairs.split(",") if p)}
        configs[name] = load_config(ROOT / "hub" / "default_config.yaml", environ=env)
    delays: dict[str, list[float | None]] = {name: [] for name in configs}
    print("| home | rules | falls found | median delay (h) | p90 (h) | missed (local time of the fall) |")
    print("| --- | --- | ---: | ---: | ---: | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        for home in args.homes.split(","):
            rec = args.dir / f"{home}.jsonl"
            reg = to_snapshot(load_registry_file(Path(f"{rec}.registry.yaml")))
            [resident] = reg.residents
            devices = {d.id for d in reg.devices.values() if d.resident == resident}
            cat = next(d.id for d in reg.devices.values() if d.resident == resident and d.kind.value == "pingan_cat")
            lines = read(rec)
            falls = draw_falls(home, lines, cat, args.falls, random.Random(f"{home}:{args.seed}"), args.from_day)
            per: dict[str, list[float | None]] = {name: [] for name in configs}
            for k, fall in enumerate(falls):
                path = Path(tmp) / f"{home}-{k}.jsonl"
                copy_with_fall(lines, fall, devices, path)
                for name, config in configs.items():
                    per[name].append(found_delay(path, reg, config, fall, resident))
                    if args.details:
                        d = per[name][-1]
                        print(f"  {home} {name} fall {local(fall.at)}: {'missed' if d is None else f'{d:.2f} h'}", flush=True)
                path.unlink()
            for name in configs:
                print(row(home, name, per[name], [f for f, d in zip(falls, per[name], strict=True) if d is None]), flush=True)
                delays[name] += per[name]
    for name in configs:
        print(row("all", name, delays[name], []))
    for name, d in delays.items():
        found = [x for x in d if x is not None]
        print(f"real_falls: rules={name} found={len(found)}/{len(d)} median_delay_h={statistics.median(found):.2f} "
              f"p90_delay_h={_p90(found):.2f}")


def row(home: str, name: str, delays: list[float | None], missed: list[Fall]) -> str:
    found = [x for x in delays if x is not None]
    median = f"{statistics.median(found):.2f}" if found else "-"
    return (f"| {home} | {name} | {len(found)}/{len(delays)} | {median} | {_p90(found):.2f} | "
            f"{', '.join(local(f.at) for f in missed)} |")


def _p90(values: list[float]) -> float:
    return sorted(values)[int(0.9 * (len(values) - 1))] if values else float("nan")


if __name__ == "__main__":
    main()
