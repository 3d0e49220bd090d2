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

from pathlib import Path

from causes_kit import Recorded, clock_hour, local, run, since_of

from alerts.actions import Alert
from hub.rules.replay import Truth
from simulators.lingnan import HOUR, MIN, OUT, RATE, Emitter, Home, LingnanSimulation, Plan


class Context(Recorded):
    """One seed's world rebuilt: plans, device physics and messages per resident."""

    def __init__(self, seed: int, residents: int, days: float, recording: Path) -> None:
        self.sim = LingnanSimulation(residents, days, seed)
        self.index = {h.resident.id: i for i, h in enumerate(self.sim.homes)}
        self._emitters: dict[str, Emitter] = {}
        super().__init__(recording)

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


def explain_false(ctx: Context, a: Alert) -> str:
    kind, rid, reason = a.kind.value, a.resident, str(a.reason or "")
    if kind == "inactivity":
        return ctx.silence(rid, since_of(a), a.opened_at)
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
    kind, rid = a.kind.value, a.resident
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
    since = since_of(a)
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
            ", silence began before the night window" if clock_hour(since) < 21 and clock_hour(since) > 12 else "")
    if top.startswith("nap"):
        return "inactivity: long noon nap"
    if top.endswith("bedroom"):
        return "inactivity: the hot hours in the air-conditioned bedroom (unseen)"
    return f"inactivity: quiet at home ({top})"


def false_alert(ctx: Context, a: Alert) -> tuple[str, str]:
    why = explain_false(ctx, a)
    return cause(ctx, a, why), why


def explain_missed(ctx: Context, truth: Truth) -> str:
    rid, detail = truth.resident, ctx.detail(truth)
    if truth.kind == "inactivity":
        found = float(detail.get("found_after_h", "0")) * HOUR
        last = ctx.last_seen((u.device for u in ctx.home(rid).units), truth.t)
        return (f"{detail.get('fall')} in the {detail.get('room')} at {local(truth.t)}, found by {detail.get('finder')} after "
                f"{found / HOUR:.1f} h; last home-unit message {local(last)}; before the fall: "
                f"{ctx.silence(rid, truth.t - 3 * HOUR, truth.t)}")
    return f"{truth.kind} at {local(truth.t)} {detail}"


if __name__ == "__main__":
    run(__doc__, "lingnan", Context, explain_missed, false_alert)
