"""Why each false alert and each missed incident of the blind `harbin` world happened (issue 15).

    .venv/bin/python benchmarks/harbin_causes.py --workdir /tmp/det --seeds 1,2

Replays each seed's recording with the shipped configuration (as benchmarks/detection.py does:
same recording, same registry, same matching), then rebuilds the world's own plan of every
resident (simulators.harbin is deterministic for a seed) and says, for every false alert and
missed incident, what she and her devices were doing: the silence's span in local time, where
she was (asleep, napping, in bed with a cold, in front of the TV, out and where, away
overnight), whether the door sensor saw her leave, whether the tag went along, how many
movements the home units could have seen, power cuts and dead batteries. It reads the world and
the recording only — never the rules — so the labels are the world's causes, not the rules'.
"""

from __future__ import annotations

from pathlib import Path

from causes_kit import Recorded, clock_hour, local, run, since_of

from alerts.actions import Alert
from hub.rules.replay import Truth
from simulators.harbin import HOUR, MIN, NAP, SICK, SLEEP, HarbinSimulation, Home, Plan, Planner, Seg


def doing(seg: Seg, home: Home) -> str:
    if seg.rate == 0:
        return "on the floor"
    if seg.rate in (SLEEP,):
        return "asleep"
    if seg.rate == NAP:
        return "nap"
    if seg.rate == SICK:
        return "sick in bed"
    if seg.rate == home.elder.tv or abs(seg.rate - home.elder.tv * 0.8) < 1e-9:
        return "TV"
    return "about"


def visible(segs: list[Seg], home: Home, t0: float, t1: float) -> float:
    """Movements the home units could have seen between t0 and t1 (before blind time)."""
    total: float = 0.0
    for s in segs:
        span = min(s.t1, t1) - max(s.t0, t0)
        if span > 0:
            see = max((u.sees.get(s.room, 0.0) for u in home.units), default=0.0)
            total += s.rate * see * span / MIN
    return total


def at_home(plan: Plan, home: Home, t0: float, t1: float) -> str:
    """Her time between t0 and t1 by what she was doing, largest share first."""
    share: dict[str, float] = {}
    for s in plan.segs:
        span = min(s.t1, t1) - max(s.t0, t0)
        if span > 0:
            what = f"{doing(s, home)} ({s.room})" if doing(s, home) != "about" else "about"
            share[what] = share.get(what, 0.0) + span
    total = sum(share.values()) or 1.0
    return ", ".join(f"{k} {v / total:.0%}" for k, v in sorted(share.items(), key=lambda kv: -kv[1])[:3])


class Context(Recorded):
    """One seed's world rebuilt: plans per resident, and the recording's door events and device messages."""

    def __init__(self, seed: int, residents: int, days: float, recording: Path) -> None:
        self.sim = HarbinSimulation(residents, days, seed)
        self.homes = {h.resident.id: h for h in self.sim.homes}
        self.plans: dict[str, Plan] = {}
        for i, home in enumerate(self.sim.homes):
            incidents = [x for x in self.sim.incidents if x.home == i]
            self.plans[home.resident.id] = Planner(home, self.sim.start, self.sim.days, seed, incidents).run()
        super().__init__(recording)

    def trips(self, rid: str, t0: float, t1: float) -> list[str]:
        home, out = self.homes[rid], []
        for tr in self.plans[rid].trips:
            if tr.t0 < t1 and t0 < tr.t1:
                door = "no door sensor" if home.door is None else (
                    "door saw her leave" if any(abs(x - tr.t0) < 60 for x in self.doors.get(home.door, [])) else "door MISSED her leaving")
                tag = "no tag" if home.tag is None else ("tag along" if tr.tag else "tag left at home")
                out.append(f"out {tr.kind} {local(tr.t0)}–{local(tr.t1)} ({(tr.t1 - tr.t0) / HOUR:.1f} h, {tr.dist_m:.0f} m; {door}; {tag})")
        return out

    def context_faults(self, rid: str, t0: float, t1: float) -> list[str]:
        return [f"{f.get('fault', f['kind'])}@{local(t)}" for t, f in self.truths.get(rid, [])
                if t0 - 12 * HOUR <= t <= t1 and f["kind"] != "low_battery"]

    def silence(self, rid: str, t0: float, t1: float) -> str:
        home, plan = self.homes[rid], self.plans[rid]
        trips = self.trips(rid, t0, t1)
        visitors = [v for v in plan.visits if v.t0 < t1 and t0 < v.t1]
        parts = [f"{local(t0)}→{local(t1)} ({(t1 - t0) / HOUR:.1f} h)", at_home(plan, home, t0, t1),
                 f"visible movements {visible(plan.segs + visitors, home, t0, t1):.1f}",
                 f"units {'+'.join(('mains' if u.mains else 'battery') + ':' + ','.join(r for r, p in u.sees.items() if p >= 0.5) for u in home.units)}"]
        return "; ".join(parts + trips + self.context_faults(rid, t0, t1))


def explain_false(ctx: Context, a: Alert) -> str:
    kind, rid, opened = a.kind.value, a.resident, a.opened_at
    if kind == "inactivity":
        return ctx.silence(rid, since_of(a), opened)
    if kind == "device_offline" and a.device:
        return ctx.gap(a.device, opened) + "; " + "; ".join(ctx.context_faults(rid, opened - 2 * HOUR, opened + HOUR))
    if kind == "geofence_exit":
        return "; ".join(ctx.trips(rid, opened - 2 * HOUR, opened) or ["tag at home"])
    return str(a.reason or "")


def cause(ctx: Context, a: Alert, why: str) -> str:
    """One label per false alert: the habit or device behaviour behind it (from the world's plan)."""
    kind, rid, opened, reason = a.kind.value, a.resident, a.opened_at, str(a.reason or "")
    if kind == "geofence_exit":
        trip = next((w for w in ("hospital", "child", "clinic", "market", "exercise") if f"out {w}" in why), "none")
        return f"geofence: a {trip} trip out of the 500 m zone with the tag" if trip != "none" else "geofence: tag at home"
    if kind == "device_offline":
        if "power_cut" in why:
            return "offline: a power cut (a second alert for the same cut)"
        return "offline: heartbeats lost in a row (device never failed)"
    if kind != "inactivity":
        return f"{kind}: other"
    since = since_of(a)
    plan, home = ctx.plans[rid], ctx.homes[rid]
    long_trip = [tr for tr in plan.trips if tr.t0 < opened and since < tr.t1 and tr.t1 - tr.t0 > 12 * HOUR]
    if long_trip:
        return f"inactivity: away overnight unannounced ({long_trip[0].kind}), {'alert after 24 h away' if 'away_too_long' in reason else 'not seen leaving'}"
    short = [tr for tr in plan.trips if tr.t0 < opened and since < tr.t1]
    if short:
        return f"inactivity: out ({short[0].kind}) and the door sensor {'is missing' if home.door is None else 'missed her leaving'}"
    if "sick in bed" in why.split(";")[1] and "sick_day_in_bed" in why:
        return "inactivity: a cold, in bed most of the day (bedroom unseen)"
    hours = (opened - since) / HOUR
    if "asleep" in why.split(";")[1].split(",")[0]:
        if hours > 11.5:
            return "inactivity: 12 h in bed on a winter night, no getup seen"
        start = clock_hour(since)
        if start < 21 and clock_hour(opened) >= 20:
            return "inactivity: early night, asleep before 21:00 (bedroom unseen)"
        return "inactivity: asleep, silence judged by day hours after an early bedtime"
    return "inactivity: long TV evening or quiet day at home"


def false_alert(ctx: Context, a: Alert) -> tuple[str, str]:
    why = explain_false(ctx, a)
    return cause(ctx, a, why), why


def explain_missed(ctx: Context, truth: Truth) -> str:
    detail = ctx.detail(truth)
    if truth.kind == "inactivity":
        found = float(detail.get("found_after_h", "0")) * HOUR
        last = ctx.last_seen((u.device for u in ctx.homes[truth.resident].units), truth.t)
        return (f"{detail.get('fall')} in the {detail.get('room')} at {local(truth.t)}, found after "
                f"{found / HOUR:.1f} h; last home-unit message of hers {local(last)} "
                f"({(truth.t + found - last) / HOUR:.1f} h before the finder)")
    return f"{truth.kind} at {local(truth.t)} {detail} ({len(ctx.lines_of(truth))} truth line)"


if __name__ == "__main__":
    run(__doc__, "harbin", Context, explain_missed, false_alert, count_missed=False)
