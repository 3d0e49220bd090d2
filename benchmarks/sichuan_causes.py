"""Why each false alert and each missed incident of the blind `sichuan` world happened.

    .venv/bin/python benchmarks/sichuan_causes.py --workdir /tmp/det --seeds 1,2

Replays each seed's recording with the shipped configuration (as benchmarks/detection.py does),
rebuilds the world's own plan of every resident (simulators.sichuan is deterministic for a seed)
and says, for every false alert and missed incident, what she was doing in local time: where she
was (the main room, bed, kitchen, yard, plot, out and why), and for a fall what made events after it.
It reads the world and the recording only — never the rules.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from causes_kit import HOUR, Recorded, local, run, since_of

from alerts.actions import Alert
from hub.rules.replay import Truth
from simulators.sichuan import NOT_HERS, Plan, SichuanSimulation


class World(Recorded):
    def __init__(self, seed: int, residents: int, days: float, recording: Path) -> None:
        super().__init__(recording)
        self.sim = SichuanSimulation(residents, days, seed)
        for _ in self.sim:  # fills sim.causes
            pass
        self.houses = {h.rid: h for h in self.sim.houses}


def _doing(plan: Plan, t0: float, t1: float) -> tuple[Counter[str], str]:
    """Where she spent [t0, t1): seconds by place/act, and a short story."""
    spent: Counter[str] = Counter()
    story = []
    for s in plan.segs:
        if s.t1 <= t0 or s.t0 >= t1:
            continue
        d = min(s.t1, t1) - max(s.t0, t0)
        label = f"{s.place}/{s.trip.kind if s.trip else s.act}"
        spent[label] += d
        if d >= 600:
            story.append(f"{label} {d / HOUR:.1f}h")
    return spent, ", ".join(story[:8])


def false(w: World, a: Alert) -> tuple[str, str]:
    if a.kind.value != "inactivity":
        return a.kind.value, str(a.reason)[:100]
    since = since_of(a)
    plan = w.sim.plans[a.resident]
    spent, story = _doing(plan, since, a.opened_at)
    h = w.houses[a.resident]
    where = spent.most_common(1)[0][0] if spent else "?"
    door = "door" if h.door is not None else "nodoor"
    basis = str(a.reason).split("basis=")[-1].split(" ")[0]
    return f"{where} ({door}) {basis}", f"{local(since)}→{local(a.opened_at)}: {story}"


def missed(w: World, truth: Truth) -> str:
    her = w.houses[truth.resident]
    plan = w.sim.plans[truth.resident]
    seg = plan.at(truth.t)
    hers = {d.id for d in w.sim.community.devices if d.resident == truth.resident}
    events = sorted((t, cause) for (device, _seq), (t, cause) in w.sim.causes.items()
                    if device in hers and truth.t < t < truth.t + 16 * HOUR)
    found = next((t for t, cause in events if cause not in NOT_HERS), truth.t + 16 * HOUR)
    before = Counter(cause for t, cause in events if t < found)
    return (f"{w.detail(truth)} at {local(truth.t)} ({seg.place + '/' + seg.act if seg else '-'}); "
            f"first of hers or a finder's {local(found)} (+{(found - truth.t) / HOUR:.1f} h), before it {dict(before)}; "
            f"door={her.door is not None}")


if __name__ == "__main__":
    run(__doc__, "sichuan", World, missed, false)
