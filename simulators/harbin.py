"""A second world, written blind (issue 15): elderly people living alone through a Harbin winter.

Written from the contract (PRODUCT.md) and from how old people in a northern Chinese city live in
January, without reading how the rules detect anything, so that it does not share the rules'
assumptions. It reuses only the registry objects (simulators.community), the message structs
and `write_recording` (simulators.engine); the people, their days and the device physics are
its own.

People (`Elder`): up at 5:30–7:30, dark by 16:30 and −20 °C outside, so few and short outings —
morning exercise or the morning market, a clinic or hospital visit now and then (half a day; a
quarter of them keep her a night or two, unannounced), a night or two at a child's flat; long
indoor days, an afternoon nap or mahjong at a neighbour's for hours, dinner at 16:30, long TV
evenings with little movement, early nights. Some get up at night for the bathroom, some never
do; irregular sleepers go to bed late or sit up at 3 am. An hourly carer comes on fixed weekdays
(she has a key and comes even when the old lady is out), a child visits for 1–3 h at the
weekend, grandchildren sometimes stay the weekend. A cold keeps her in bed most of a day.

Devices: one Ping'an Cat PIR unit (living room or hall; a fifth of homes have a second one in
the bedroom), mains (blind 10–60 s after a trigger) or battery (blind 2–4 min); a door sensor in
most homes that misses some openings; a GPS tag in most homes, carried on some outings and left
in the coat by the door on others (indoor scatter of tens of metres, accuracy 20–150 m),
charged every few nights. Heartbeats at the registry interval with jitter and occasional loss,
clocks that drift, a Last Will when a device drops, power cuts that silence every mains device
of a home for 1–6 h (cheap units come back with their clock at 2000-01-01 until NTP answers),
batteries that run down.

Incidents (truth lines, PRODUCT.md "Recording format"): falls by day, in the evening and at
night on the way to the bathroom — after a fall nothing of hers reaches a device until a finder
(carer, child, neighbour) comes in hours later (`inactivity`); SOS presses on the cat or the tag,
some cancelled within seconds (`sos`, `sos_cancelled`); a resident with dementia walking out of
her zone with the tag sewn into her coat (`geofence_exit`); batteries that run low
(`low_battery`) or die, and power cuts (`device_offline`). Context goes in `fault` lines
(power cuts, hospital nights, sick days, hospital trips with the tag, ...): replay ignores them.

Deterministic for a seed: every random stream is seeded from the seed and a name.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import cast

from devices.kinds import DeviceKind
from devices.payloads import Event, Gps, Heartbeat, Status
from devices.topics import DEFAULT_ROOT, Channel, DeviceTopic
from simulators.community import ZONE_RADIUS_M, Community, Device, Resident, build_community
from simulators.engine import LOCAL_TZ, Message, Truth, parse_start
from simulators.geo import LatLon, distance_m, polar

NAME = "harbin"
START = "2026-01-05"  # a Monday in the depth of a Harbin winter
MIN, HOUR, DAY = 60.0, 3600.0, 86400.0
Y2000 = 946684800.0  # a unit without a clock battery wakes up here after a power cut

BEDROOM, LIVING, KITCHEN, BATH, HALL = "bedroom", "living", "kitchen", "bath", "hall"

# What a person does in a room, as PIR-visible movements per minute.
SLEEP, NAP, SICK, STILL, CHORES, WASH = 0.004, 0.012, 0.01, None, 1.0, 1.5


@dataclass(frozen=True)
class HarbinWorld:
    """The world's name for benchmarks/detection.py; its length comes from --days."""

    name: str = NAME
    days: float | None = None


HARBIN = HarbinWorld()


@dataclass(frozen=True)
class Elder:
    """One resident's winter habits (hours are local)."""

    wake_h: float
    bed_h: float
    irregular: bool  # bed and rising vary by hours; sometimes up at 3 am
    getups: float  # mean bathroom trips a night (0: sleeps through)
    tv: float  # movements a minute sitting in front of the TV
    nap: float  # probability of an afternoon nap
    exercise: float  # probability of a morning outing (exercise or market)
    mahjong: float  # probability of an afternoon at a neighbour's mahjong table
    carry_tag: float  # probability the tag goes along on an outing
    carer_days: tuple[int, ...]  # weekdays (0 = Monday) the hourly carer comes
    child_day: int | None  # the weekday a child visits
    grandkids: float  # probability a weekend with the grandchildren staying
    clinic: float  # probability a day of a clinic or hospital visit
    stay_child: float  # probability a day of going to a child's for a night or two
    wanderer: bool  # dementia: walks off, the tag sewn into her coat
    charge_days: int  # the tag is charged every this many nights


@dataclass(frozen=True)
class Unit:
    """A PIR home unit and what it sees: per room, the chance a movement there triggers it."""

    device: str
    mains: bool
    blind_s: float
    sees: dict[str, float]


@dataclass
class Home:
    resident: Resident
    elder: Elder
    units: list[Unit]
    door: str | None
    door_miss: float  # share of openings the reed switch does not report
    tag: str | None


@dataclass(frozen=True)
class Seg:
    """She (or a visitor) is in a room from t0 to t1, moving `rate` times a minute."""

    t0: float
    t1: float
    room: str
    rate: float


@dataclass
class Trip:
    """She is out from t0 to t1; where (metres and bearing from home), how she gets there."""

    t0: float
    t1: float
    kind: str  # exercise, market, mahjong, clinic, hospital, child, wander, finder
    dist_m: float
    bearing: float
    speed: float  # m/s on the way (walking ~0.8, taxi ~7)
    tag: bool  # the tag goes along
    indoor: bool  # where she stays is indoors (weak GPS)


@dataclass
class Plan:
    """A resident's fortnight: her time at home, her trips, visitors, incidents."""

    segs: list[Seg] = field(default_factory=list)
    trips: list[Trip] = field(default_factory=list)
    visits: list[Seg] = field(default_factory=list)  # other people at home
    doors: list[float] = field(default_factory=list)  # door openings by visitors
    truths: list[tuple[float, dict[str, str]]] = field(default_factory=list)
    buttons: list[tuple[float, str, str]] = field(default_factory=list)  # (t, device role, "sos"|"sos_cancel")


def _local_hour(t: float) -> float:
    moment = datetime.fromtimestamp(t, UTC).astimezone(LOCAL_TZ)
    return moment.hour + moment.minute / 60


# ------------------------------------------------------------------ people and homes


def draw_elder(rng: random.Random) -> Elder:
    irregular = rng.random() < 0.15
    carer = rng.random() < 0.3
    child = rng.random() < 0.6
    return Elder(
        wake_h=rng.uniform(5.3, 7.4),
        bed_h=rng.uniform(19.6, 21.6),
        irregular=irregular,
        getups=0.0 if rng.random() < 0.25 else rng.uniform(0.4, 2.5),
        tv=rng.uniform(0.04, 0.15),
        nap=rng.uniform(0.3, 0.9),
        exercise=rng.uniform(0.15, 0.65),
        mahjong=rng.uniform(0.15, 0.45) if rng.random() < 0.35 else 0.0,
        carry_tag=rng.uniform(0.3, 0.95),
        carer_days=tuple(sorted(rng.sample(range(6), rng.randint(2, 3)))) if carer else (),
        child_day=rng.choice([5, 6]) if child else None,
        grandkids=rng.uniform(0.1, 0.4) if child else 0.0,
        clinic=rng.uniform(0.01, 0.04),
        stay_child=rng.uniform(0.0, 0.025) if child else 0.0,
        wanderer=False,
        charge_days=rng.randint(2, 5),
    )


def _units(rid: str, number: int, rng: random.Random) -> list[Unit]:
    """The home units and the rooms they see (a small flat: the living room unit glimpses the
    kitchen and the hall, not the bathroom; a hall unit sees people passing)."""
    kitchen = rng.uniform(0.1, 0.7)
    if rng.random() < 0.85:
        main = {LIVING: 0.95, HALL: 0.6, KITCHEN: kitchen, BEDROOM: rng.choice([0.0, 0.0, 0.1]), BATH: 0.0}
    else:
        main = {HALL: 0.95, LIVING: 0.3, KITCHEN: 0.3, BATH: 0.3, BEDROOM: 0.0}
    mains = rng.random() < 0.85
    units = [Unit(f"cat-{number:04d}", mains, _blind(mains, rng), main)]
    if rng.random() < 0.2:
        mains2 = rng.random() < 0.3
        units.append(Unit(f"cat-{number:04d}-b", mains2, _blind(mains2, rng), {BEDROOM: 0.9, HALL: 0.15}))
    return units


def _blind(mains: bool, rng: random.Random) -> float:
    return rng.uniform(10, 60) if mains else rng.uniform(120, 240)


def _device(did: str, kind: DeviceKind, rid: str, heartbeat_s: int, rng: random.Random) -> Device:
    fw = {DeviceKind.PINGAN_CAT: "1.4.2", DeviceKind.DOOR_SENSOR: "2.0.1", DeviceKind.GPS_TAG: "3.1.0"}[kind]
    return Device(did, kind, rid, heartbeat_s, fw, rng.randint(-88, -55), rng.uniform(55, 100), rng.uniform(0.05, 0.2))


def build_homes(residents: int, seed: int) -> tuple[Community, list[Home]]:
    """The registry (names, grids, responders from simulators.community) with this world's devices."""
    base = build_community(residents, seed, community_id="xuanxin", name="宣信社区")
    rng = random.Random(f"harbin:homes:{seed}")
    homes: list[Home] = []
    people: list[Resident] = []
    wanderers = set(rng.sample(range(residents), max(1, residents // 20)))
    for i, r in enumerate(base.residents):
        units = _units(r.id, i + 1, rng)
        elder = draw_elder(rng)
        if i in wanderers:
            elder = replace(elder, wanderer=True, carry_tag=1.0, mahjong=0.0)
        door = f"door-{i + 1:04d}" if rng.random() < 0.88 else None
        tag = f"tag-{i + 1:04d}" if i in wanderers or rng.random() < 0.75 else None
        devices = [_device(u.device, DeviceKind.PINGAN_CAT, r.id, 300, rng) for u in units]
        if door:
            devices.append(_device(door, DeviceKind.DOOR_SENSOR, r.id, 900, rng))
        if tag:
            devices.append(_device(tag, DeviceKind.GPS_TAG, r.id, 300, rng))
        resident = replace(r, devices=tuple(devices))
        people.append(resident)
        homes.append(Home(resident, elder, units, door, rng.uniform(0.0, 0.08) if door else 0.0, tag))
    community = Community(base.id, base.name, base.timezone, base.centre, base.grids, base.responders, tuple(people))
    return community, homes


# ------------------------------------------------------------------ incidents


@dataclass(frozen=True)
class Incident:
    kind: str  # fall_day, fall_evening, fall_night, sos, sos_cancelled, wander, battery_dies, tag_low, power_cut
    home: int
    day: int


def draw_incidents(homes: list[Home], days: int, seed: int) -> list[Incident]:
    """A plausible fortnight for 60 homes: two dozen falls, a dozen SOS presses, a few walks out
    of the zone, a few failing batteries and power cuts; at most one fall per resident, incident
    days apart; most days are ordinary."""
    rng = random.Random(f"harbin:incidents:{seed}")
    n = len(homes)
    scale = n * days / (60 * 14)
    wanted = {"fall_day": 10, "fall_evening": 6, "fall_night": 8, "sos": 8, "sos_cancelled": 5,
              "battery_dies": 3, "tag_low": 3, "power_cut": 6}
    taken: dict[int, set[int]] = {}
    fallen: set[int | str] = set()  # residents who fell; "kind:home" for device faults
    out: list[Incident] = []
    for kind, count in wanted.items():
        for _ in range(max(1, round(count * scale))):
            for _try in range(50):
                h = rng.randrange(n)
                d = rng.randrange(1, max(2, days - 1))
                if not _fits(kind, homes[h], h, d, taken, fallen):
                    continue
                taken.setdefault(h, set()).update({d - 1, d, d + 1})
                fallen.add(h if kind.startswith("fall") else f"{kind}:{h}")
                out.append(Incident(kind, h, d))
                break
    for h, home in enumerate(homes):
        if home.elder.wanderer:
            for d in rng.sample(range(1, max(2, days - 1)), min(2, max(1, days - 2))):
                if d not in taken.get(h, set()):
                    taken.setdefault(h, set()).add(d)
                    out.append(Incident("wander", h, d))
    return sorted(out, key=lambda i: (i.day, i.home, i.kind))


def _fits(kind: str, home: Home, h: int, d: int, taken: dict[int, set[int]], fallen: set[int | str]) -> bool:
    if d in taken.get(h, set()) or (kind.startswith("fall") and h in fallen):
        return False
    if kind in ("battery_dies", "tag_low", "power_cut") and f"{kind}:{h}" in fallen:
        return False  # a device dies once
    if kind == "fall_night" and home.elder.getups == 0:
        return False  # the night fall is on the way to the bathroom
    if kind == "tag_low" and home.tag is None:
        return False
    if kind == "battery_dies" and home.door is None and all(u.mains for u in home.units):
        return False
    return not (kind == "power_cut" and not any(u.mains for u in home.units))


# ------------------------------------------------------------------ a resident's fortnight


class Planner:
    """Plans one resident's days into segments, trips and visits."""

    def __init__(self, home: Home, midnight0: float, days: int, seed: int, incidents: list[Incident]) -> None:
        self.home = home
        self.elder = home.elder
        self.rng = random.Random(f"harbin:plan:{seed}:{home.resident.id}")
        self.m0 = midnight0
        self.days = days
        self.incidents = {i.day: i for i in incidents}
        self.plan = Plan()
        self.t = midnight0
        self.rid = home.resident.id
        self.in_bed = True  # the fortnight starts at midnight, everyone asleep

    # -- building blocks

    def stay(self, room: str, minutes: float, rate: float) -> None:
        end = self.t + minutes * MIN
        self.plan.segs.append(Seg(self.t, end, room, rate))
        self.t = end

    def fill(self, until: float, pattern: Sequence[tuple[str, float, float]]) -> None:
        """Move between rooms until `until`: (room, rate, mean minutes); each room as likely as
        the next, so her time there goes with its minutes (a cold: up every 2–3 hours)."""
        while self.t < until - 60:
            room, rate, mean = self.rng.choice(pattern)
            minutes = min(self.rng.expovariate(1 / mean) + 1, (until - self.t) / MIN)
            self.stay(room, minutes, rate)
        self.t = max(self.t, until)

    def trip(self, kind: str, minutes: float, dist_m: float, speed: float, indoor: bool, tag: bool | None = None) -> Trip:
        carry = self.home.tag is not None and (self.rng.random() < self.elder.carry_tag if tag is None else tag)
        self.stay(HALL, 2, 2.0)  # coat and boots
        trip = Trip(self.t, self.t + minutes * MIN, kind, dist_m, self.rng.uniform(0, 2 * math.pi), speed, carry, indoor)
        self.plan.trips.append(trip)
        self.t = trip.t1
        self.stay(HALL, 3, 2.0)
        return trip

    def fault(self, t: float, what: str, **extra: str) -> None:
        self.plan.truths.append((t, {"kind": "fault", "resident": self.rid, "fault": what, **extra}))

    # -- the night

    def sleep_until(self, wake: float) -> None:
        """In bed until `wake`, with bathroom trips (and an irregular sleeper's 3 am TV)."""
        start = self.t
        span = max(0.0, wake - start)
        count = self._poisson(self.elder.getups * span / (9 * HOUR))
        trips = sorted(start + self.rng.uniform(0.1, 0.95) * span for _ in range(count))
        if self.elder.irregular and self.rng.random() < 0.3 and span > 5 * HOUR:
            trips.append(start + self.rng.uniform(0.35, 0.7) * span)
            trips.sort()
        for i, when in enumerate(trips):
            if when <= self.t + 5 * MIN:
                continue
            self.stay(BEDROOM, (when - self.t) / MIN, SLEEP)
            if self.elder.irregular and i == len(trips) - 1 and self.rng.random() < 0.3:
                self.stay(LIVING, self.rng.uniform(40, 100), self.elder.tv)  # awake at 3 am, TV low
            else:
                self.getup()
        if wake > self.t:
            self.stay(BEDROOM, (wake - self.t) / MIN, SLEEP)

    def getup(self) -> None:
        self.stay(BEDROOM, 0.5, 3.0)
        self.stay(HALL, 0.3, 3.0)
        self.stay(BATH, self.rng.uniform(3, 8), WASH)
        self.stay(HALL, 0.3, 3.0)
        self.stay(BEDROOM, 1, 2.0)

    # -- the day

    def run(self) -> Plan:
        e = self.elder
        for d in range(self.days):
            ds = self.m0 + d * DAY
            if self.t >= ds + DAY - HOUR:
                continue  # away overnight, back tomorrow
            jitter = self.rng.uniform(-1.5, 1.5) if e.irregular else self.rng.uniform(-0.3, 0.3)
            wake = ds + (e.wake_h + jitter) * HOUR
            if self.in_bed:  # a late night still gets its sleep
                self.sleep_until(max(wake, self.t + 5 * HOUR))
            self.in_bed = False
            self.day(d, ds)
        self._visitors()
        self._incidents()
        return self.plan

    def day(self, d: int, ds: float) -> None:
        e, rng = self.elder, self.rng
        incident = self.incidents.get(d)
        ordinary = incident is not None and incident.kind != "power_cut"  # incident days: no trips away

        def at(h: float) -> float:  # a local hour of this day
            return ds + h * HOUR

        if self.t < at(10):
            self.stay(BATH, rng.uniform(8, 15), WASH)
            self.stay(KITCHEN, rng.uniform(15, 30), CHORES)
        if not ordinary and self.t < at(9) and rng.random() < 0.015:
            self.sick_day(ds)
            self.in_bed = True
            return
        away = None if ordinary else self._away_trip(at)
        if away == "gone":
            return
        chores = [(KITCHEN, CHORES, 15), (LIVING, 0.35, 25), (BEDROOM, 0.6, 8), (BATH, WASH, 5), (HALL, 1.5, 2)]
        if away is None and self.t < at(9.5) and rng.random() < e.exercise:
            self.fill(at(rng.uniform(7.3, 9.0)), chores)
            market = rng.random() < 0.5
            self.trip("market" if market else "exercise", rng.uniform(35, 80) if market else rng.uniform(45, 100),
                      rng.uniform(150, 420), rng.uniform(0.6, 1.0), indoor=market)
        if e.wanderer and incident is not None and incident.kind == "wander":
            self.wander_day(ds)
            self.in_bed = True
            return
        self.fill(at(11), chores)
        self.stay(KITCHEN, rng.uniform(30, 50), CHORES)
        self.stay(LIVING, rng.uniform(10, 30), e.tv)
        if self.t < at(13.5) and rng.random() < e.mahjong:
            self.trip("mahjong", rng.uniform(150, 300), rng.uniform(10, 80), 0.8, indoor=True)
        elif self.t < at(14) and rng.random() < e.nap:
            self.stay(BEDROOM, 1, 2.0)
            self.stay(BEDROOM, rng.uniform(50, 150), NAP)
            self.stay(BATH, rng.uniform(3, 6), WASH)
        sit = [(LIVING, e.tv, 45), (KITCHEN, CHORES, 6), (BATH, WASH, 5), (HALL, 1.5, 1)]
        if self.t < at(14.5) and rng.random() < 0.15:  # a short walk before dark
            self.fill(at(14.6), sit)
            self.trip("exercise", rng.uniform(25, 60), rng.uniform(100, 350), 0.8, indoor=False)
        self.fill(max(self.t, at(rng.uniform(16.3, 17.0))), sit)
        self.stay(KITCHEN, rng.uniform(35, 60), CHORES)  # dinner
        bed_jitter = rng.uniform(-1.0, 2.5) if e.irregular else rng.uniform(-0.4, 0.4)
        bed = max(self.t + 30 * MIN, at(e.bed_h + bed_jitter))
        evening = [(LIVING, e.tv * 0.8, 60), (BATH, WASH, 5), (KITCHEN, CHORES, 4)]
        self.fill(bed - 15 * MIN, evening)
        self.stay(BATH, rng.uniform(8, 14), WASH)
        self.stay(BEDROOM, 3, 1.5)
        self.in_bed = True

    def sick_day(self, ds: float) -> None:
        """A cold: back to bed after breakfast, up only for the bathroom and a bowl of porridge."""
        self.fault(self.t, "sick_day_in_bed")
        self.fill(ds + self.rng.uniform(17.5, 19.5) * HOUR, [(BEDROOM, SICK, 150), (BATH, WASH, 6), (KITCHEN, 0.8, 8)])
        self.stay(BEDROOM, 2, 1.0)

    def _away_trip(self, at: Callable[[float], float]) -> str | None:
        """A clinic or hospital morning (a quarter of hospital visits keep her overnight), or a
        night or two at a child's. "gone": she is away past tonight."""
        e, rng = self.elder, self.rng
        if self.t < at(8) and rng.random() < e.clinic:
            hospital = rng.random() < 0.5
            nights = rng.choice([1, 1, 2]) if hospital and rng.random() < 0.25 else 0
            back = (at(rng.uniform(11.0, 13.5)) if not nights else
                    at(24 * nights + rng.uniform(9.5, 15.0)))
            self.fill(at(rng.uniform(6.8, 7.8)), [(KITCHEN, CHORES, 10), (LIVING, 0.4, 10)])
            dist = rng.uniform(1500, 6000) if hospital else rng.uniform(250, 450)
            trip = self.trip("hospital" if hospital else "clinic", (back - self.t) / MIN - 2, dist,
                             rng.uniform(5, 9) if hospital else 0.7, indoor=True)
            if hospital:
                self.fault(trip.t0, "hospital_night" if nights else "hospital_morning", tag="yes" if trip.tag else "no")
            return "gone" if nights else "clinic"
        if self.t < at(10) and rng.random() < e.stay_child:
            nights = rng.choice([1, 1, 2])
            self.fill(at(rng.uniform(9.5, 11)), [(KITCHEN, CHORES, 10), (LIVING, 0.4, 10), (BEDROOM, 0.8, 10)])
            back = at(24 * nights + rng.uniform(10, 16))
            trip = self.trip("child", (back - self.t) / MIN - 2, rng.uniform(1500, 8000), rng.uniform(5, 9), indoor=True)
            self.fault(trip.t0, "night_at_child", tag="yes" if trip.tag else "no")
            return "gone"
        return None

    def wander_day(self, ds: float) -> None:
        """Dementia: out of the door in the late afternoon (or before dawn), walking on and on
        until someone brings her home."""
        rng = self.rng
        self.fill(max(self.t, ds + rng.uniform(14.5, 16.0) * HOUR), [(LIVING, self.elder.tv, 40), (KITCHEN, CHORES, 8), (BATH, WASH, 5)])
        self.trip("wander", rng.uniform(90, 200), 0.0, rng.uniform(0.6, 0.9), indoor=False, tag=True)
        # the truth line is written where her walk crosses the zone's edge (HarbinSimulation._wander_fixes)
        bed = max(self.t + HOUR, ds + self.elder.bed_h * HOUR)
        self.fill(bed, [(LIVING, 0.2, 40), (KITCHEN, CHORES, 8), (BATH, WASH, 5)])

    # -- other people

    def _visitors(self) -> None:
        """The carer (has a key: comes even when she is out), a child at the weekend (calls
        first: only when she is in), grandchildren staying a weekend."""
        e, rng = self.elder, self.rng
        for d in range(self.days):
            ds = self.m0 + d * DAY
            weekday = d % 7
            if weekday in e.carer_days and not self._away_at(ds + 12 * HOUR, overnight_only=True):
                t0 = ds + rng.uniform(9, 14) * HOUR
                self._visit(t0, t0 + rng.uniform(1.5, 3) * HOUR, [LIVING, KITCHEN, BATH, BEDROOM, HALL], 1.2)
            if e.child_day == weekday:
                t0 = ds + rng.uniform(13.5, 17) * HOUR
                t1 = t0 + rng.uniform(1, 3) * HOUR
                if not self._away_between(t0, t1):
                    self._visit(t0, t1, [LIVING, KITCHEN], 0.8)
            if weekday == 4 and e.grandkids and rng.random() < e.grandkids and d + 2 < self.days:
                t0, t1 = ds + rng.uniform(17.5, 19) * HOUR, ds + 2 * DAY + rng.uniform(14, 17) * HOUR
                if not any(tr.t0 < t1 and t0 < tr.t1 and tr.t1 - tr.t0 > 12 * HOUR for tr in self.plan.trips):
                    self.fault(t0, "grandchildren_weekend")
                    self._visit(t0, t1, [LIVING, KITCHEN, BATH, HALL], 0.6)
        self.plan.visits.sort(key=lambda s: s.t0)

    def _visit(self, t0: float, t1: float, rooms: list[str], rate: float) -> None:
        self.plan.doors += [t0, t1]
        self.plan.visits.append(Seg(t0, t0 + MIN, HALL, 3.0))  # boots off in the hall
        t = t0 + MIN
        while t < t1:
            minutes = self.rng.uniform(5, 30)
            room = self.rng.choice(rooms)
            # at night the children sleep on the sofa: a movement now and then
            night = not 7 <= _local_hour(t) < 22
            self.plan.visits.append(Seg(t, min(t1, t + minutes * MIN), room, 0.02 if night else rate))
            t += minutes * MIN

    def _away_at(self, t: float, overnight_only: bool = False) -> bool:
        return any(tr.t0 <= t < tr.t1 and (not overnight_only or tr.t1 - tr.t0 > 12 * HOUR) for tr in self.plan.trips)

    def _away_between(self, t0: float, t1: float) -> bool:
        return any(tr.t0 < t1 and t0 < tr.t1 for tr in self.plan.trips)

    # -- incidents

    def _incidents(self) -> None:
        for incident in self.incidents.values():
            ds = self.m0 + incident.day * DAY
            if incident.kind.startswith("fall"):
                self._fall(incident, ds)
            elif incident.kind in ("sos", "sos_cancelled"):
                self._sos(incident, ds)

    def _fall(self, incident: Incident, ds: float) -> None:
        """She falls; nothing of hers reaches a device until a finder comes in hours later."""
        rng = self.rng
        for _try in range(40):
            if incident.kind == "fall_night":
                night = [s for s in self.plan.segs if s.room == BATH and ds + 20 * HOUR < s.t0 < ds + 31 * HOUR
                         and not 7 <= _local_hour(s.t0) < 21]
                if not night:
                    tf = ds + rng.uniform(23.5, 28.5) * HOUR  # she got up anyway that night
                    room = HALL
                else:
                    tf, room = rng.choice(night).t0 - rng.uniform(5, 20), HALL
            else:
                lo, hi = (8.5, 16.0) if incident.kind == "fall_day" else (17.5, 20.5)
                tf = ds + rng.uniform(lo, hi) * HOUR
                here = [s for s in self.plan.segs if s.t0 <= tf < s.t1]
                if not here:
                    continue  # out at that moment
                room = rng.choice([here[0].room, BATH, KITCHEN, LIVING])
            finder = self._finder(tf)
            if finder is None:
                continue
            self._mask(tf, finder, room)
            self.plan.truths.append((tf, {"kind": "inactivity", "resident": self.rid, "fall": incident.kind,
                                          "room": room, "found_after_h": f"{(finder - tf) / HOUR:.2f}"}))
            return

    def _finder(self, tf: float) -> float | None:
        """Who comes in: the first visitor after the fall, or a neighbour or the child who could
        not get her on the phone (median ~11 h). None: someone would find her within 5 h."""
        drawn = tf + min(30.0, max(5.0, self.rng.lognormvariate(math.log(11), 0.45))) * HOUR
        if not 7 <= _local_hour(drawn) < 23:  # nobody calls round in the small hours
            drawn += ((31 - _local_hour(drawn)) % 24 + self.rng.uniform(0, 2)) * HOUR
        arrivals = [v for v in self.plan.doors if tf < v < drawn]
        if any(v < tf + 5 * HOUR for v in arrivals) or self._away_between(tf - 10 * MIN, tf + 10 * MIN):
            return None
        return min(arrivals) if arrivals else drawn

    def _mask(self, tf: float, found: float, room: str) -> None:
        """Her movements between the fall and the finder vanish, as do trips and visits she would
        have made; the finder comes in (door, movement), helps her up and stays a while."""
        p = self.plan
        p.trips = [tr for tr in p.trips if not (tr.t0 < found + 3 * HOUR and tf < tr.t1)]
        segs = []
        for s in p.segs:
            if s.t1 <= tf or s.t0 >= found + 2 * HOUR:
                segs.append(s)
            elif s.t0 < tf:
                segs.append(Seg(s.t0, tf, s.room, s.rate))
        segs.append(Seg(tf, found, room, 0.0))
        segs.append(Seg(found, found + 2 * HOUR, LIVING, 0.15))  # on the sofa after being helped up
        after = [s for s in segs if s.t0 >= found + 2 * HOUR]
        if after and after[0].t0 > found + 2 * HOUR:  # the gap a dropped trip left: she stays in
            segs.append(Seg(found + 2 * HOUR, after[0].t0, LIVING, 0.2))
        p.segs = sorted(segs, key=lambda s: s.t0)
        p.visits = [v for v in p.visits if not tf <= v.t0 < found]
        p.doors = [t for t in p.doors if not tf <= t < found]
        p.doors.append(found)
        p.visits.append(Seg(found, found + MIN, HALL, 3.0))
        p.visits.append(Seg(found + MIN, found + self.rng.uniform(1, 2.5) * HOUR, room, 1.5))
        p.doors.append(p.visits[-1].t1)
        p.visits.sort(key=lambda s: s.t0)

    def _sos(self, incident: Incident, ds: float) -> None:
        """A press on the cat's button (at home) or on the tag (out, or in her pocket at home);
        a mistaken press is cancelled within seconds."""
        rng = self.rng
        for _try in range(40):
            t = ds + rng.uniform(7.5, 21.0) * HOUR
            out = next((tr for tr in self.plan.trips if tr.t0 < t < tr.t1), None)
            if out is not None and not out.tag:
                continue
            role = "tag" if out is not None or (self.home.tag and rng.random() < 0.25) else "cat"
            self.plan.buttons.append((t, role, "sos"))
            if incident.kind == "sos_cancelled":
                self.plan.buttons.append((t + rng.uniform(4, 22), role, "sos_cancel"))
                self.plan.truths.append((t, {"kind": "sos_cancelled", "resident": self.rid}))
            else:
                self.plan.truths.append((t, {"kind": "sos", "resident": self.rid}))
            return

    def _poisson(self, mean: float) -> int:
        count, level, limit = 0, 1.0, math.exp(-mean)
        while True:
            level *= self.rng.random()
            if level < limit:
                return count
            count += 1


# ------------------------------------------------------------------ devices


@dataclass
class _Dev:
    """A device's physics during the run: clock, seq, battery, power."""

    id: str
    kind: DeviceKind
    hb_s: float
    rssi: int
    fw: str
    mains: bool
    rng: random.Random
    seq: int = 0
    offset: float = 0.0  # clock offset at the start, seconds
    drift: float = 0.0  # seconds a day
    no_rtc: bool = False  # wakes up in 2000 after a power loss
    battery0: float = 100.0
    drain: float = 0.1  # percent a day
    charges: list[float] = field(default_factory=list)  # times the battery is refilled
    dead: list[tuple[float, float]] = field(default_factory=list)  # silent spans (battery dead, power cut)
    resync: list[tuple[float, float]] = field(default_factory=list)  # (power back, NTP answers)
    low: bool = False
    start: float = 0.0

    def clock(self, t: float) -> float:
        for back, synced in self.resync:
            if back <= t < synced:
                return Y2000 + (t - back)
        return t + self.offset + self.drift * (t - self.start) / DAY

    def battery(self, t: float) -> int:
        if self.mains:
            return 100
        last = max((c for c in self.charges if c <= t), default=None)
        level = (100.0 - self.drain * (t - last) / DAY) if last is not None else self.battery0 - self.drain * (t - self.start) / DAY
        return int(min(100.0, max(1.0, level)) + 0.5)

    def silent(self, t: float) -> bool:
        return any(a <= t < b for a, b in self.dead)

    def next_seq(self) -> int:
        self.seq = (self.seq + 1) % 2**32
        return self.seq


class HarbinSimulation:
    """Iterate to get `Message`s and `Truth`s in time order (what `write_recording` needs)."""

    def __init__(self, residents: int = 60, days: float = 14, seed: int = 1, start: str | None = None,
                 topic_root: str = DEFAULT_ROOT) -> None:
        self.seed = seed
        self.days = math.ceil(days)
        self.start = parse_start(start or START)
        self.end = self.start + days * DAY
        self.root = topic_root
        self.community, self.homes = build_homes(residents, seed)
        self.incidents = draw_incidents(self.homes, self.days, seed)
        self.community_devices = {d.id: d.resident for d in self.community.devices}
        self.devs: dict[str, _Dev] = {}
        self.records: list[tuple[float, int, str, str, object]] = []  # (t, order, device or "", kind, data)

    # -- assembly

    def __iter__(self) -> Iterator[Message | Truth]:
        streams = [self._home_stream(h, home) for h, home in enumerate(self.homes)]
        last = self.start
        for t, _order, did, kind, data in heapq.merge(*streams):
            if t < self.start or t >= self.end:
                continue
            t = max(round(t, 3), last)
            last = t
            if kind == "truth":
                assert isinstance(data, dict)
                yield Truth(t, data)
                continue
            if kind in ("heartbeat", "gps"):
                low = self._low_battery(t, did)
                if low is not None:
                    yield low
            yield self._message(t, did, kind, data)

    def _low_battery(self, t: float, did: str) -> Truth | None:
        """The contract's low_battery: a report at or under 20 % opens it, over 30 % clears it."""
        dev = self.devs[did]
        level = dev.battery(t)
        if level > 30:
            dev.low = False
        if level <= 20 and not dev.low:
            dev.low = True
            resident = self.community_devices[did]
            return Truth(t, {"kind": "low_battery", "resident": resident, "device": did})
        return None

    def _message(self, t: float, did: str, kind: str, data: object) -> Message:
        dev = self.devs[did]
        ts = int(dev.clock(t - 0.2))
        if kind == "status":
            assert data in ("online", "offline")
            return Message(t, str(DeviceTopic(did, Channel.STATUS, self.root)), Status(state=data), True)
        if kind == "heartbeat":
            hb = Heartbeat(ts, dev.next_seq(), dev.battery(t), dev.rssi + dev.rng.randint(-4, 4), dev.fw)
            return Message(t, str(DeviceTopic(did, Channel.HEARTBEAT, self.root)), hb)
        if kind == "gps":
            lat, lon, acc, speed = cast(tuple[float, float, float, float], data)
            fix = Gps(lat, lon, ts, dev.next_seq(), acc, speed, dev.battery(t))
            return Message(t, str(DeviceTopic(did, Channel.GPS, self.root)), fix)
        assert isinstance(data, str)
        return Message(t, str(DeviceTopic(did, Channel.EVENT, self.root)), Event(data, ts, dev.next_seq()))

    def _home_stream(self, h: int, home: Home) -> list[tuple[float, int, str, str, object]]:
        """Everything one home sends in the fortnight, with its truth lines, time-ordered."""
        m0 = self.start
        incidents = [i for i in self.incidents if i.home == h]
        plan = Planner(home, m0, self.days, self.seed, incidents).run()
        rng = random.Random(f"harbin:devices:{self.seed}:{home.resident.id}")
        devs = self._devices(home, rng)
        out: list[tuple[float, str, str, object]] = [(t, "", "truth", truth) for t, truth in plan.truths]
        out += self._device_faults(home, incidents, devs, rng, plan)
        for unit in home.units:
            out += self._pir(unit, plan, devs[unit.device], rng)
        if home.door:
            out += self._door(home, plan, rng)
        if home.tag:
            out += self._tag(home, plan, devs[home.tag], rng)
        out += self._buttons(home, plan)
        for dev in devs.values():
            out += self._heartbeats(dev, rng)
        out = [r for r in out if r[2] == "truth" or r[2] == "status" or not devs[r[1]].silent(r[0])]
        out += self._status(devs, rng)
        out.sort(key=lambda r: r[0])
        return [(t, h * 10_000_000 + i, did, kind, data) for i, (t, did, kind, data) in enumerate(out)]

    def _devices(self, home: Home, rng: random.Random) -> dict[str, _Dev]:
        devs: dict[str, _Dev] = {}
        for d in home.resident.devices:
            mains = any(u.device == d.id and u.mains for u in home.units)
            dev = _Dev(d.id, d.kind, d.heartbeat_s, d.rssi, d.fw, mains, random.Random(f"harbin:dev:{self.seed}:{d.id}"),
                       seq=rng.randrange(1, 60000), start=self.start)
            dev.drift = rng.uniform(-8, 8)
            dev.offset = rng.uniform(-600, 200) if rng.random() < 0.1 else rng.uniform(-2, 2)  # a few never synced
            dev.no_rtc = mains and rng.random() < 0.5
            if d.kind == DeviceKind.GPS_TAG:  # charged before it falls below ~40 %
                dev.drain = rng.uniform(0.5, 0.9) * 60 / (home.elder.charge_days + 1)
                dev.charges = self._charges(home.elder, rng)
            elif not mains:
                dev.battery0, dev.drain = rng.uniform(45, 100), rng.uniform(0.05, 0.3)
            devs[d.id] = dev
        self.devs.update(devs)
        return devs

    def _charges(self, elder: Elder, rng: random.Random) -> list[float]:
        """The tag goes on the charger in the evening every few nights."""
        out, day = [], rng.randrange(elder.charge_days)
        while day < self.days + 1:
            out.append(self.start + day * DAY + rng.uniform(19.5, 21.5) * HOUR)
            day += elder.charge_days + (1 if rng.random() < 0.15 else 0)
        return [self.start - DAY, *out]

    # -- device faults

    def _device_faults(self, home: Home, incidents: list[Incident], devs: dict[str, _Dev], rng: random.Random,
                       plan: Plan) -> list[tuple[float, str, str, object]]:
        out: list[tuple[float, str, str, object]] = []
        rid = home.resident.id
        for inc in incidents:
            ds = self.start + inc.day * DAY
            if inc.kind == "power_cut":
                t0 = ds + rng.uniform(8, 20) * HOUR
                t1 = t0 + rng.uniform(1, 6) * HOUR
                mains = [u.device for u in home.units if u.mains]
                out.append((t0, "", "truth", {"kind": "fault", "resident": rid, "fault": "power_cut",
                                              "hours": f"{(t1 - t0) / HOUR:.1f}", "devices": ",".join(mains)}))
                out.append((t0, "", "truth", {"kind": "device_offline", "resident": rid, "device": mains[0]}))
                for did in mains:
                    dev = devs[did]
                    dev.dead.append((t0, t1))
                    if dev.no_rtc:
                        dev.resync.append((t1, t1 + rng.uniform(60, 900)))
            elif inc.kind == "battery_dies":
                choices = [u.device for u in home.units if not u.mains] + ([home.door] if home.door else [])
                did = rng.choice(choices)
                out += self._dying(devs[did], rid, ds + rng.uniform(0, 24) * HOUR, rng, sudden=rng.random() < 0.5)
            elif inc.kind == "tag_low":
                assert home.tag is not None
                out += self._forgotten_charger(devs[home.tag], rid, ds, rng)
        return out

    def _dying(self, dev: _Dev, rid: str, t_dead: float, rng: random.Random, sudden: bool) -> list[tuple[float, str, str, object]]:
        """A battery unit dies: slowly (low first, then gone) or suddenly (a cell that gives up
        in the cold of the stairwell at 40 %)."""
        if sudden:
            dev.battery0, dev.drain = rng.uniform(35, 60), 0.1
        else:  # 20 % reached ~3 days before, dead at ~3 %
            dev.drain = 5.0
            dev.battery0 = 3 + dev.drain * (t_dead - self.start) / DAY
        dev.dead.append((t_dead, math.inf))
        return [(t_dead, "", "truth", {"kind": "device_offline", "resident": rid, "device": dev.id}),
                (t_dead, "", "truth", {"kind": "fault", "resident": rid, "fault": "battery_dead", "device": dev.id})]

    def _forgotten_charger(self, dev: _Dev, rid: str, ds: float, rng: random.Random) -> list[tuple[float, str, str, object]]:
        """She forgets the charger: the tag runs down; charged again a day or two later, or
        it dies first and is charged when her son notices."""
        before = [c for c in dev.charges if c < ds]
        last = before[-1] if before else self.start - DAY
        dies = rng.random() < 0.5
        t_dead = last + 97 / dev.drain * DAY
        recharge = (t_dead + rng.uniform(6, 30) * HOUR) if dies else last + rng.uniform(85, 92) / dev.drain * DAY
        dev.charges = [c for c in dev.charges if not last < c < recharge] + [recharge]
        dev.charges.sort()
        forgot = max(last, self.start)  # the evening she should have charged it (or the run's start)
        out: list[tuple[float, str, str, object]] = [(forgot, "", "truth", {"kind": "fault", "resident": rid, "fault": "charger_forgotten", "device": dev.id})]
        if dies:
            dev.dead.append((t_dead, recharge))
            out.append((t_dead, "", "truth", {"kind": "device_offline", "resident": rid, "device": dev.id}))
        return out

    # -- sensors

    def _pir(self, unit: Unit, plan: Plan, dev: _Dev, rng: random.Random) -> list[tuple[float, str, str, object]]:
        """Movements (a Poisson stream per segment, plus one on entering a room), seen with the
        unit's chance for that room, then the unit's blind time after each trigger."""
        moves: list[float] = []
        for seg in [*plan.segs, *plan.visits]:
            see = unit.sees.get(seg.room, 0.0)
            if see <= 0:
                continue
            if seg.rate > 0 and rng.random() < see:  # coming into the room
                moves.append(seg.t0 + rng.uniform(0, min(20.0, seg.t1 - seg.t0)))
            t = seg.t0
            rate = seg.rate * see / MIN
            if rate <= 0:
                continue
            while True:
                t += rng.expovariate(rate)
                if t >= seg.t1:
                    break
                moves.append(t)
        moves.sort()
        out: list[tuple[float, str, str, object]] = []
        ready = -math.inf
        for t in moves:
            if t >= ready:
                out.append((t + rng.uniform(0.05, 0.6), unit.device, "event", "motion"))
                ready = t + unit.blind_s
        return out

    def _door(self, home: Home, plan: Plan, rng: random.Random) -> list[tuple[float, str, str, object]]:
        assert home.door is not None
        openings = [tr.t0 for tr in plan.trips] + [tr.t1 for tr in plan.trips] + plan.doors
        out: list[tuple[float, str, str, object]] = []
        for t in sorted(openings):
            if rng.random() < home.door_miss:
                continue  # the magnet sat too far from the reed switch this time
            out.append((t, home.door, "event", "door_open"))
            if rng.random() > home.door_miss / 2:
                out.append((t + rng.uniform(4, 25), home.door, "event", "door_close"))
        return out

    def _buttons(self, home: Home, plan: Plan) -> list[tuple[float, str, str, object]]:
        out: list[tuple[float, str, str, object]] = []
        for t, role, what in plan.buttons:
            did = home.tag if role == "tag" and home.tag else home.units[0].device
            out.append((t, did, "event", what))
        return out

    def _heartbeats(self, dev: _Dev, rng: random.Random) -> list[tuple[float, str, str, object]]:
        out: list[tuple[float, str, str, object]] = []
        t = self.start + rng.uniform(5, dev.hb_s)
        while t < self.end:
            if rng.random() > 0.01:  # one in a hundred is lost on the way
                out.append((t, dev.id, "heartbeat", None))
            t += dev.hb_s + rng.uniform(-3, 3)
        return out

    def _status(self, devs: dict[str, _Dev], rng: random.Random) -> list[tuple[float, str, str, object]]:
        """Online at start; the broker's Last Will when a device drops (keepalive × 1.5); online
        again when it comes back."""
        out: list[tuple[float, str, str, object]] = []
        for dev in devs.values():
            out.append((self.start + rng.uniform(0, 5), dev.id, "status", "online"))
            for a, b in dev.dead:
                out.append((a + rng.uniform(60, 100), dev.id, "status", "offline"))
                if b < math.inf:
                    out.append((b + rng.uniform(20, 60), dev.id, "status", "online"))
        return out

    # -- the tag

    def _tag(self, home: Home, plan: Plan, dev: _Dev, rng: random.Random) -> list[tuple[float, str, str, object]]:
        """Fixes: every 10–30 min while still (indoors: scatter of tens of metres, accuracy
        20–150 m, now and then a Doppler speed from noise), every 30–90 s while she walks or rides."""
        home_at = home.resident.home
        still_s = rng.uniform(600, 1800)
        moving_s = rng.uniform(30, 90)
        out: list[tuple[float, str, str, object]] = []
        carried = sorted((tr for tr in plan.trips if tr.tag), key=lambda tr: tr.t0)
        t = self.start + rng.uniform(0, still_s)
        for tr in [*carried, None]:
            until = tr.t0 if tr is not None else self.end
            while t < until:
                out.append((t, dev.id, "gps", self._indoor_fix(home_at, rng)))
                t += still_s * rng.uniform(0.9, 1.1)
            if tr is None:
                break
            if tr.kind == "wander":
                out += self._wander_fixes(home.resident.id, dev.id, home_at, tr, moving_s, rng)
            else:
                out += [(ft, dev.id, "gps", fix) for ft, fix in self._trip_fixes(home_at, tr, moving_s, still_s, rng)]
            t = tr.t1 + rng.uniform(30, still_s)
        return out

    @staticmethod
    def _indoor_fix(at: LatLon, rng: random.Random) -> tuple[float, float, float, float]:
        acc = rng.uniform(20, 150)
        err = acc * (rng.uniform(0.1, 0.8) if rng.random() > 0.05 else rng.uniform(0.8, 1.3))
        lat, lon = polar(at, rng.uniform(0, 2 * math.pi), min(err, 60 + rng.uniform(0, 40)))
        speed = round(rng.uniform(0.1, 0.9), 1) if rng.random() < 0.03 else 0.0
        return round(lat, 6), round(lon, 6), round(acc, 1), speed

    def _trip_fixes(self, home_at: LatLon, tr: Trip, moving_s: float, still_s: float,
                    rng: random.Random) -> list[tuple[float, tuple[float, float, float, float]]]:
        out: list[tuple[float, tuple[float, float, float, float]]] = []
        travel = min(tr.dist_m / tr.speed, (tr.t1 - tr.t0) / 3)
        dest = polar(home_at, tr.bearing, tr.dist_m)
        t = tr.t0 + rng.uniform(5, moving_s)
        while t < tr.t1:
            if t < tr.t0 + travel or t > tr.t1 - travel:
                frac = (t - tr.t0) / travel if t < tr.t0 + travel else (tr.t1 - t) / travel
                p = polar(home_at, tr.bearing, tr.dist_m * frac)
                acc = rng.uniform(5, 30)
                lat, lon = polar(p, rng.uniform(0, 2 * math.pi), acc * rng.uniform(0, 0.6))
                out.append((t, (round(lat, 6), round(lon, 6), round(acc, 1), round(tr.speed * rng.uniform(0.8, 1.2), 1))))
                t += moving_s * rng.uniform(0.8, 1.2)
            else:
                fix = self._indoor_fix(dest, rng) if tr.indoor else self._outdoor_still(dest, rng)
                out.append((t, fix))
                t += (still_s if tr.indoor else moving_s * 2) * rng.uniform(0.9, 1.1)
        return out

    @staticmethod
    def _outdoor_still(at: LatLon, rng: random.Random) -> tuple[float, float, float, float]:
        acc = rng.uniform(5, 25)
        lat, lon = polar(at, rng.uniform(0, 2 * math.pi), rng.uniform(0, 30))  # square exercise, tai chi
        return round(lat, 6), round(lon, 6), round(acc, 1), round(rng.uniform(0, 0.4), 1)

    def _wander_fixes(self, rid: str, did: str, home_at: LatLon, tr: Trip, moving_s: float,
                      rng: random.Random) -> list[tuple[float, str, str, object]]:
        """She walks on with slow turns; after a while someone brings her back by car. The
        truth line (geofence_exit) is where she crosses the zone's edge."""
        out: list[tuple[float, str, str, object]] = []
        walk_end = tr.t1 - rng.uniform(15, 30) * MIN
        pos, bearing, t, last = home_at, tr.bearing, tr.t0, tr.t0
        crossed = False
        while t < walk_end:
            step = 10.0
            while last + step <= t:  # her path in 10 s steps, so the crossing time is exact enough
                bearing += rng.gauss(0, 0.05)
                pos = polar(pos, bearing, tr.speed * step)
                last += step
                if not crossed and distance_m(home_at, pos) > ZONE_RADIUS_M:
                    crossed = True
                    out.append((last, "", "truth", {"kind": "geofence_exit", "resident": rid}))
            acc = rng.uniform(5, 30)
            lat, lon = polar(pos, rng.uniform(0, 2 * math.pi), acc * rng.uniform(0, 0.6))
            out.append((t, did, "gps", (round(lat, 6), round(lon, 6), round(acc, 1), round(tr.speed * rng.uniform(0.8, 1.2), 1))))
            t += moving_s * rng.uniform(0.8, 1.2)
        t0, t1 = t, tr.t1
        while t < t1:  # the car home
            frac = (t1 - t) / (t1 - t0)
            p = (home_at[0] + (pos[0] - home_at[0]) * frac, home_at[1] + (pos[1] - home_at[1]) * frac)
            out.append((t, did, "gps", (round(p[0], 6), round(p[1], 6), round(rng.uniform(5, 20), 1), round(rng.uniform(4, 9), 1))))
            t += moving_s * rng.uniform(0.8, 1.2)
        return out
