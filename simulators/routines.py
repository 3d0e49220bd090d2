"""The daily routine model of one resident: a timeline of segments rendered into device records.

A day (local midnight to midnight) is planned as segments: sleep (with night bathroom visits),
meals, active and quiet stretches at home, a nap, a morning walk, an afternoon outing, and now
and then an overnight stay at a child's flat nearby. Injected falls and wanderings cut into the
plan; an SOS is a point event. Segments are rendered into records `(t, device_id, channel, data)`:

- at home: PIR `motion` events from the home unit (dense when active, sparse when quiet, none
  asleep or napping), `water_flow` from the water meter around meals and night visits;
- outings: hallway motion, `door_open`, `door_close`, then no motion while away; on return
  `door_open`, `door_close` and motion. The GPS tag (if taken along) reports a fix every 60 s
  while moving, every 5 min while lingering, with realistic accuracy (3–30 m outdoors) and an
  occasional wild multipath jump (150–700 m off, never two in a row); indoors it reports a few
  drifting fixes (25–90 m accuracy, speed 0) after being picked up or coming home;
- an overnight stay goes to a flat 150–400 m away, inside the resident's 500 m zone, with the tag;
- a fall is silence (no event at all) until the resident is found: a visitor opens the door;
- wandering leaves the zone on foot to 0.9–1.8 km, meanders, and is driven back when found.

Heartbeats, batteries and device deaths are the engine's business (`simulators.engine`).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any, NamedTuple

from devices.kinds import DeviceKind
from simulators.community import ZONE_RADIUS_M, Resident
from simulators.geo import LatLon, distance_m, offset, polar
from simulators.incidents import Incident

DAY = 86400.0
HOUR = 3600.0
MIN = 60.0

# Segment kinds
SLEEP, ACTIVE, QUIET, MEAL, NAP, OUT, AWAY, FALLEN, WANDER = (
    "sleep", "active", "quiet", "meal", "nap", "out", "away", "fallen", "wander",
)
HOME_KINDS = frozenset({SLEEP, ACTIVE, QUIET, MEAL, NAP})

Record = tuple[float, str | None, str, Any]  # (t, device id, channel or "truth", data)


class Seg(NamedTuple):
    start: float
    end: float
    kind: str


@dataclass
class _Gps:
    """The resident's tag: fix noise state (no two multipath jumps in a row)."""

    device: str
    last_jump: bool = False


class ResidentSim:
    """Generates one resident's activity records day by day, in time order per day."""

    def __init__(self, resident: Resident, midnight0: float, seed: int, incidents: list[Incident]) -> None:
        self.r = resident
        self.h = resident.habits
        self.midnight0 = midnight0
        self.rng = random.Random(f"resident:{seed}:{resident.id}")
        self.incidents = sorted((i for i in incidents if i.kind in (*_CUTTING, *_POINT)), key=lambda i: i.at)
        self.busy_until = midnight0
        self.cat = _device_id(resident, DeviceKind.PINGAN_CAT)
        self.door = _device_id(resident, DeviceKind.DOOR_SENSOR)
        self.water = _device_id(resident, DeviceKind.WATER_METER)
        tag = _device_id(resident, DeviceKind.GPS_TAG)
        self.gps = _Gps(tag) if tag else None
        self.out: list[Record] = []

    # ------------------------------------------------------------ planning

    def day(self, d: int) -> list[Record]:
        """Records of local day `d` (some may fall after midnight: the caller merges)."""
        ds = self.midnight0 + d * DAY
        self.out = []
        segs = self._plan(ds)
        segs = self._apply_incidents(segs, ds)
        for seg in segs:
            self._render(seg)
        return self.out

    def _plan(self, ds: float) -> list[Seg]:
        rng, h = self.rng, self.h
        wake = ds + h.wake_h * HOUR + rng.gauss(0, 15 * MIN)
        bed = min(max(ds + h.sleep_h * HOUR + rng.gauss(0, 15 * MIN), ds + 21.1 * HOUR), ds + 23.5 * HOUR)
        if self.busy_until >= ds + DAY:
            return []
        t = max(ds, self.busy_until)
        segs: list[Seg] = []
        if t < wake:
            segs.append(Seg(t, wake, SLEEP))
            t = wake
        fixed = self._fixed_blocks(ds, wake)
        return self._fill_day(segs, t, bed, ds, fixed)

    def _fixed_blocks(self, ds: float, wake: float) -> list[Seg]:
        rng, h = self.rng, self.h

        def at(lo: float, hi: float) -> float:
            return ds + rng.uniform(lo, hi) * HOUR

        blocks = [Seg(b := wake + rng.uniform(15, 40) * MIN, b + 30 * MIN, MEAL)]
        if rng.random() < h.walk_am:
            blocks.append(Seg(s := at(7.6, 9.5), s + rng.uniform(40, 100) * MIN, OUT))
        blocks.append(Seg(s := at(11.3, 12.1), s + 40 * MIN, MEAL))
        if rng.random() < h.nap:
            blocks.append(Seg(s := at(12.8, 13.5), s + rng.uniform(30, 95) * MIN, NAP))
        if rng.random() < h.stay_away:
            blocks.append(Seg(s := at(15.5, 18.5), ds + DAY + rng.uniform(9, 11.5) * HOUR, AWAY))
            return blocks
        if rng.random() < h.walk_pm:
            blocks.append(Seg(s := at(14.8, 16.3), s + rng.uniform(30, 120) * MIN, OUT))
        blocks.append(Seg(s := at(17.3, 18.3), s + 45 * MIN, MEAL))
        return blocks

    def _fill_day(self, segs: list[Seg], t: float, bed: float, ds: float, fixed: list[Seg]) -> list[Seg]:
        for block in sorted(fixed):
            if block.start < t or block.start >= bed:
                continue
            segs += self._home_blocks(t, block.start)
            segs.append(block)
            t = block.end
            if block.kind == AWAY:
                self.busy_until = block.end
                return segs
        segs += self._home_blocks(t, bed)
        segs.append(Seg(max(t, bed), ds + DAY, SLEEP))
        return segs

    def _home_blocks(self, t: float, end: float) -> list[Seg]:
        out = []
        quiet = self.rng.random() < 0.5
        while t < end:
            n = min(end, t + self.rng.uniform(20, 70) * MIN)
            out.append(Seg(t, n, QUIET if quiet else ACTIVE))
            quiet, t = not quiet, n
        return out

    # ------------------------------------------------------------ incidents

    def _apply_incidents(self, segs: list[Seg], ds: float) -> list[Seg]:
        for inc in [i for i in self.incidents if ds <= self.midnight0 + i.at < ds + DAY]:
            t = self.midnight0 + inc.at
            if inc.kind in _POINT:
                self._point_incident(inc, t, segs)
            else:
                segs = self._cut(segs, inc, t, ds)
        return segs

    def _cut(self, segs: list[Seg], inc: Incident, t: float, ds: float) -> list[Seg]:
        """Replace the plan from the first moment at home ≥ t with a fall or a wandering."""
        for seg in segs:
            if seg.start <= t < seg.end and seg.kind not in HOME_KINDS:
                t = seg.end
        if t >= ds + DAY:  # still away at midnight: try again tomorrow
            self.incidents.append(Incident(inc.kind, inc.resident, t - self.midnight0, inc.duration_s, inc.device))
            return segs
        kept = [Seg(s.start, min(s.end, t), s.kind) for s in segs if s.start < t]
        end = t + inc.lasts_s
        kept.append(Seg(t, end, FALLEN if inc.kind == "fall" else WANDER))
        if inc.kind == "fall":
            self._truth(t, "inactivity")
        self.busy_until = end
        if end < ds + DAY:
            bed = max(end, ds + self.h.sleep_h * HOUR)
            kept += self._home_blocks(end, bed)
            kept.append(Seg(bed, ds + DAY, SLEEP))
        return kept

    def _point_incident(self, inc: Incident, t: float, segs: list[Seg]) -> None:
        seg = next((s for s in segs if s.start <= t < s.end), None)
        at_home = seg is None or seg.kind in HOME_KINDS or seg.kind == FALLEN
        device = self._sos_device(inc, at_home)
        self._truth(t, inc.truth_kind, device)
        self._emit(t, device, "event", "sos")
        if inc.kind == "sos_cancelled":
            self._emit(t + self.rng.uniform(4, 25), device, "event", "sos_cancel")
        elif at_home:  # help arrives
            arrive = t + self.rng.uniform(12, 25) * MIN
            self._return_home(arrive)

    def _sos_device(self, inc: Incident, at_home: bool) -> str | None:
        if inc.device:
            found = self.r.device(inc.device) or next((d for d in self.r.devices if d.id == inc.device), None)
            if found:
                return found.id
        if not at_home and self.gps:
            return self.gps.device
        return self.cat

    def _truth(self, t: float, kind: str, device: str | None = None) -> None:
        truth = {"kind": kind, "resident": self.r.id}
        if device:
            truth["device"] = device
        self.out.append((t, None, "truth", truth))

    # ------------------------------------------------------------ rendering

    def _emit(self, t: float, device: str | None, channel: str, data: Any) -> None:
        if device:
            self.out.append((t, device, channel, data))

    def _motion(self, t: float) -> None:
        self.out.append((t, self.cat, "event", "motion"))

    def _render(self, seg: Seg) -> None:
        render = {
            SLEEP: self._sleep, ACTIVE: self._active, QUIET: self._quiet, MEAL: self._meal, NAP: _nothing,
            OUT: self._outing, AWAY: self._stay_away, FALLEN: self._fallen, WANDER: self._wander,
        }[seg.kind]
        render(seg)

    def _motions(self, seg: Seg, mean_gap: float, debounce: float = 60.0) -> None:
        rng = self.rng
        t = seg.start + rng.uniform(0, 60)
        while t < seg.end:
            self._motion(t)
            t += debounce + rng.expovariate(1 / mean_gap)

    def _active(self, seg: Seg) -> None:
        self._motions(seg, 240)
        if self.rng.random() < 0.02:
            self._emit(seg.start + self.rng.uniform(0, seg.end - seg.start), self.cat, "event", "button")

    def _quiet(self, seg: Seg) -> None:
        self._motions(seg, 1200, debounce=90)

    def _meal(self, seg: Seg) -> None:
        self._motions(seg, 150)
        for _ in range(self.rng.randint(1, 3)):
            self._emit(self.rng.uniform(seg.start, seg.end), self.water, "event", "water_flow")

    def _sleep(self, seg: Seg) -> None:
        rng = self.rng
        hours = (seg.end - seg.start) / HOUR
        if not self._is_midnight(seg.start):
            self._motion(seg.start + rng.uniform(0, 120))  # going to bed
        n = _poisson(rng, self.h.night_visits * hours / 8.5)
        lo, hi = seg.start + 30 * MIN, seg.end - 20 * MIN
        for v in sorted(rng.uniform(lo, hi) for _ in range(n if hi > lo else 0)):
            self._bathroom(v)
        if not self._is_midnight(seg.end):
            self._motion(seg.end + rng.uniform(0, 120))  # getting up

    def _is_midnight(self, t: float) -> bool:
        return (t - self.midnight0) % DAY == 0

    def _bathroom(self, v: float) -> None:
        rng = self.rng
        self._motion(v)
        self._motion(v + rng.uniform(60, 150))
        self._emit(v + rng.uniform(40, 200), self.water, "event", "water_flow")
        self._motion(v + rng.uniform(200, 420))

    def _fallen(self, seg: Seg) -> None:
        self._return_home(seg.end)  # found: a visitor opens the door

    # ------------------------------------------------------------ outings and GPS

    def _leave_home(self, t: float) -> None:
        self._motion(t - self.rng.uniform(20, 90))
        self._emit(t, self.door, "event", "door_open")
        self._emit(t + self.rng.uniform(3, 15), self.door, "event", "door_close")

    def _return_home(self, t: float) -> None:
        rng = self.rng
        self._emit(t, self.door, "event", "door_open")
        self._emit(t + rng.uniform(3, 15), self.door, "event", "door_close")
        self._motion(t + rng.uniform(20, 60))
        self._motion(t + rng.uniform(90, 200))

    def _takes_tag(self) -> bool:
        return self.gps is not None and self.rng.random() < self.h.takes_tag

    def _outing(self, seg: Seg) -> None:
        self._leave_home(seg.start)
        self._return_home(seg.end)
        if not self._takes_tag():
            return
        rng = self.rng
        speed = rng.uniform(0.7, 1.1)
        dist = min(self.h.walk_radius_m, (seg.end - seg.start) * 0.4 * speed)
        dest = polar(self.r.home, rng.uniform(0, 2 * math.pi), dist)
        self._trip(seg.start, seg.end, dest, speed)
        self._indoor_fixes(seg.end, self.r.home, 3)

    def _stay_away(self, seg: Seg) -> None:
        self._leave_home(seg.start)
        self._return_home(seg.end)
        if not self._takes_tag():
            return
        self._trip(seg.start, seg.end, self.r.relative_home, self.rng.uniform(0.7, 1.0), linger_fixes=False)
        self._indoor_fixes(seg.start + 15 * MIN, self.r.relative_home, 3)
        self._indoor_fixes(seg.end - 80 * MIN, self.r.relative_home, 2)
        self._indoor_fixes(seg.end, self.r.home, 3)

    def _trip(self, start: float, end: float, dest: LatLon, speed: float, linger_fixes: bool = True) -> None:
        """Walk to `dest`, stay, walk back, with fixes every 60 s on the move."""
        leg = distance_m(self.r.home, dest) / speed
        leg = min(leg, (end - start) / 2.5)
        out_end, back_start = start + leg, end - leg
        self._walk(start + self.rng.uniform(20, 60), out_end, self.r.home, dest)
        if linger_fixes:
            self._linger(out_end, back_start, dest)
        self._walk(back_start, end, dest, self.r.home)

    def _walk(self, t0: float, t1: float, a: LatLon, b: LatLon) -> None:
        speed = distance_m(a, b) / max(t1 - t0, 1.0)
        t = t0
        while t < t1:
            f = (t - t0) / (t1 - t0)
            self._outdoor_fix(t, (a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f), speed)
            t += 60 + self.rng.uniform(-3, 3)

    def _linger(self, t0: float, t1: float, at: LatLon) -> None:
        t = t0 + 300
        while t < t1 - 60:
            spot = offset(at, self.rng.gauss(0, 12), self.rng.gauss(0, 12))
            self._outdoor_fix(t, spot, self.rng.uniform(0, 0.3))
            t += 300 + self.rng.uniform(-10, 10)

    def _outdoor_fix(self, t: float, true: LatLon, speed: float) -> None:
        gps, rng = self.gps, self.rng
        assert gps is not None
        if not gps.last_jump and rng.random() < 0.025:  # multipath: confidently wrong
            acc = rng.uniform(15, 45)
            pos = polar(true, rng.uniform(0, 2 * math.pi), rng.uniform(150, 700))
            gps.last_jump = True
        else:
            acc = min(max(rng.gauss(9, 4), 3), 30)
            pos = offset(true, _clip(rng.gauss(0, acc / 2), acc), _clip(rng.gauss(0, acc / 2), acc))
            gps.last_jump = False
        self._fix(t, pos, acc, speed + rng.uniform(0, 0.2) if speed > 0.3 else speed)

    def _indoor_fixes(self, t: float, at: LatLon, n: int) -> None:
        """A tag indoors: poor accuracy, position drifting within it, speed 0."""
        if self.gps is None:
            return
        for _ in range(n):
            t += self.rng.uniform(3, 8) * MIN
            acc = self.rng.uniform(25, 90)
            drift = offset(at, _clip(self.rng.gauss(0, acc / 2), acc * 0.8), _clip(self.rng.gauss(0, acc / 2), acc * 0.8))
            self._fix(t, drift, acc, 0.0)

    def _fix(self, t: float, pos: LatLon, acc: float, speed: float) -> None:
        assert self.gps is not None
        data = (round(pos[0], 6), round(pos[1], 6), round(acc, 1), round(speed, 1))
        self.out.append((t, self.gps.device, "gps", data))

    def _wander(self, seg: Seg) -> None:
        """Out of the door and away, beyond the zone; driven home when found."""
        rng = self.rng
        self._leave_home(seg.start)
        self._return_home(seg.end)
        if self.gps is None:
            return
        pos, bearing, far = self.r.home, rng.uniform(0, 2 * math.pi), rng.uniform(900, 1800)
        drive = min(20 * MIN, (seg.end - seg.start) / 4)
        t, crossed = seg.start + 30, False
        while t < seg.end - drive:
            step = 60 * (rng.uniform(0.75, 1.0) if distance_m(self.r.home, pos) < far else rng.uniform(0.05, 0.4))
            bearing += rng.gauss(0, 0.15 if step > 30 else 1.0)
            pos = polar(pos, bearing, step)
            if not crossed and distance_m(self.r.home, pos) > ZONE_RADIUS_M:
                crossed = True
                self._truth(t, "geofence_exit", self.gps.device)
            self._outdoor_fix(t, pos, step / 60)
            t += 60
        self._walk(t, seg.end, pos, self.r.home)


_CUTTING = ("fall", "wandering")
_POINT = ("sos", "sos_cancelled")


def _nothing(seg: Seg) -> None:
    return None


def _device_id(resident: Resident, kind: DeviceKind) -> str | None:
    device = resident.device(kind)
    return device.id if device else None


def _clip(x: float, bound: float) -> float:
    return max(-bound, min(bound, x))


def _poisson(rng: random.Random, mean: float) -> int:
    n, p, limit = 0, 1.0, math.exp(-mean)
    while True:
        p *= rng.random()
        if p <= limit:
            return n
        n += 1
