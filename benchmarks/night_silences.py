"""Residents' nights in a recording (not a test): each evening's silences, and who gets up at night.

    .venv/bin/python benchmarks/night_silences.py /tmp/det/falls-60r-14d-s1.jsonl --residents r-0041,r-0020
    .venv/bin/python benchmarks/night_silences.py /tmp/det/falls-60r-14d-s1.jsonl /tmp/real/*.jsonl --share

Activity is what the detection benchmark counts as movement (motion, door, water, button; the
resident's devices by the registry beside the recording), at receive time, local time of the
community (Asia/Shanghai). `--residents`: per resident her truth lines and, per evening, every
silence of `--min` minutes (45) or more that began 17:00-09:00, with the event that ended it
(docs/DETECTION.md "Evening falls (session 14)"). `--share`: per recording, how many residents
with 7 or more nights at home (silences of an hour or more begun 20:00-05:00 adding up to 5 h)
get up on what share of their nights — a night with a silence of an hour or more that ended
before 05:00 and was followed within 30 min by another.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import sys
import zoneinfo
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import detection as d  # noqa: E402

from hub.registry.file import load_registry_file, to_snapshot  # noqa: E402

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")


def read(rec: Path) -> tuple[dict[str, list[tuple[float, str]]], dict[str, list[tuple[float, dict[str, str]]]], dict[str, set[str]]]:
    """Per resident: (receive time, device kind:event) of her activity, her truth lines, her device kinds."""
    reg = to_snapshot(load_registry_file(Path(str(rec) + ".registry.yaml")))
    dev = {x.id: (x.resident, x.kind.value) for x in reg.devices.values() if x.resident}
    acts: dict[str, list[tuple[float, str]]] = defaultdict(list)
    truths: dict[str, list[tuple[float, dict[str, str]]]] = defaultdict(list)
    kinds: dict[str, set[str]] = defaultdict(set)
    for rid, kind in dev.values():
        kinds[rid].add(kind)
    with rec.open("rb") as fh:
        for raw in fh:
            if b'"truth"' in raw:
                line = json.loads(raw)
                truths[line["truth"].get("resident", "")].append((line["t"], line["truth"]))
                continue
            if b"/event" not in raw:
                continue
            parsed = d._LINE(raw)
            if parsed.topic is None or parsed.payload is None:
                continue
            device = parsed.topic.partition("/dev/")[2].partition("/")[0]
            payload = d._PAYLOAD(parsed.payload.encode())
            if device in dev and payload.type in d.ACTIVITY_EVENTS:
                acts[dev[device][0]].append((parsed.t, f"{dev[device][1]}:{payload.type}"))
    for events in acts.values():
        events.sort()
    return acts, truths, kinds


def _at(t: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(t, TZ)


def listing(rec: Path, residents: list[str], minutes: float) -> None:
    acts, truths, kinds = read(rec)
    for rid in residents:
        print("==", rid, "devices:", sorted(kinds[rid]))
        for t, truth in truths[rid]:
            print("  truth", f"{_at(t):%m-%d %H:%M}", truth)
        evening = None
        for (t0, _), (t1, what) in itertools.pairwise(acts[rid]):
            hour = _at(t0).hour
            if (t1 - t0) / 60 >= minutes and (hour >= 17 or hour < 9):
                day = f"{_at(t0 - 12 * 3600):%m-%d}"
                if day != evening:
                    print(f"\n  eve {day}:", end="")
                    evening = day
                print(f"  [{_at(t0):%H:%M}-{_at(t1):%H:%M} {(t1 - t0) / 3600:.1f}h {what}]", end="")
        print()


def share(rec: Path) -> None:
    acts, _, _ = read(rec)
    deciles: dict[int, int] = defaultdict(int)
    counted, most = 0, []
    for rid, events in acts.items():
        nights: dict[datetime.date, list[tuple[float, float]]] = defaultdict(list)
        times = [t for t, _ in events]
        for t0, t1 in itertools.pairwise(times):
            if t1 - t0 >= 3600 and (_at(t0).hour >= 20 or _at(t0).hour < 5):
                nights[_at(t0 - 12 * 3600).date()].append((t0, t1))
        rows = []
        for spells in nights.values():
            if sum(t1 - t0 for t0, t1 in spells) < 5 * 3600:
                continue  # not a night at home
            rows.append(any(0 <= b[0] - a[1] < 1800 and _at(a[1]).hour < 5 for a, b in itertools.pairwise(spells)))
        if len(rows) < 7:
            continue
        counted += 1
        up = sum(rows) / len(rows)
        deciles[min(9, int(up * 10))] += 1
        if up >= 0.9:
            most.append(rid)
    print(f"{rec.name}: {counted} residents with 7+ nights; share of nights up by tenths {dict(sorted(deciles.items()))}; "
          f"90 % or more: {most or 'none'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recordings", nargs="+", type=Path)
    parser.add_argument("--residents", default=None, help="r-0001,r-0002: list their evenings")
    parser.add_argument("--min", type=float, default=45, help="shortest silence listed (minutes)")
    parser.add_argument("--share", action="store_true", help="who gets up on what share of nights")
    args = parser.parse_args()
    for rec in args.recordings:
        if args.residents:
            listing(rec, args.residents.split(","), args.min)
        if args.share:
            share(rec)


if __name__ == "__main__":
    main()
