"""Why each false alert and each missed incident of the blind `shanghai` world happened.

    .venv/bin/python benchmarks/shanghai_causes.py --workdir /tmp/det-shanghai --seeds 1,2

Replays each seed's recording with the shipped configuration (as benchmarks/detection.py does:
same recording, same registry, same matching), then rebuilds the world's own plan of every
resident and its device physics (simulators.shanghai is deterministic for a seed) and says, for
every false alert and missed incident, what she and her devices were doing: the silence in local
time and what filled it (asleep, napping, calligraphy at the desk, out and where, a night away),
which units could see it, whether the door sensor reported her leaving, whether the tag went
along, outages and their causes. It reads the world and the recording only — never the rules —
so the labels are the world's causes, not the rules'.
"""

from __future__ import annotations

from pathlib import Path

from causes_kit import Recorded, run, since_of

from alerts.actions import Alert
from hub.rules.replay import Truth
from simulators.geo import distance_m
from simulators.shanghai import (
    FIDGET_ACTS,
    HOUR,
    MIN,
    OUT,
    RATE,
    Emitter,
    Home,
    Plan,
    ShanghaiSimulation,
    Span,
    Trip,
    local,
    local_hour,
)

SILENT_ACTS = ("sleep", "nap", "doze", "hobby", "read", "sit", "radio")


class Context(Recorded):
    """One seed's world rebuilt: plans, device physics and the messages each device sent."""

    def __init__(self, seed: int, residents: int, days: float, recording: Path) -> None:
        self.sim = ShanghaiSimulation(residents, days, seed)
        self.index = {h.rid: i for i, h in enumerate(self.sim.homes)}
        self._emitters: dict[str, Emitter] = {}
        super().__init__(recording)

    def home(self, rid: str) -> Home:
        return self.sim.homes[self.index[rid]]

    def plan(self, rid: str) -> Plan:
        return self.sim.plans[rid]

    def emitter(self, rid: str) -> Emitter:
        if rid not in self._emitters:
            em = self.sim.emitter(self.index[rid])
            em.run()
            self._emitters[rid] = em
        return self._emitters[rid]

    def doing(self, rid: str, t0: float, t1: float) -> dict[str, float]:
        """Her hours between t0 and t1 by what and where."""
        share: dict[str, float] = {}
        for s in self.plan(rid).segs:
            span = min(s.t1, t1) - max(s.t0, t0)
            if span > 0:
                what = f"out:{s.trip.kind}" if s.trip is not None else f"{s.act}@{s.room}"
                share[what] = share.get(what, 0.0) + span / HOUR
        return share

    def visible(self, rid: str, t0: float, t1: float) -> float:
        """Movements of hers the units could have seen (before blind times)."""
        home, total = self.home(rid), 0.0
        for s in self.plan(rid).segs:
            span = min(s.t1, t1) - max(s.t0, t0)
            if span > 0 and s.room != OUT:
                see = max(u.sees.get(s.room, 0.0) for u in home.units)
                fidget = home.elder.fidget if s.act in FIDGET_ACTS else 1.0
                total += RATE[s.act] * fidget * see * span / MIN
        return total

    def trips(self, rid: str, t0: float, t1: float) -> list[str]:
        home, em, out = self.home(rid), self.emitter(rid), []
        for tr in self.plan(rid).trips:
            if not (tr.t0 < t1 and t0 < tr.t1):
                continue
            if home.door is None:
                door = "no door sensor"
            else:
                seen = any(abs(x - tr.t0) < 60 and k == "door_open" for x, k in em.door_reports)
                door = "door saw her leave" if seen else "door MISSED her leaving"
            tag = "no tag" if home.tag is None else ("tag along" if tr.tag else "tag left at home")
            far = distance_m(home.resident.home, home.place(tr.place))
            out.append(f"out {tr.kind} {local(tr.t0)}–{local(tr.t1)} ({(tr.t1 - tr.t0) / HOUR:.1f} h, {far:.0f} m; {door}; {tag})")
        return out

    def faults(self, rid: str, t0: float, t1: float) -> list[str]:
        return [f"{f.get('fault', f['kind'])}@{local(t)}" for t, f in self.truths.get(rid, [])
                if t0 - 12 * HOUR <= t <= t1 and f["kind"] == "fault" and not f.get("fault", "").endswith("_visit")]

    def silence(self, rid: str, t0: float, t1: float) -> str:
        home = self.home(rid)
        share = self.doing(rid, t0, t1)
        top = ", ".join(f"{k} {v:.1f}h" for k, v in sorted(share.items(), key=lambda kv: -kv[1])[:4])
        visitors = [f"{v.who} {local(v.t0)}" for v in self.plan(rid).visits if v.t0 < t1 and t0 < v.t1]
        units = "+".join(f"{u.room}:{'mains' if u.mains else 'cells'}" for u in home.units)
        parts = [f"{local(t0)}→{local(t1)} ({(t1 - t0) / HOUR:.1f} h)", top,
                 f"visible movements {self.visible(rid, t0, t1):.1f}", f"units {units}"]
        return "; ".join(parts + visitors + self.trips(rid, t0, t1) + self.faults(rid, t0, t1))

    def spans_near(self, rid: str, device: str, t: float) -> list[Span]:
        dev = self.emitter(rid).devs.get(device)
        return [s for s in (dev.spans if dev else []) if s.t0 - HOUR < t < s.t1 + HOUR]


def explain_false(ctx: Context, a: Alert) -> str:
    kind, rid = a.kind.value, a.resident
    if kind == "inactivity":
        return ctx.silence(rid, since_of(a), a.opened_at)
    if kind == "device_offline" and a.device:
        near = [f"{s.cause} {local(s.t0)} {(s.t1 - s.t0) / MIN:.0f} min ({s.mode})" for s in ctx.spans_near(rid, a.device, a.opened_at)]
        return "; ".join([ctx.gap(a.device, a.opened_at), *near])
    if kind == "geofence_exit":
        home = ctx.home(rid)
        return f"zone {home.zone_m:.0f} m; " + "; ".join(ctx.trips(rid, a.opened_at - 6 * HOUR, a.opened_at + MIN) or ["tag at home"])
    return str(a.reason or "")


def cause(ctx: Context, a: Alert) -> str:
    """One label per false alert: the habit or device behaviour behind it, from the world's plan."""
    kind = a.kind.value
    if kind == "geofence_exit":
        return _geofence_cause(ctx, a)
    if kind == "device_offline":
        return _offline_cause(ctx, a)
    if kind == "low_battery":
        return "low_battery: reported again or recovered (no first report at 20 %)"
    if kind != "inactivity":
        return f"{kind}: other"
    return _inactivity_cause(ctx, a)


def _geofence_cause(ctx: Context, a: Alert) -> str:
    rid = a.resident
    home = ctx.home(rid)
    trips = [tr for tr in ctx.plan(rid).trips if tr.tag and tr.t0 < a.opened_at + MIN and a.opened_at - 6 * HOUR < tr.t1]
    zone = "dementia zone" if home.elder.dementia else "family's large zone"
    if not trips:
        return f"geofence ({zone}): tag at home (high-rise scatter / multipath)"
    tr = trips[-1]
    far = distance_m(home.resident.home, home.place(tr.place))
    if home.zone_m is not None and far < home.zone_m:
        return f"geofence ({zone}): street-canyon multipath on an outing inside the zone ({tr.kind})"
    return f"geofence ({zone}): an ordinary trip beyond the zone ({tr.kind}{', with family' if tr.companion else ''})"


def _offline_cause(ctx: Context, a: Alert) -> str:
    near = ctx.spans_near(a.resident, a.device or "", a.opened_at)
    if not near:
        return "offline: heartbeats lost in a row (device never failed)"
    s = near[0]
    em = ctx.emitter(a.resident)
    if em.unheard(a.device or "", s) <= 3 * em.devs[a.device or ""].device.heartbeat_s:
        return f"offline: {s.cause} shorter than 3 heartbeats (Last Will)"
    return f"offline: {s.cause} (a further alert for an outage already counted)"


def _inactivity_cause(ctx: Context, a: Alert) -> str:
    rid, since = a.resident, since_of(a)
    plan = ctx.plan(rid)
    def inside(tr: Trip) -> float:
        return min(tr.t1, a.opened_at) - max(tr.t0, since)

    overlap = sorted((tr for tr in plan.trips if inside(tr) > 0), key=inside)
    long_trip = [tr for tr in overlap if tr.t1 - tr.t0 > 20 * HOUR]
    if long_trip:
        return f"inactivity: away for days, unannounced ({long_trip[0].kind})"
    if overlap and inside(overlap[-1]) > (a.opened_at - since) / 2:
        tr, home = overlap[-1], ctx.home(rid)
        seen = any(abs(x - tr.t0) < 60 and k == "door_open" for x, k in ctx.emitter(rid).door_reports)
        lost = [s.cause for s in ctx.spans_near(rid, home.door.device, tr.t0) if s.t0 <= tr.t0 < s.t1] if home.door else []
        door = ("no door sensor" if home.door is None else f"door offline ({lost[0]})" if lost
                else "door saw her" if seen else "door missed her")
        return f"inactivity: out ({tr.kind}), {door}"
    share = ctx.doing(rid, since, a.opened_at)
    top = max(share, key=lambda k: share[k]) if share else "?"
    act, _, room = top.partition("@")
    if act in ("sleep", "radio"):
        return "inactivity: asleep" + (" (bedroom unseen)" if room == "bedroom" and len(ctx.home(rid).units) == 1 else "") + (
            ", silence began before the night window" if 12 < local_hour(since) < 21 else "")
    if act == "nap":
        return "inactivity: long noon nap" + (" (bedroom unseen)" if len(ctx.home(rid).units) == 1 else "")
    if act in SILENT_ACTS:
        return f"inactivity: sitting still at home ({act})"
    return f"inactivity: at home, {act} in the {room}"


def false_alert(ctx: Context, a: Alert) -> tuple[str, str]:
    label = cause(ctx, a)
    return label, explain_false(ctx, a)


def explain_missed(ctx: Context, truth: Truth) -> str:
    rid, detail = truth.resident, ctx.detail(truth)
    if truth.kind == "inactivity":
        found = float(detail.get("found_after_h", "0")) * HOUR
        last = ctx.last_seen((u.device for u in ctx.home(rid).units), truth.t)
        return (f"{detail.get('fall')} in the {detail.get('room')} at {local(truth.t)}, found by {detail.get('finder')} after "
                f"{found / HOUR:.1f} h; last home-unit message {local(last)}; before the fall: "
                f"{ctx.silence(rid, truth.t - 3 * HOUR, truth.t)}")
    if truth.kind == "geofence_exit":
        return f"at {local(truth.t)} {detail}; " + "; ".join(ctx.trips(rid, truth.t - 6 * HOUR, truth.t))
    if truth.kind == "device_offline":
        device = detail.get("device", "")
        return f"at {local(truth.t)} {detail}; {ctx.gap(device, truth.t)}"
    return f"{truth.kind} at {local(truth.t)} {detail}"


if __name__ == "__main__":
    run(__doc__, "shanghai", Context, explain_missed, false_alert)
