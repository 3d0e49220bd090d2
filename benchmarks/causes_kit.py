"""What the three causes scripts (harbin_causes.py, lingnan_causes.py, shanghai_causes.py) share.

Each script knows only its own world: how to rebuild a resident's plan and what caused an alert.
Replaying a seed, reading its recording and printing the tables are the same for every world, so
they live here once and the three scripts cannot drift apart in what they count or print.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for this module and for the world the importing script reads next

from detection import simulate  # noqa: E402

from alerts.actions import Alert  # noqa: E402
from hub.config import load_config  # noqa: E402
from hub.registry.file import load_registry_file, to_snapshot  # noqa: E402
from hub.rules.replay import ReplayResult, Truth, match, run_offline  # noqa: E402
from simulators.engine import LOCAL_TZ  # noqa: E402
from simulators.recording import read_recording  # noqa: E402

MIN, HOUR = 60.0, 3600.0
SINCE = re.compile(r"since=(\d+(?:\.\d+)?)")


def local(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).astimezone(LOCAL_TZ).strftime("%a %d %H:%M")


def clock_hour(t: float) -> float:
    """The local hour of the day, to the minute."""
    moment = datetime.fromtimestamp(t, UTC).astimezone(LOCAL_TZ)
    return moment.hour + moment.minute / 60


def since_of(a: Alert) -> float:
    """When the silence behind an inactivity alert began: its reason's since=, else 6 h before it opened."""
    found = SINCE.search(str(a.reason or ""))
    return float(found.group(1)) if found else a.opened_at - 6 * HOUR


class Recorded:
    """A recording read once: truth lines per resident, message and door-opening times per device."""

    def __init__(self, recording: Path) -> None:
        self.truths: dict[str, list[tuple[float, dict[str, str]]]] = {}
        self.seen: dict[str, list[float]] = {}
        self.doors: dict[str, list[float]] = {}
        for entry in read_recording(recording):
            if isinstance(entry, dict):
                truth = entry["truth"]
                self.truths.setdefault(truth.get("resident", ""), []).append((entry["t"], truth))
                continue
            t, topic, payload = entry
            device = topic.split("/")[3]
            self.seen.setdefault(device, []).append(t)
            if b"door_open" in payload:
                self.doors.setdefault(device, []).append(t)

    def lines_of(self, truth: Truth) -> list[dict[str, str]]:
        """The truth lines the recording wrote for this incident."""
        return [f for t, f in self.truths.get(truth.resident, []) if abs(t - truth.t) < 1 and f["kind"] == truth.kind]

    def detail(self, truth: Truth) -> dict[str, str]:
        """The first truth line of this incident ({} if none)."""
        return next(iter(self.lines_of(truth)), {})

    def last_seen(self, devices: Iterable[str], t: float) -> float:
        """The last message of any of these devices at or before t (t itself if none)."""
        return max((x for d in devices for x in self.seen.get(d, []) if x <= t), default=t)

    def gap(self, device: str, t: float) -> str:
        times = self.seen.get(device, [])
        before = max((x for x in times if x <= t), default=None)
        after = min((x for x in times if x > t), default=None)
        return (f"{device} silent {local(before) if before else '-'}→{local(after) if after else 'end'} "
                f"({((after or t) - (before or t)) / MIN:.0f} min)")


def still_open(alerts: list[Alert], truth: Truth) -> str:
    """Her alerts still open when the incident began (offline replay has no operator to resolve them)."""
    open_ = [a for a in alerts if a.resident == truth.resident and a.opened_at < truth.t
             and (a.resolved_at is None or a.resolved_at > truth.t)]
    return "; ".join(f"her {a.kind.value} alert open since {local(a.opened_at)}" for a in open_) or "no alert of hers open"


def table(counts: Counter[str]) -> str:
    return "\n".join(f"  {n:3d}  {label}" for label, n in counts.most_common())


W = TypeVar("W", bound=Recorded)


def run(doc: str, profile: str, world: Callable[[int, int, float, Path], W], missed: Callable[[W, Truth], str],
        false: Callable[[W, Alert], tuple[str, str]], count_missed: bool = True) -> None:
    """The command line: each seed replayed and explained, its causes counted; last, all seeds' counts.

    world rebuilds a seed's world from its recording, missed explains a missed incident, false gives a
    false alert's (cause, explanation); count_missed counts the misses among the causes."""
    args = _arguments(doc)
    rules_env = {k: v for k, v in os.environ.items() if k.startswith("PINGAN_RULES__")}  # a variant's rules, nothing else
    config = load_config(ROOT / "hub" / "default_config.yaml", environ=rules_env)
    totals: Counter[str] = Counter()
    for seed in (int(s) for s in args.seeds.split(",")):
        recording, registry_file = simulate(args.workdir, profile, args.residents, args.days, seed)
        result = run_offline(recording, to_snapshot(load_registry_file(registry_file)), config)
        ctx = world(seed, args.residents, args.days, recording)
        print(f"## seed {seed}")
        causes = _explain(result, ctx, missed, false, count_missed)
        totals.update(causes)
        print(table(causes))
    print("## seeds " + args.seeds)
    print(table(totals))


def _arguments(doc: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--seeds", default="1,2")
    parser.add_argument("--residents", type=int, default=60)
    parser.add_argument("--days", type=float, default=14)
    return parser.parse_args()


def _explain(result: ReplayResult, ctx: W, missed: Callable[[W, Truth], str],
             false: Callable[[W, Alert], tuple[str, str]], count_missed: bool) -> Counter[str]:
    """Prints each missed incident and each false alert of one replay; returns the causes counted."""
    matches, false_alerts = match(result.alerts, result.truths)
    causes: Counter[str] = Counter()
    for m in matches:
        if m.alert is None:
            if count_missed:
                causes[f"MISSED {m.truth.kind}"] += 1
            print(f"MISSED {m.truth.kind} {m.truth.resident}: {missed(ctx, m.truth)}; {still_open(result.alerts, m.truth)}")
    for a in false_alerts:
        label, why = false(ctx, a)
        causes[label] += 1
        print(f"FALSE {a.kind.value} {a.severity.value} {a.resident} {a.device or '-'} {local(a.opened_at)} "
              f"[{str(a.reason or '').split(' ')[0]}] {label} :: {why}")
    return causes
