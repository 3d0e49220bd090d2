"""Why each false alert and each missed incident of the blind `lingnan` world happened.

    .venv/bin/python benchmarks/lingnan_causes.py --workdir /tmp/det-lingnan --seeds 1,2

Replays each seed's recording with the shipped configuration (as benchmarks/detection.py does:
same recording, same registry, same matching), then rebuilds the world's own plan of every
resident and its device physics (simulators.lingnan is deterministic for a seed) and says, for
every false alert and missed incident, what she and her devices were doing: the silence in local
time, where she was (asleep, napping, in the air-conditioned bedroom, out and where, away
overnight), which units could see it, whether the wooden door was propped open or the sensor
reported her leaving, whether the tag went along, outages. It reads the world and the recording
only — never the rules — so the labels are the world's causes, not the rules'.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from detection import simulate  # noqa: E402

from alerts.actions import Alert  # noqa: E402
from hub.config import load_config  # noqa: E402
from hub.registry.file import load_registry_file, to_snapshot  # noqa: E402
from hub.rules.replay import Truth, match, run_offline  # noqa: E402
from simulators.engine import LOCAL_TZ  # noqa: E402
from simulators.lingnan import HOUR, MIN, OUT, RATE, Emitter, Home, LingnanSimulation, Plan  # noqa: E402
from simulators.recording import read_recording  # noqa: E402

SINCE = re.compile(r"since=(\d+(?:\.\d+)?)")


def local(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).astimezone(LOCAL_TZ).strftime("%a %d %H:%M")


def _hour(t: float) -> float:
    moment = datetime.fromtimestamp(t, UTC).astimezone(LOCAL_TZ)
    return moment.hour + moment.minute / 60


class Context:
    """One seed's world rebuilt: plans, device physics and messages per resident."""

    def __init__(self, seed: int, residents: int, days: float, recording: Path) -> None:
        self.sim = LingnanSimulation(residents, days, seed)
        self.index = {h.resident.id: i for i, h in enumerate(self.sim.homes)}
        self._emitters: dict[str, Emitter] = {}
        self.truths: dict[str, list[tuple[float, dict[str, str]]]] = {}
        self.seen: dict[str, list[float]] = {}
        for entry in read_recording(recording):
            if isinstance(entry, dict):
                truth = entry["truth"]
                self.truths.setdefault(truth.get("resident", ""), []).append((entry["t"], truth))
                continue
            self.seen.setdefault(entry[1].split("/")[3], []).append(entry[0])

    def home(self, rid: str) -> Home:
        return self.sim.homes[self.index[rid]]

    def plan(self, rid: str) -> Plan:
        return self.sim.plans[rid]

    def emitter(self, rid: str) -> Emitter:
        """The home's device physics, run once (door actions and reports, outages, motion)."""
        if rid not in self._emitters:
            em = self.sim.emitter(self.index[rid])
            em.run()
            self._emitters[rid] = em
        return self._emitters[rid]

    def doing(self, rid: str, t0: float, t1: float) -> dict[str, float]:
        """Her time between t0 and t1 by what and where, in hours."""
        share: dict[str, float] = {}
        for s in self.plan(rid).segs:
            span = min(s.t1, t1) - max(s.t0, t0)
            if span > 0:
                what = f"out:{s.trip.kind}" if s.trip is not None else f"{s.act}@{s.room}"
                share[what] = share.get(what, 0.0) + span / HOUR
        return share

    def visible(self, rid: str, t0: float, t1: float) -> float:
        """Movements of hers the home units could have seen (before blind time and heat contrast)."""
        home, total = self.home(rid), 0.0
        for s in self.plan(rid).segs:
            span = min(s.t1, t1) - max(s.t0, t0)
            if span > 0 and s.room != OUT:
                see = max(u.sees.get(s.room, 0.0) for u in home.units)
                fidget = home.elder.fidget if s.act in ("tv", "eat", "doze", "nap") else 1.0
                total += RATE[s.act] * fidget * see * span / MIN
        return total

    def trips(self, rid: str, t0: float, t1: float) -> list[str]:
        home, em, out = self.home(rid), self.emitter(rid), []
        reports = [t for t, kind in em.trace.door_reports if kind == "door_open"]
        for tr in self.plan(rid).trips:
            if not (tr.t0 < t1 and t0 < tr.t1):
                continue
            if home.door is None:
                door = "no door sensor"
            else:
                seen = any(abs(x - tr.t0) < 60 for x in reports) or any(
                    abs(x - tr.t0) < 60 for x, k in em.trace.door_reports if k == "door_close")
                propped = self._propped(em, tr.t0)
                door = "door saw her leave" if seen else ("wooden door propped open, she left through the iron gate"
                                                          if propped else "door MISSED her leaving")
            tag = "no tag" if home.tag is None else ("tag along" if tr.tag else "tag left at home")
            out.append(f"out {tr.kind} {local(tr.t0)}–{local(tr.t1)} ({(tr.t1 - tr.t0) / HOUR:.1f} h, {tr.dist_m:.0f} m; {door}; {tag})")
        return out

    @staticmethod
    def _propped(em: Emitter, t: float) -> bool:
        state = False
        for x, kind in em.trace.door_actions:
            if x >= t:
                break
            if kind in ("open", "open_tmp"):
                state = True
            elif kind in ("close", "close_tmp"):
                state = False
        return state

    def faults(self, rid: str, t0: float, t1: float) -> list[str]:
        return [f"{f.get('fault', f['kind'])}@{local(t)}" for t, f in self.truths.get(rid, [])
                if t0 - 12 * HOUR <= t <= t1 and f["kind"] == "fault" and f.get("fault") != "device_unheard"]

    def silence(self, rid: str, t0: float, t1: float) -> str:
        home = self.home(rid)
        share = self.doing(rid, t0, t1)
        top = ", ".join(f"{k} {v:.1f}h" for k, v in sorted(share.items(), key=lambda kv: -kv[1])[:4])
        visitors = [f"{v.who} {local(v.t0)}" for v in self.plan(rid).visits if v.t0 < t1 and t0 < v.t1]
        units = "+".join(f"{u.room}:{'mains' if u.mains else 'cells'}" for u in home.units)
        parts = [f"{local(t0)}→{local(t1)} ({(t1 - t0) / HOUR:.1f} h)", top,
                 f"visible movements {self.visible(rid, t0, t1):.1f}", f"units {units}"]
        return "; ".join(parts + visitors + self.trips(rid, t0, t1) + self.faults(rid, t0, t1))

    def gap(self, device: str, t: float) -> str:
        times = self.seen.get(device, [])
        before = max((x for x in times if x <= t), default=None)
        after = min((x for x in times if x > t), default=None)
        return (f"{device} silent {local(before) if before else '-'}→{local(after) if after else 'end'} "
                f"({((after or t) - (before or t)) / MIN:.0f} min)")


def explain_false(ctx: Context, a: Alert) -> str:
    kind, rid, reason = a.kind.value, a.resident, str(a.reason or "")
    if kind == "inactivity":
        found = SINCE.search(reason)
        since = float(found.group(1)) if found else a.opened_at - 6 * HOUR
        return ctx.silence(rid, since, a.opened_at)
    if kind == "device_offline" and a.device:
        spans = ctx.emitter(rid).trace.spans.get(a.device, [])
        near = [f"{s.cause} {local(s.t0)} {(s.t1 - s.t0) / MIN:.0f} min ({s.mode})" for s in spans
                if s.t0 - HOUR < a.opened_at < s.t1 + HOUR]
        return "; ".join([ctx.gap(a.device, a.opened_at), *near, *ctx.faults(rid, a.opened_at - 2 * HOUR, a.opened_at + HOUR)])
    if kind == "geofence_exit":
        return "; ".join(ctx.trips(rid, a.opened_at - 3 * HOUR, a.opened_at) or ["tag at home"])
    return reason


def cause(ctx: Context, a: Alert, why: str) -> str:
    """One label per false alert: the habit or device behaviour behind it, from the world's plan."""
    kind, rid, reason = a.kind.value, a.resident, str(a.reason or "")
    if kind == "geofence_exit":
        trips = ctx.trips(rid, a.opened_at - 3 * HOUR, a.opened_at)
        if not trips:
            return "geofence: tag at home (indoor scatter / cell-tower fix)"
        kind_out = trips[-1].split(" ")[1]
        return f"geofence: an ordinary trip ({kind_out}) beyond 500 m with the tag"
    if kind == "device_offline":
        spans = ctx.emitter(rid).trace.spans.get(a.device or "", [])
        near = [s for s in spans if s.t0 - HOUR < a.opened_at < s.t1 + HOUR]
        if not near:
            return "offline: heartbeats lost in a row (device never failed)"
        s = near[0]
        return f"offline: {s.cause} shorter than 3 heartbeats ({'Last Will' if s.t1 - s.t0 > 90 else 'gap'})" if (
            s.t1 - s.t0 < 15 * MIN) else f"offline: {s.cause} (a second alert for the same outage)"
    if kind == "low_battery":
        return "low_battery: other"
    if kind != "inactivity":
        return f"{kind}: other"
    found = SINCE.search(reason)
    since = float(found.group(1)) if found else a.opened_at - 6 * HOUR
    plan = ctx.plan(rid)
    overlap = [tr for tr in plan.trips if tr.t0 < a.opened_at and since < tr.t1]
    long_trip = [tr for tr in overlap if tr.t1 - tr.t0 > 12 * HOUR]
    if long_trip:
        return f"inactivity: away overnight unannounced ({long_trip[0].kind})"
    if overlap:
        door = "no door sensor" if ctx.home(rid).door is None else (
            "door propped open" if "propped" in why else "door missed her" if "MISSED" in why else "door saw her")
        return f"inactivity: out ({overlap[0].kind}), {door}"
    share = ctx.doing(rid, since, a.opened_at)
    top = max(share, key=lambda k: share[k]) if share else "?"
    if top.startswith("sleep"):
        return "inactivity: asleep" + (" (bedroom unseen)" if top.endswith("bedroom") else "") + (
            ", silence began before the night window" if _hour(since) < 21 and _hour(since) > 12 else "")
    if top.startswith("nap"):
        return "inactivity: long noon nap"
    if top.endswith("bedroom"):
        return "inactivity: the hot hours in the air-conditioned bedroom (unseen)"
    return f"inactivity: quiet at home ({top})"


def still_open(alerts: list[Alert], truth: Truth) -> str:
    open_ = [a for a in alerts if a.resident == truth.resident and a.opened_at < truth.t
             and (a.resolved_at is None or a.resolved_at > truth.t)]
    return "; ".join(f"her {a.kind.value} alert open since {local(a.opened_at)}" for a in open_) or "no alert of hers open"


def explain_missed(ctx: Context, truth: Truth) -> str:
    rid = truth.resident
    detail = next((f for t, f in ctx.truths.get(rid, []) if abs(t - truth.t) < 1 and f["kind"] == truth.kind), {})
    if truth.kind == "inactivity":
        home = ctx.home(rid)
        found = float(detail.get("found_after_h", "0")) * HOUR
        moves = [x for u in home.units for x in ctx.seen.get(u.device, []) if x <= truth.t]
        last = max(moves, default=truth.t)
        return (f"{detail.get('fall')} in the {detail.get('room')} at {local(truth.t)}, found by {detail.get('finder')} after "
                f"{found / HOUR:.1f} h; last home-unit message {local(last)}; before the fall: "
                f"{ctx.silence(rid, truth.t - 3 * HOUR, truth.t)}")
    return f"{truth.kind} at {local(truth.t)} {detail}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--seeds", default="1,2")
    parser.add_argument("--residents", type=int, default=60)
    parser.add_argument("--days", type=float, default=14)
    args = parser.parse_args()
    config = load_config(ROOT / "hub" / "default_config.yaml", environ={})
    totals: Counter[str] = Counter()
    for seed in (int(s) for s in args.seeds.split(",")):
        recording, registry_file = simulate(args.workdir, "lingnan", args.residents, args.days, seed)
        registry = to_snapshot(load_registry_file(registry_file))
        result = run_offline(recording, registry, config)
        matches, false = match(result.alerts, result.truths)
        ctx = Context(seed, args.residents, args.days, recording)
        print(f"## seed {seed}")
        causes: Counter[str] = Counter()
        for m in matches:
            if m.alert is None:
                causes[f"MISSED {m.truth.kind}"] += 1
                print(f"MISSED {m.truth.kind} {m.truth.resident}: {explain_missed(ctx, m.truth)}; {still_open(result.alerts, m.truth)}")
        for a in false:
            why = explain_false(ctx, a)
            label = cause(ctx, a, why)
            causes[label] += 1
            print(f"FALSE {a.kind.value} {a.severity.value} {a.resident} {a.device or '-'} {local(a.opened_at)} "
                  f"[{str(a.reason or '').split(' ')[0]}] {label} :: {why}")
        totals.update(causes)
        print("\n".join(f"  {n:3d}  {label}" for label, n in causes.most_common()))
    print("## seeds " + args.seeds)
    print("\n".join(f"  {n:3d}  {label}" for label, n in totals.most_common()))


if __name__ == "__main__":
    main()
