"""A second, independent day planner: elderly people living alone in Chinese cities (issue 15).

Our rules were tuned on `simulators.routines`' day (up 06:00-08:00, a walk at 07:36-09:30, an
afternoon outing 14:48-16:18, long outings 08:30-13:00, bed 21:06-23:30). This world plans the
day from other habits, drawn per resident from wide ranges, and renders it with the field
world's devices (`simulators.field`: PIR with 60 s debounce, door sensor, a GPS tag that
scatters indoors, heartbeats, faults, truth lines); only the planning of the day is new:

- up early (04:30-06:30; a fifth of residents 06:30-08:00), to bed early (20:00-22:00 for
  60 %, else 22:00-23:20), each day ±20 min;
- the morning market or park (晨练, 买菜): out at 05:30-08:30 for 1-2.5 h on 30-90 % of days,
  the tag taken along on 0-50 % of those trips;
- lunch 11:00-12:00, the noon nap (午睡) 12:00-14:30 for 0.5-2.5 h on 50-100 % of days;
- mahjong or chatting at a neighbour's 13:30-17:30 on 0-50 % of days: the door, then no motion;
  a tag taken along lies still a few doors away and scatters as it does at home;
- dinner 17:00-18:30, square dancing or a walk (广场舞, 散步) 18:30-21:00 on 0-60 % of days;
- TV sittings of 1-3 h (morning, afternoon, evening) with few movements: a PIR trigger every
  8-30 min on average (per resident), the 60 s debounce after each;
- night bathroom visits: 0-2 a night on average (Poisson), as in the field world;
- a weekend at a child's (away 1-2 nights, leaving Saturday) on 0-40 % of weekends.

`HABITS` is the profile (70 % of homes with a door sensor, 70 % with a tag, falls in 35 % of
homes at any hour — 30 % of the day falls minutes after coming home — found 10-14 h later);
`HabitsSimulation(residents, days, seed)` the world. A `fault` truth line per home
(`habits`) states the resident's drawn habits, for reading the alerts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import datetime

from simulators.community import Resident
from simulators.engine import LOCAL_TZ
from simulators.field import FieldResidentSim, FieldSimulation, Profile
from simulators.incidents import Incident
from simulators.routines import AWAY, DAY, HOUR, MEAL, MIN, NAP, OUT, QUIET, Record, Seg

HABITS = Profile(
    "habits", "elderly people living alone in Chinese cities: up at dawn, the morning market, the noon nap, "
    "mahjong, square dancing, TV, early nights, weekends at a child's (simulators/habits.py)",
    tag_share=0.7, door_share=0.7, takes_tag=(0.4, 0.95), sleep_in=0.0, quiet_nights=0.25,
    long_outing=0.0, visitor=0.0, empty_visit=0.0, dead_cat=0.04, outages_per_week=0.3, clock_off_s=60,
    drift_s=5, replaced=0.05, falls=0.35, night_falls=0.25, fall_hours=(0.0, 24.0), after_return=0.3)
GAP_S = 5 * MIN  # between two planned blocks
SATURDAY = 5


@dataclass(frozen=True)
class Elder:
    """One resident's habits (local hours; probabilities per day)."""

    wake_h: float
    bed_h: float
    market: float  # out to the market or the park in the early morning
    market_tag: float  # the tag goes along on that trip
    nap: float
    mahjong: float
    evening: float  # square dancing or a walk after dinner
    sit_gap_min: float  # mean minutes between PIR triggers while sitting (TV)
    night_visits: float
    weekend_away: float

    def line(self) -> str:
        return (f"up {self.wake_h:.1f} bed {self.bed_h:.1f} market {self.market:.2f} (tag {self.market_tag:.2f}) "
                f"nap {self.nap:.2f} mahjong {self.mahjong:.2f} evening {self.evening:.2f} sit {self.sit_gap_min:.0f} min "
                f"visits {self.night_visits:.1f} away {self.weekend_away:.2f}")


def draw_elder(rng: random.Random, profile: Profile = HABITS) -> Elder:
    return Elder(
        wake_h=rng.uniform(4.5, 6.5) if rng.random() < 0.8 else rng.uniform(6.5, 8.0),
        bed_h=rng.uniform(20.0, 22.0) if rng.random() < 0.6 else rng.uniform(22.0, 23.3),
        market=rng.uniform(0.3, 0.9), market_tag=rng.uniform(0.0, 0.5), nap=rng.uniform(0.5, 1.0),
        mahjong=rng.uniform(0.0, 0.5), evening=rng.uniform(0.0, 0.6), sit_gap_min=rng.uniform(*profile.elder_sit_gap_min),
        night_visits=rng.uniform(0.0, 2.0), weekend_away=rng.uniform(0.0, 0.4))


class _Day:
    """The blocks of one day, none overlapping, all between waking and bedtime."""

    def __init__(self, ds: float, wake: float, bed: float) -> None:
        self.ds, self.wake, self.bed = ds, wake, bed
        self.blocks: list[Seg] = []

    def at(self, hour: float) -> float:
        return self.ds + hour * HOUR

    def add(self, start: float, end: float, kind: str) -> Seg | None:
        if start < self.wake + 10 * MIN or end > self.bed - 10 * MIN or end - start < 20 * MIN:
            return None
        if any(b.start < end + GAP_S and start < b.end + GAP_S for b in self.blocks):
            return None
        seg = Seg(start, end, kind)
        self.blocks.append(seg)
        return seg

    def add_after(self, start: float, length: float, kind: str) -> Seg | None:
        """A block of up to `length` from `start`, or from the end of the block it would overlap."""
        for _ in range(3):
            clash = next((b for b in self.blocks if b.start < start + length + GAP_S and start < b.end + GAP_S), None)
            if clash is None:
                break
            start = clash.end + 10 * MIN
        return self.add(start, min(start + length, self.bed - 15 * MIN), kind)


class HabitsResidentSim(FieldResidentSim):
    """A field-world resident whose day follows an `Elder`'s habits instead of routines.py's plan."""

    def __init__(self, resident: Resident, midnight0: float, seed: int, incidents: list[Incident]) -> None:
        super().__init__(resident, midnight0, seed, incidents)
        self.hrng = random.Random(f"habits:{seed}:{self.r.id}")
        self.elder = draw_elder(random.Random(f"habits-elder:{seed}:{self.r.id}"), self.profile)
        self.usual = replace(self.usual, wake_h=self.elder.wake_h, sleep_h=self.elder.bed_h,
                             night_visits=self.elder.night_visits)
        self.kinds: dict[float, str] = {}  # outing start -> "market" | "mahjong" | "evening"
        self._told = False

    def day(self, d: int) -> list[Record]:
        out = super().day(d)
        if not self._told:  # the resident's habits, for reading the alerts
            self._told = True
            out.append((self.midnight0 + d * DAY, None, "truth",
                        {"kind": "fault", "fault": "habits", "resident": self.r.id, "value": self.elder.line()}))
        return out

    # planning ---------------------------------------------------------------
    def _plan(self, ds: float) -> list[Seg]:
        if self.busy_until >= ds + DAY:
            return []
        e, rng = self.elder, self.hrng
        wake = ds + (e.wake_h + rng.gauss(0, 0.33)) * HOUR
        if self.profile.sleep_in and self.hab_rng.random() < self.profile.sleep_in:  # off in HABITS: its own stream
            wake += self.hab_rng.uniform(*self.profile.sleep_in_hours) * HOUR
        bed = min(ds + (e.bed_h + rng.gauss(0, 0.33)) * HOUR, ds + 23.8 * HOUR)
        day = _Day(ds, wake, bed)
        self._weekend(day)
        self._morning(day)
        self._afternoon(day)
        self._evening(day)
        self._sittings(day)
        self.h = replace(self.h, sleep_h=(day.bed - ds) / HOUR)  # a fall's day ends at this bedtime
        t = max(ds, self.busy_until)
        segs = [Seg(t, wake, "sleep")] if t < wake else []
        return self._evening_habits(self._fill_day(segs, max(t, wake), day.bed, ds, day.blocks), ds)

    def _weekend(self, day: _Day) -> Seg | None:
        """Saturday now and then: to a child's flat for 1-2 nights, back in the afternoon."""
        rng = self.hrng
        if datetime.fromtimestamp(day.ds, LOCAL_TZ).weekday() != SATURDAY or rng.random() >= self.elder.weekend_away:
            return None
        start = day.at(rng.uniform(9.0, 16.0))
        end = day.ds + rng.choice((1, 2)) * DAY + rng.uniform(14.0, 19.0) * HOUR
        away = Seg(start, end, AWAY)
        day.blocks.append(away)  # nothing planned across it ...
        day.bed = start + 30 * MIN  # ... nor after leaving
        return away

    def _morning(self, day: _Day) -> None:
        e, rng = self.elder, self.hrng
        market = None
        if rng.random() < e.market:
            start = max(day.wake + rng.uniform(10, 30) * MIN, day.at(rng.uniform(5.5, 8.5)))
            market = day.add(start, start + rng.uniform(1.0, 2.5) * HOUR, OUT)
            if market is not None:
                self.kinds[market.start] = "market"
        breakfast = day.wake + rng.uniform(15, 40) * MIN
        if day.add(breakfast, breakfast + rng.uniform(20, 30) * MIN, MEAL) is None and market is not None:
            after = market.end + rng.uniform(10, 25) * MIN
            day.add(after, after + rng.uniform(20, 30) * MIN, MEAL)

    def _afternoon(self, day: _Day) -> None:
        e, rng = self.elder, self.hrng
        lunch = day.add(s := day.at(rng.uniform(11.0, 12.0)), s + rng.uniform(30, 45) * MIN, MEAL)
        after_lunch = lunch.end if lunch is not None else day.at(12.0)
        nap = None
        if rng.random() < e.nap:
            start = max(after_lunch + rng.uniform(10, 30) * MIN, day.at(rng.uniform(12.0, 14.5)))
            nap = day.add(start, start + rng.uniform(*self.profile.elder_nap_h) * HOUR, NAP)
        if rng.random() < e.mahjong:
            start = max(day.at(rng.uniform(13.5, 15.0)), (nap.end if nap else after_lunch) + rng.uniform(10, 20) * MIN)
            seg = day.add(start, min(start + rng.uniform(1.5, 3.5) * HOUR, day.at(17.5)), OUT)
            if seg is not None:
                self.kinds[seg.start] = "mahjong"

    def _evening(self, day: _Day) -> None:
        e, rng = self.elder, self.hrng
        dinner = day.add(s := day.at(rng.uniform(17.0, 18.5)), s + rng.uniform(30, 45) * MIN, MEAL)
        if rng.random() >= e.evening:
            return
        start = max(day.at(rng.uniform(18.5, 19.5)), (dinner.end if dinner else day.at(18.5)) + rng.uniform(10, 30) * MIN)
        end = min(start + rng.uniform(1.0, 2.0) * HOUR, day.at(21.0))
        day.bed = max(day.bed, end + rng.uniform(20, 50) * MIN)  # home from the square, then bed
        if (seg := day.add(start, end, OUT)) is not None:
            self.kinds[seg.start] = "evening"

    def _sittings(self, day: _Day) -> None:
        """TV: 1-3 h in the evening after dinner, and on some days in the morning or afternoon."""
        rng = self.hrng
        for lo, hi, chance in ((8.5, 10.5, 0.4), (14.5, 16.5, 0.4), (18.0, 19.5, 0.8)):
            if rng.random() < chance:
                day.add_after(day.at(rng.uniform(lo, hi)), rng.uniform(*self.profile.elder_sit_h) * HOUR, QUIET)

    # rendering --------------------------------------------------------------
    def _quiet(self, seg: Seg) -> None:
        """Sitting (TV, reading): a PIR trigger now and then, the debounce after each."""
        self._motions(seg, self.elder.sit_gap_min * MIN, debounce=90)

    def _outing(self, seg: Seg) -> None:
        kind = self.kinds.pop(seg.start, "")
        if kind == "mahjong":  # a few doors away: a tag taken along lies still there, as at home
            self._leave_home(seg.start)
            self._return_home(seg.end)
            return
        if kind == "market":  # the early trip: often without the tag
            usual = self.h
            self.h = replace(usual, takes_tag=self.elder.market_tag)
            super()._outing(seg)
            self.h = usual
            return
        super()._outing(seg)


class HabitsSimulation(FieldSimulation):
    """The habits world: `HABITS`'s devices and faults, the day planned by `HabitsResidentSim`."""

    resident_base = HabitsResidentSim

    def __init__(self, residents: int, days: float, seed: int, start: str | None = None, profile: Profile = HABITS) -> None:
        super().__init__(profile, residents, days, seed, start)


__all__ = ["HABITS", "Elder", "HabitsResidentSim", "HabitsSimulation", "draw_elder"]
