"""A blind world: elderly people living alone in Shanghai flats in spring (30 March – April 2026).

Written from the contract (PRODUCT.md, docs/DEVICE_PROTOCOL.md) and from how old people in
Shanghai live, without reading how the rules detect anything. It reuses the registry objects
(simulators.community), the message structs and `write_recording` (simulators.engine); the people,
their days and the device physics are its own. Homes are in 曹杨新村 (普陀区): 1950s–90s walk-up
新村 blocks (floors 1–6) and newer high-rises (floors 7–30) around them.

People (`Elder`): spring, 10–20 °C, the rainy 清明 season (rain keeps many indoors). Weekdays many
go to the 日间照料中心 (08:45–16:00) or only to the 长者食堂 for lunch; the 阿姨 (domestic helper) comes
2–4 h on fixed weekdays (every day for the frail); the morning market, tai chi or the park when it
is dry, a senior-university class by bus; the rubbish taken down in the fixed sorting hours
(定时定点, 07:00–09:00 / 18:00–20:00); calligraphy or reading at the desk, sitting still for hours;
TV dramas in the evening, radio in bed, insomnia nights, a nap after lunch. Children visit at the
weekend, cook lunch or take her out; 清明 (4–6 April) grave-sweeping in 青浦 or 苏州 — a long day
or a night away; hospital visits (a day of queues); a few go to stay with a child for a week.
Frail residents (walker) spend the day in one chair.

Devices (`Home`): one Ping'an Cat in the living room, or one in every room behind a Zigbee hub
that can drop all of them at once (unplugged, crashed); mains units (blind 30–60 s) or battery
PIRs (blind 2–4 min, AA cells that run down); door sensors on security doors with smart locks
(reliable) or on old wooden 新村 doors (missed openings, bounce chatter); GPS tags as a smartwatch
worn all day and charged at night (sometimes forgotten) or a keychain tag that stays in the bag;
high-rise indoor scatter and multipath, street-canyon jumps, no fix in the metro; NB-IoT water
meters, smoke and gas alarms. Wi-Fi drops and router reboots (events buffered, flushed late with
their ts), a vendor's night firmware push (reboot: Last Will, online 1–5 min later, a new fw),
announced power cuts for building maintenance (mains units dead, some clocks reset to 2000),
broadband faults, units unplugged for a kettle, device clocks minutes behind.

Safe zones: the community office gives a zone to residents with dementia (a circle around home
that covers her usual places), and a large 街道-sized one where the family asked for it; the
others have none. Incidents (truth lines): falls (the bathroom at night, the kitchen, out of the
chair, in the hall just back from the door, getting out of bed) after which nothing of hers
reaches any device until the finder (helper, day-care staff who call when she does not come,
a child whose evening call went unanswered, a neighbour) comes in; SOS presses (real, or
mistaken and never cancelled), mistaken presses cancelled within 30 s; wanderings out of the zone
(the line where her path crosses its edge); device outages of three heartbeats or more
(`device_offline`); batteries first reported at 20 % or less (`low_battery`); smoke alarms that
really sounded (`smoke`: critical at once by the contract, even when it was the steamer).
Context (`fault`) lines say what a reader needs: day-care days, helper visits, trips, nights
away, outages shorter than three heartbeats, firmware pushes, hospital stays.
"""

from __future__ import annotations

import heapq
import math
import random
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import yaml

from devices.kinds import DeviceKind
from devices.payloads import Event, Gps, Heartbeat, Status
from devices.topics import DEFAULT_ROOT, Channel, DeviceTopic
from simulators.community import Community, Device, Habits, Resident, build_community, registry_dict
from simulators.engine import LOCAL_TZ, Message, Truth, parse_start
from simulators.geo import LatLon, distance_m, polar

NAME = "shanghai"
START = "2026-03-30"  # a Monday; 清明 holiday Sat 4 – Mon 6 April
CENTRE: LatLon = (31.2382, 121.4105)  # 曹杨新村, 普陀区 (WGS-84)
MIN, HOUR, DAY = 60.0, 3600.0, 86400.0
QINGMING_DAYS = (5, 6, 7)  # day indices of the holiday from START
HOME_SPREAD_M = 700.0

LIVING, BED, KITCHEN, BATH, HALL, OUT = "living", "bedroom", "kitchen", "bathroom", "hall", "out"
ROOMS = (LIVING, BED, KITCHEN, BATH)
#: Movements a minute a PIR that sees the room well could notice, by what she is doing.
RATE = {"sleep": 0.006, "radio": 0.015, "nap": 0.012, "doze": 0.02, "sit": 0.04, "hobby": 0.035, "tv": 0.07,
        "read": 0.03, "eat": 0.3, "cook": 1.0, "chores": 1.2, "wash": 0.9, "toilet": 0.8, "pass": 2.0,
        "exercise": 1.0, "floor": 0.0, "rest": 0.1}
FIDGET_ACTS = ("tv", "sit", "hobby", "read", "doze")  # sitting: how much she moves is her own
WATER = {"cook": 0.12, "wash": 0.25, "toilet": 0.6, "chores": 0.08}  # water_flow starts a minute
STREETS = ["兰溪路", "梅岭北路", "枣阳路", "花溪路", "杏山路", "曹杨路", "南岭路", "桂巷路", "棠浦路", "沙溪路"]
FIRMWARE = {DeviceKind.PINGAN_CAT: "1.4.2", DeviceKind.DOOR_SENSOR: "2.0.3", DeviceKind.GPS_TAG: "3.1.4",
            DeviceKind.WATER_METER: "1.2.0", DeviceKind.SMOKE_ALARM: "1.0.9", DeviceKind.GAS_ALARM: "1.1.1"}
PUSHED_FW = "1.5.0"  # the vendor's night push to the mains home units
KEEPALIVE_S = 60.0  # the broker publishes the Last Will after 1.5 keepalives of silence
BUFFER = 64
WANDER_RIDE_S = 30 * MIN  # the car that brings a wanderer home
CLOCK_2000 = 946_684_800.0


@dataclass(frozen=True)
class ShanghaiWorld:
    """The world's name for benchmarks/detection.py; its length comes from --days."""

    name: str = NAME
    days: float | None = None


SHANGHAI = ShanghaiWorld()


def local_hour(t: float) -> float:
    moment = datetime.fromtimestamp(t, UTC).astimezone(LOCAL_TZ)
    return moment.hour + moment.minute / 60 + moment.second / 3600


def local(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).astimezone(LOCAL_TZ).strftime("%a %d %H:%M")


def poisson(rng: random.Random, mean: float) -> int:
    n, limit, p = 0, math.exp(-mean), rng.random()
    while p > limit:
        n += 1
        p *= rng.random()
    return n


# ------------------------------------------------------------------ people and homes


@dataclass(frozen=True)
class Elder:
    wake_h: float
    bed_h: float
    frail: bool  # walker, mostly in one chair
    dementia: bool
    daycare: bool  # weekdays at the 日间照料中心
    canteen: bool  # weekday lunch at the 长者食堂
    helper_days: tuple[int, ...]  # weekdays (0 = Mon) the 阿姨 comes
    helper_h: float
    helper_len_h: float
    market_p: float
    park_p: float
    uni_day: int | None  # senior-university class, weekday
    hobby: str  # "calligraphy", "reading", "tv", "mahjong"
    nap_p: float
    nap_min: float
    insomnia_p: float
    nocturia: float  # mean bathroom visits a night
    evening_out_p: float
    checkin: bool  # presses the unit's 平安 button every morning
    child_visit_p: float  # a weekend day
    child_call_h: float  # the child's evening phone call
    qingming: str  # "day" | "night" | "none"
    hospital_p: float  # a weekday hospital visit
    long_stay: bool  # goes to stay with a child for a week
    fidget: float


@dataclass(frozen=True)
class Unit:
    device: str
    room: str
    sees: dict[str, float]
    mains: bool
    blind: tuple[float, float]
    via_hub: bool  # behind the home's Zigbee hub


@dataclass(frozen=True)
class Door:
    device: str
    smart_lock: bool
    miss: float  # share of openings not reported
    chatter: float  # share of uses that bounce (extra open/close)
    via_hub: bool


@dataclass(frozen=True)
class Tag:
    device: str
    watch: bool  # a smartwatch worn all day, charged at night; else a keychain tag in the bag
    forgets_charge: float  # nights the watch is not put on the charger
    carry: float  # outings it goes along on


@dataclass
class Home:
    resident: Resident
    elder: Elder
    units: list[Unit]
    door: Door | None
    tag: Tag | None
    water: str | None
    smoke: str | None
    gas: str | None
    places: dict[str, tuple[float, float]]  # place → (distance m, bearing rad)
    floor: int
    building: int
    weak_wifi: bool
    nightly_router_reboot: bool
    zone_m: float | None

    @property
    def rid(self) -> str:
        return self.resident.id

    @property
    def has_hub(self) -> bool:
        return any(u.via_hub for u in self.units)

    def place(self, name: str) -> LatLon:
        dist, bearing = self.places[name]
        return polar(self.resident.home, bearing, dist)


def build_homes(n: int, seed: int) -> tuple[Community, list[Home]]:
    """Names, contacts, grids and responders from simulators.community; Shanghai homes, people and devices."""
    base = build_community(n, seed, CENTRE, "caoyang", "曹杨新村街道")
    rng = random.Random(f"shanghai:homes:{seed}")
    residents, homes = [], []
    n_buildings = max(2, n // 5)
    for i, r in enumerate(base.residents):
        home_at = _round(polar(CENTRE, rng.uniform(0, 2 * math.pi), HOME_SPREAD_M * math.sqrt(rng.random())))
        elder = _elder(rng)
        highrise = rng.random() < 0.4
        floor = rng.randint(7, 30) if highrise else rng.randint(1, 6)
        street = rng.choice(STREETS)
        address = (f"{street}{rng.randint(1, 400)}弄{rng.randint(1, 40)}号{floor}0{rng.randint(1, 6)}室" if not highrise
                   else f"{street}{rng.randint(1, 900)}号{floor}{rng.randint(1, 8):02d}室")
        places = _places(rng, elder)
        devices, units, door, tag, water, smoke, gas = _devices(i + 1, r.id, elder, highrise, rng)
        relative = polar(home_at, places["child"][1], places["child"][0])
        resident = replace(r, address=address, home=home_at, devices=devices, relative_home=_round(relative),
                           habits=Habits(elder.wake_h, elder.bed_h, elder.market_p, elder.park_p, elder.nap_p,
                                         elder.nocturia, 0.02, tag.carry if tag else 0.0, 500.0))
        home = Home(resident, elder, units, door, tag, water, smoke, gas, places, floor, rng.randrange(n_buildings),
                    rng.random() < 0.25, rng.random() < 0.12, None)
        home.zone_m = _zone(home, rng)
        residents.append(resident)
        homes.append(home)
    community = Community(base.id, base.name, base.timezone, CENTRE, base.grids, base.responders, tuple(residents))
    return community, homes


def _round(p: LatLon) -> LatLon:
    return round(p[0], 6), round(p[1], 6)


def _elder(rng: random.Random) -> Elder:
    frail = rng.random() < 0.15
    dementia = rng.random() < 0.1
    daycare = rng.random() < (0.5 if dementia or frail else 0.22)
    helper_days = tuple(range(7)) if frail else tuple(sorted(rng.sample(range(7), rng.choice([0, 0, 1, 2, 3, 5]))))
    early = rng.random() < 0.6
    return Elder(
        wake_h=rng.uniform(4.8, 6.3) if early else rng.uniform(6.3, 8.2),
        bed_h=rng.uniform(20.3, 21.8) if early else rng.uniform(21.8, 23.7),
        frail=frail,
        dementia=dementia,
        daycare=daycare,
        canteen=not daycare and rng.random() < 0.35,
        helper_days=helper_days,
        helper_h=rng.choice([8.5, 9.0, 13.5, 14.0]),
        helper_len_h=rng.uniform(2.0, 4.0),
        market_p=0.15 if frail else rng.uniform(0.3, 0.85),
        park_p=0.05 if frail else rng.uniform(0.1, 0.7),
        uni_day=rng.randrange(5) if not frail and not dementia and rng.random() < 0.18 else None,
        hobby=rng.choice(["calligraphy", "reading", "tv", "tv", "mahjong"]),
        nap_p=rng.uniform(0.3, 0.95),
        nap_min=rng.uniform(40, 110),
        insomnia_p=rng.choice([0.0, 0.05, 0.1, 0.3]),
        nocturia=rng.uniform(0.5, 2.8),
        evening_out_p=0.0 if frail else rng.uniform(0.0, 0.4),
        checkin=rng.random() < 0.2,
        child_visit_p=rng.uniform(0.1, 0.7),
        child_call_h=rng.uniform(19.0, 20.5),
        qingming=rng.choice(["day", "day", "night", "none", "none"]),
        hospital_p=rng.uniform(0.01, 0.05) * (2 if frail else 1),
        long_stay=rng.random() < 0.05,
        fidget=rng.uniform(0.4, 1.3) * (0.5 if frail else 1.0),
    )


def _places(rng: random.Random, elder: Elder) -> dict[str, tuple[float, float]]:
    def at(lo: float, hi: float) -> tuple[float, float]:
        return rng.uniform(lo, hi), rng.uniform(0, 2 * math.pi)

    return {
        "rubbish": at(30, 120), "market": at(150, 600), "park": at(250, 1100), "daycare": at(150, 650),
        "canteen": at(100, 500), "mahjong": at(60, 400), "square": at(80, 500), "uni": at(1500, 5000),
        "hospital": at(2500, 9000), "child": at(3000, 22000), "cemetery": at(35000, 85000),
        "outing": at(1500, 12000),
    }


def _devices(number: int, rid: str, elder: Elder, highrise: bool, rng: random.Random) -> tuple[Any, ...]:
    def dev(kind: DeviceKind, did: str, hb: int, battery0: float = 100.0, drain: float = 0.0, rssi: int | None = None) -> Device:
        return Device(did, kind, rid, hb, FIRMWARE[kind], rssi if rssi is not None else rng.randint(-88, -55), battery0, drain)

    devices: list[Device] = []
    units: list[Unit] = []
    every_room = rng.random() < 0.35
    rooms = list(ROOMS) if every_room else [LIVING]
    for k, room in enumerate(rooms):
        mains = (room == LIVING and rng.random() < 0.7) if every_room else rng.random() < 0.75
        did = f"cat-{number:04d}" if k == 0 else f"cat-{number:04d}-{room[:3]}"
        if mains:
            devices.append(dev(DeviceKind.PINGAN_CAT, did, 300))
        else:
            battery0 = _cells(rng, 60, 30)
            devices.append(dev(DeviceKind.PINGAN_CAT, did, 900, battery0, rng.uniform(0.2, 0.6)))
        units.append(Unit(did, room, _sight(room, every_room), mains,
                          (30.0, 60.0) if mains else (120.0, 240.0), every_room))
    door = None
    if rng.random() < 0.9:
        smart = (highrise and rng.random() < 0.6) or rng.random() < 0.2
        did = f"door-{number:04d}"
        devices.append(dev(DeviceKind.DOOR_SENSOR, did, 900, _cells(rng, 50, 28),
                           rng.uniform(0.15, 0.45)))
        door = Door(did, smart, 0.003 if smart else rng.uniform(0.04, 0.15), 0.0 if smart else rng.uniform(0.02, 0.08),
                    every_room)
    tag = None
    if elder.dementia or rng.random() < 0.6:
        watch = elder.dementia or rng.random() < 0.55
        did = f"tag-{number:04d}"
        devices.append(dev(DeviceKind.GPS_TAG, did, 300, 100.0, 0.0, rng.randint(-100, -75)))
        tag = Tag(did, watch, rng.choice([0.0, 0.0, 0.02, 0.05]) * (2 if elder.dementia else 1),
                  rng.uniform(0.85, 0.98) if watch else rng.uniform(0.6, 0.95))
    water = smoke = gas = None
    if rng.random() < 0.55:
        water = f"water-{number:04d}"
        devices.append(dev(DeviceKind.WATER_METER, water, 3600, rng.uniform(40, 100), 0.05, rng.randint(-110, -85)))
    if rng.random() < 0.5:
        smoke = f"smoke-{number:04d}"
        devices.append(dev(DeviceKind.SMOKE_ALARM, smoke, 3600, _cells(rng, 50, 26),
                           0.35, rng.randint(-110, -85)))
    if rng.random() < 0.4:  # the gas company's alarm, mains powered, NB-IoT
        gas = f"gas-{number:04d}"
        devices.append(dev(DeviceKind.GAS_ALARM, gas, 3600, rssi=rng.randint(-110, -85)))
    return tuple(devices), units, door, tag, water, smoke, gas


def _cells(rng: random.Random, fresh_from: float, worn_to: float) -> float:
    """Battery at the start: most cells fresh enough, about one in eight nearly spent."""
    return rng.uniform(21, worn_to) if rng.random() < 0.12 else rng.uniform(fresh_from, 100)


def _sight(room: str, every_room: bool) -> dict[str, float]:
    """How well a unit sees each room: one living-room unit sees the hall and a little of the kitchen."""
    if every_room:
        return {room: 0.9, HALL: 0.5} if room == LIVING else {room: 0.9}
    return {LIVING: 0.9, HALL: 0.6, KITCHEN: 0.25}


def _zone(home: Home, rng: random.Random) -> float | None:
    """The community office's decision: dementia → a circle over her usual places; some families ask
    for a large one (the 街道); the others have none."""
    if home.tag is None:
        return None
    if home.elder.dementia:
        usual = max(home.places[p][0] for p in ("market", "daycare", "canteen", "square", "rubbish", "park", "mahjong"))
        return round(max(500.0, usual * 1.3 + 100), -1)
    if rng.random() < 0.2:
        return 2500.0
    return None


# ------------------------------------------------------------------ the plan of her days


@dataclass
class Trip:
    kind: str
    t0: float
    t1: float
    place: str
    tag: bool  # the tag went along
    companion: str = ""  # child, staff, police (who brings her back)


@dataclass
class Seg:
    t0: float
    t1: float
    room: str
    act: str
    trip: Trip | None = None


@dataclass
class Visit:
    who: str
    t0: float
    t1: float
    rate: float  # movements a minute
    rooms: tuple[str, ...]
    water: float = 0.0
    door: bool = True  # False: came in with her (the door is hers)


@dataclass
class Press:
    t: float
    device: str
    type: str  # "sos", "sos_cancel", "button"


@dataclass
class Plan:
    segs: list[Seg] = field(default_factory=list)
    visits: list[Visit] = field(default_factory=list)
    presses: list[Press] = field(default_factory=list)
    smoke: list[float] = field(default_factory=list)
    truths: list[tuple[float, dict[str, str]]] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)

    @property
    def trips(self) -> list[Trip]:
        seen: list[Trip] = []
        for s in self.segs:
            if s.trip is not None and (not seen or seen[-1] is not s.trip):
                seen.append(s.trip)
        return seen

    def at(self, t: float) -> Seg | None:
        lo, hi = 0, len(self.segs)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.segs[mid].t1 <= t:
                lo = mid + 1
            else:
                hi = mid
        return self.segs[lo] if lo < len(self.segs) and self.segs[lo].t0 <= t else None

    def replace(self, t0: float, t1: float, new: list[Seg]) -> None:
        """Put `new` in [t0, t1); trips cut by the window end where it begins (she never came back)."""
        out: list[Seg] = []
        for s in self.segs:
            if s.t1 <= t0 or s.t0 >= t1:
                out.append(s)
                continue
            if s.t0 < t0:
                out.append(Seg(s.t0, t0, s.room, s.act, s.trip))
            if s.t1 > t1 and s.trip is None:
                out.append(Seg(t1, s.t1, s.room, s.act))
        out += new
        out.sort(key=lambda s: s.t0)
        self.segs = _fill_gaps(out)
        self.presses = [p for p in self.presses if not t0 <= p.t < t1]  # no morning check-in from the floor

    def at_home(self, t0: float, t1: float) -> bool:
        return all(s.room != OUT for s in self.segs if s.t0 < t1 and t0 < s.t1)


def _fill_gaps(segs: list[Seg]) -> list[Seg]:
    """Trips cut short leave gaps: she is home and resting there (the finder / child brought her)."""
    out: list[Seg] = []
    for s in segs:
        if out and s.t0 > out[-1].t1 + 1:
            out.append(Seg(out[-1].t1, s.t0, LIVING, "rest"))
        if out and s.t0 < out[-1].t1:
            s = Seg(out[-1].t1, s.t1, s.room, s.act, s.trip)
            if s.t1 <= s.t0:
                continue
        out.append(s)
    return out


@dataclass(frozen=True)
class Incident:
    home: int
    kind: str  # a fall kind, "sos", "sos_mistaken", "sos_cancelled", "wander", "smoke_burnt"
    day: int


FALLS = ("fall_bath_night", "fall_kitchen", "fall_chair", "fall_hall", "fall_bed")


class _Day:
    """A cursor that lays her day out segment by segment."""

    def __init__(self, planner: Planner, t: float) -> None:
        self.p = planner
        self.t = t

    def do(self, room: str, act: str, minutes: float) -> None:
        last = self.p.segs[-1].room if self.p.segs else room
        if last != room and OUT not in (last, room) and HALL not in (last, room):
            self._step(HALL, "pass", self.p.rng.uniform(0.2, 0.5))  # from room to room through the hall
        self._step(room, act, max(minutes, 1.0))

    def _step(self, room: str, act: str, minutes: float) -> None:
        t1 = self.t + minutes * MIN
        self.p.segs.append(Seg(self.t, t1, room, act))
        self.t = t1

    def until(self, room: str, act: str, hour: float, midnight: float) -> None:
        end = midnight + hour * HOUR
        if end > self.t + MIN:
            self.do(room, act, (end - self.t) / MIN)

    def go(self, kind: str, place: str, minutes: float, companion: str = "", tag_p: float | None = None) -> Trip:
        home = self.p.home
        carry = home.tag.carry if home.tag else 0.0
        tag = home.tag is not None and self.p.rng.random() < (carry if tag_p is None else tag_p)
        trip = Trip(kind, self.t, self.t + minutes * MIN, place, tag, companion)
        self.p.do_pass(self, HALL)
        trip.t0 = self.t
        trip.t1 = self.t + minutes * MIN
        self.p.segs.append(Seg(trip.t0, trip.t1, OUT, kind, trip))
        self.t = trip.t1
        self.p.do_pass(self, HALL)
        return trip


class Planner:
    """Her days from her habits, then the incidents written over them."""

    def __init__(self, home: Home, start: float, days: int, seed: int, rain: list[bool]) -> None:
        self.home = home
        self.e = home.elder
        self.start = start
        self.days = days
        self.rain = rain
        self.seed = seed
        self.rng = random.Random(f"shanghai:plan:{seed}:{home.rid}")
        self.segs: list[Seg] = []
        self.plan = Plan()
        self.long_stay_day = self.rng.randrange(1, max(2, days - 3)) if self.e.long_stay else None

    def fact(self, t: float, what: str, **extra: str) -> None:
        self.plan.truths.append((t, {"kind": "fault", "resident": self.home.rid, "fault": what, **extra}))

    def wet(self, d: int) -> bool:
        return self.rain[min(d, len(self.rain) - 1)]

    def do_pass(self, day: _Day, room: str) -> None:
        day.do(room, "pass", self.rng.uniform(0.5, 1.5))

    def routine(self) -> Plan:
        e, rng = self.e, self.rng
        wake = self.start + (e.wake_h - 24) * HOUR  # the night before day 0 ends at her wake time
        t = self.start - 2 * HOUR
        self.segs.append(Seg(t, wake + rng.uniform(-20, 20) * MIN, BED, "sleep"))
        d = 0
        while d < self.days + 1:
            if self.long_stay_day is not None and d == self.long_stay_day:
                d = self._long_stay(d)
                continue
            if e.qingming == "night" and d == QINGMING_DAYS[0]:
                d = self._qingming_night(d)
                continue
            self._day(d)
            d += 1
        self.plan.segs = _fill_gaps(self.segs)
        return self.plan

    # -- one ordinary day

    def _day(self, d: int) -> None:
        m = self.start + d * DAY
        weekday = d % 7
        workday = weekday < 5 and d not in QINGMING_DAYS
        day = _Day(self, self.segs[-1].t1)
        self._morning(day, d, m, workday)
        self._midday(day, m, workday)
        self._afternoon(day, d, m, workday)
        self._evening(day, d, m)
        self._night(day, d, m)

    def _morning(self, day: _Day, d: int, m: float, workday: bool) -> None:
        e, rng = self.e, self.rng
        day.do(BATH, "toilet", rng.uniform(3, 6))
        day.do(BATH, "wash", rng.uniform(8, 18))
        day.do(KITCHEN, "cook", rng.uniform(10, 25))
        day.do(LIVING, "eat", rng.uniform(12, 25))
        if e.checkin:
            self._press(day.t + rng.uniform(0, 3) * MIN, "button")
        if rng.random() < 0.6 and day.t < m + 8.7 * HOUR:
            day.go("rubbish", "rubbish", rng.uniform(5, 14), tag_p=0.3)
        if e.qingming == "day" and d == self._qingming_day():
            day.until(LIVING, "tv", 6.5, m)
            trip = day.go("qingming", "cemetery", rng.uniform(8.5, 11) * 60, companion="child", tag_p=0.95)
            self.fact(trip.t0, "qingming_trip", back=local(trip.t1))
            return
        if workday and rng.random() < e.hospital_p:
            day.until(LIVING, "tv", 7.0, m)
            trip = day.go("hospital", "hospital", rng.uniform(4, 7.5) * 60, companion=rng.choice(["", "child"]))
            self.fact(trip.t0, "hospital_visit", back=local(trip.t1))
            return
        if workday and e.daycare:
            day.until(LIVING, "tv", rng.uniform(8.4, 8.8), m)
            trip = day.go("daycare", "daycare", rng.uniform(6.8, 7.4) * 60, companion="staff")
            self.fact(trip.t0, "daycare_day", back=local(trip.t1))
            return
        if workday and e.uni_day == d % 7:
            day.until(LIVING, "read", 8.3, m)
            day.go("senior_uni", "uni", rng.uniform(180, 230))
        elif rng.random() < e.park_p * (0.25 if self.wet(d) else 1.0):
            day.go("park", "park", rng.uniform(50, 110))
        if rng.random() < e.market_p * (0.7 if self.wet(d) else 1.0) and day.t < m + 10 * HOUR:
            day.go("market", "market", rng.uniform(35, 80))
        self._home_block(day, m, 10.8 + rng.uniform(-0.3, 0.3))

    def _qingming_day(self) -> int:
        return QINGMING_DAYS[0] if self.home.resident.id[-1] in "02468" else QINGMING_DAYS[1]

    def _midday(self, day: _Day, m: float, workday: bool) -> None:
        e, rng = self.e, self.rng
        if day.t > m + 13 * HOUR:
            return
        if workday and e.canteen and day.t < m + 11.3 * HOUR:
            day.until(LIVING, "tv", 11.0, m)
            day.go("canteen", "canteen", rng.uniform(45, 80))
        else:
            day.do(KITCHEN, "cook", rng.uniform(20, 40))
            day.do(LIVING, "eat", rng.uniform(15, 30))
        day.do(KITCHEN, "chores", rng.uniform(5, 15))
        if rng.random() < e.nap_p:
            if e.frail or rng.random() < 0.3:
                day.do(LIVING, "doze", e.nap_min * rng.uniform(0.7, 1.4))  # in the chair
            else:
                day.do(BED, "nap", e.nap_min * rng.uniform(0.7, 1.3))

    def _afternoon(self, day: _Day, d: int, m: float, workday: bool) -> None:
        e, rng = self.e, self.rng
        if day.t > m + 16 * HOUR:
            return
        if e.hobby == "mahjong" and rng.random() < 0.5:
            day.go("mahjong", "mahjong", rng.uniform(120, 210), tag_p=0.5)
        elif rng.random() < e.park_p * 0.5 * (0.3 if self.wet(d) else 1.0):
            day.go("walk", "park", rng.uniform(40, 90))
        elif d % 7 >= 5 and rng.random() < e.child_visit_p * 0.6:
            trip = day.go("family_outing", "outing", rng.uniform(150, 300), companion="child")
            self.fact(trip.t0, "child_takes_her_out", back=local(trip.t1))
        self._home_block(day, m, 16.8 + rng.uniform(-0.5, 0.5))

    def _home_block(self, day: _Day, m: float, until_h: float) -> None:
        """Time at home: her hobby, chores, TV, in pieces."""
        e, rng = self.e, self.rng
        end = m + until_h * HOUR
        while day.t < end - 10 * MIN:
            left = (end - day.t) / MIN
            if e.frail:
                day.do(LIVING, "sit", min(left, rng.uniform(60, 150)))
            elif e.hobby == "calligraphy" and rng.random() < 0.5:
                day.do(LIVING, "hobby", min(left, rng.uniform(60, 180)))
            elif e.hobby == "reading" and rng.random() < 0.5:
                day.do(BED if rng.random() < 0.3 else LIVING, "read", min(left, rng.uniform(40, 120)))
            elif rng.random() < 0.3:
                day.do(rng.choice([KITCHEN, LIVING, BED, BATH]), "chores", min(left, rng.uniform(10, 40)))
            else:
                day.do(LIVING, "tv", min(left, rng.uniform(30, 90)))
            if rng.random() < 0.4 and day.t < end:
                day.do(BATH, "toilet", rng.uniform(2, 5))

    def _evening(self, day: _Day, d: int, m: float) -> None:
        e, rng = self.e, self.rng
        day.do(KITCHEN, "cook", rng.uniform(20, 45))
        day.do(LIVING, "eat", rng.uniform(15, 30))
        day.do(KITCHEN, "chores", rng.uniform(5, 15))
        if rng.random() < 0.35 and day.t < m + 19.7 * HOUR:
            day.go("rubbish", "rubbish", rng.uniform(5, 12), tag_p=0.3)
        if not self.wet(d) and rng.random() < e.evening_out_p:
            day.go("square", "square", rng.uniform(40, 80))
        self._tv_evening(day, m + (e.bed_h - rng.uniform(0.3, 0.6)) * HOUR)
        day.do(BATH, "wash", rng.uniform(8, 20))

    def _tv_evening(self, day: _Day, end: float) -> None:
        """The evening's TV dramas, an episode at a time, with tea from the thermos and the toilet between."""
        rng = self.rng
        while day.t < end - 5 * MIN:
            day.do(LIVING, "tv", min((end - day.t) / MIN, rng.uniform(35, 80)))
            if day.t < end - 5 * MIN:
                day.do(*rng.choice([(KITCHEN, "chores"), (BATH, "toilet")]), rng.uniform(2, 5))

    def _night(self, day: _Day, d: int, m: float) -> None:
        """Bed until the next morning: radio, bathroom visits, sometimes a sleepless hour or two."""
        e, rng = self.e, self.rng
        wake = m + DAY + (e.wake_h + rng.uniform(-0.4, 0.4)) * HOUR
        if rng.random() < 0.3:
            day.do(BED, "radio", rng.uniform(15, 50))
        visits = sorted(rng.uniform(day.t + 40 * MIN, wake - 30 * MIN) for _ in range(poisson(rng, e.nocturia)))
        sleepless = rng.uniform(day.t + HOUR, wake - 2 * HOUR) if rng.random() < e.insomnia_p else None
        for v in visits:
            if v > day.t + MIN:
                day.do(BED, "sleep", (v - day.t) / MIN)
                day.do(BATH, "toilet", rng.uniform(3, 7))
        if sleepless is not None and sleepless > day.t + MIN:
            day.do(BED, "sleep", (sleepless - day.t) / MIN)
            day.do(LIVING, rng.choice(["read", "tv"]), rng.uniform(50, 150))
            self.fact(sleepless, "sleepless_night")
        if wake > day.t + MIN:
            day.do(BED, "sleep", (wake - day.t) / MIN)

    # -- nights away

    def _qingming_night(self, d: int) -> int:
        """Grave-sweeping in 苏州 with the family: leave in the morning, a night there, back the next evening."""
        rng, m = self.rng, self.start + d * DAY
        day = _Day(self, self.segs[-1].t1)
        day.do(BATH, "wash", rng.uniform(10, 20))
        day.do(LIVING, "eat", rng.uniform(10, 20))
        day.until(LIVING, "tv", rng.uniform(7.0, 8.0), m)
        back = m + DAY + rng.uniform(17.5, 20.0) * HOUR
        trip = day.go("qingming_night", "cemetery", (back - day.t) / MIN, companion="child", tag_p=0.9)
        self.fact(trip.t0, "qingming_night_away", back=local(trip.t1))
        day.do(LIVING, "tv", rng.uniform(30, 80))
        day.do(BATH, "wash", rng.uniform(8, 15))
        self._night(day, d + 1, m + DAY)
        return d + 2

    def _long_stay(self, d: int) -> int:
        """After a cold, her son takes her to his flat for a week."""
        rng, m = self.rng, self.start + d * DAY
        nights = rng.randint(5, 9)
        day = _Day(self, self.segs[-1].t1)
        day.do(BATH, "wash", rng.uniform(10, 20))
        day.do(LIVING, "eat", rng.uniform(10, 20))
        day.until(LIVING, "tv", rng.uniform(9.5, 10.5), m)
        back = m + nights * DAY + rng.uniform(15, 18) * HOUR
        trip = day.go("stay_with_child", "child", (back - day.t) / MIN, companion="child", tag_p=0.8)
        self.fact(trip.t0, "stay_with_child", back=local(trip.t1))
        self._home_block(day, m + nights * DAY, 17.5)
        self._evening(day, d + nights, m + nights * DAY)
        self._night(day, d + nights, m + nights * DAY)
        return d + nights + 1

    # -- visitors

    def visitors(self) -> None:
        e, rng = self.e, self.rng
        for d in range(self.days + 1):
            m = self.start + d * DAY
            if d % 7 in e.helper_days:
                t0 = m + (e.helper_h + rng.uniform(-0.2, 0.3)) * HOUR
                self._visit("helper", t0, t0 + e.helper_len_h * HOUR, 1.1, (LIVING, KITCHEN, BATH, BED), 0.15)
            if d % 7 >= 5 and rng.random() < e.child_visit_p:
                t0 = m + rng.uniform(10.0, 15.0) * HOUR
                self._visit("child", t0, t0 + rng.uniform(2, 4) * HOUR, 0.6, (LIVING, KITCHEN), 0.05)

    def _visit(self, who: str, t0: float, t1: float, rate: float, rooms: tuple[str, ...], water: float) -> None:
        """A visitor comes only while she is at home (the helper has a key but comes for her)."""
        if not self.plan.at_home(t0, t1):
            return
        self.plan.visits.append(Visit(who, t0, t1, rate, rooms, water))
        self.fact(t0, f"{who}_visit", until=local(t1))

    def _press(self, t: float, kind: str) -> None:
        self.plan.presses.append(Press(t, self.unit_in(LIVING), kind))

    def unit_in(self, room: str) -> str:
        units = self.home.units
        return next((u.device for u in units if u.room == room), units[0].device)


# ------------------------------------------------------------------ incidents


def draw_incidents(homes: list[Home], plans: dict[str, Plan], days: int, seed: int) -> list[Incident]:
    """~24 falls, ~8 SOS, ~6 cancelled presses, a wandering per dementia resident, per 60 homes × 14 days."""
    rng = random.Random(f"shanghai:incidents:{seed}")
    scale = len(homes) * days / (60 * 14)
    weights = [3.0 if h.elder.frail else 2.0 if h.elder.dementia else 1.0 for h in homes]
    out: list[Incident] = []
    for _ in range(poisson(rng, 24 * scale)):
        out.append(Incident(rng.choices(range(len(homes)), weights)[0], rng.choice(FALLS), rng.randrange(days)))
    for kind, mean in (("sos", 6), ("sos_mistaken", 2), ("sos_cancelled", 7), ("smoke_steam", 2)):
        for _ in range(poisson(rng, mean * scale)):
            out.append(Incident(rng.randrange(len(homes)), kind, rng.randrange(days)))
    for h, home in enumerate(homes):
        if home.elder.dementia and home.tag is not None and home.zone_m and rng.random() < min(1.0, days / 10):
            out.append(Incident(h, "wander", rng.randrange(days)))
    return out


class IncidentWriter:
    """Writes one home's incidents over her plan, and their truth lines."""

    def __init__(self, planner: Planner, outages: list[tuple[str, Span]]) -> None:
        self.p = planner
        self.plan = planner.plan
        self.rng = random.Random(f"shanghai:incident:{planner.seed}:{planner.home.rid}")
        self.busy: list[tuple[float, float]] = []  # spans another incident has taken
        # her devices offline but buffering: what she did before would arrive after
        self.cuts = [(s.t0, s.t1) for _, s in outages if s.mode == "cut"]
        self.outages = outages
        self.rid = planner.home.rid

    def free(self, t0: float, t1: float) -> bool:
        return all(t1 <= a or b <= t0 for a, b in self.busy)

    def connected(self, t: float) -> bool:
        return all(t + MIN <= a or b <= t - MIN for a, b in self.cuts)

    def alive(self, device: str, t: float) -> bool:
        """A press on a unit that is off does nothing: she would phone instead."""
        return all(not (s.t0 - MIN <= t < s.t1 + MIN) for did, s in self.outages if did == device)

    def truth(self, t: float, kind: str, **extra: str) -> None:
        self.plan.truths.append((t, {"kind": kind, "resident": self.rid, **extra}))

    # -- falls

    def fall(self, inc: Incident) -> bool:
        for d in [inc.day, *self.rng.sample(range(self.p.days), self.p.days)]:
            found = self._fall_time(inc.kind, d)
            if found is None:
                continue
            tf, room = found
            finder, found_t = self._finder(tf)
            after, end = self._aftermath(found_t, room)
            if not self.free(tf - 2 * HOUR, end + 2 * HOUR) or not self.connected(tf) \
                    or found_t >= self.p.start + (self.p.days + 1) * DAY:
                continue
            self._lie(tf, found_t, room, finder, after, end)
            self.truth(tf, "inactivity", fall=inc.kind, room=room, finder=finder,
                       found_after_h=f"{(found_t - tf) / HOUR:.2f}")
            self.plan.incidents.append(replace(inc, day=d))
            return True
        return False

    def _fall_time(self, kind: str, d: int) -> tuple[float, str] | None:
        m = self.p.start + d * DAY
        segs = [s for s in self.plan.segs if m <= s.t0 < m + DAY and s.trip is None]
        rng = self.rng
        if kind == "fall_bath_night":
            night = [s for s in segs if s.act == "toilet" and (local_hour(s.t0) < 5.5 or local_hour(s.t0) > 23)]
            return (night[0].t0 + rng.uniform(60, 180), BATH) if night else None
        if kind == "fall_kitchen":
            cook = [s for s in segs if s.act == "cook" and s.t1 - s.t0 > 10 * MIN]
            s = rng.choice(cook) if cook else None
            return (rng.uniform(s.t0 + 3 * MIN, s.t1 - MIN), KITCHEN) if s else None
        if kind == "fall_chair":
            chair = [s for s in segs if s.act in ("tv", "sit", "hobby", "doze") and 13 <= local_hour(s.t0) < 21]
            s = rng.choice(chair) if chair else None
            return (s.t1 - rng.uniform(5, 60), LIVING) if s else None
        if kind == "fall_hall":
            back = [tr for tr in self.plan.trips if m <= tr.t1 < m + DAY and tr.t1 - tr.t0 < 10 * HOUR]
            tr = rng.choice(back) if back else None
            return (tr.t1 + rng.uniform(40, 100), HALL) if tr else None
        first = next((s for s in segs if s.act == "toilet" and 4.5 <= local_hour(s.t0) < 9.5), None)
        return (first.t0 - rng.uniform(10, 40), BED) if first else None

    def _finder(self, tf: float) -> tuple[str, float]:
        """Who comes in first, 3–16 h later: the helper on her day, day-care staff after the unanswered
        call, the child after the unanswered evening call, a neighbour who notices."""
        e, rng, m = self.p.e, self.rng, self.p.start + math.floor((tf - self.p.start) / DAY) * DAY
        cands: list[tuple[float, str]] = []
        for v in self.plan.visits:
            if v.who == "helper" and v.t0 > tf:
                cands.append((v.t0, "helper"))
        for tr in self.plan.trips:
            if tr.kind == "daycare" and tr.t0 > tf:
                cands.append((tr.t0 + rng.uniform(1.5, 3.5) * HOUR, "daycare_staff"))
        for k in (0, 1):
            call = m + k * DAY + e.child_call_h * HOUR
            if call > tf:
                cands.append((call + rng.uniform(1.0, 2.0) * HOUR, "child"))
        cands.append((tf + rng.uniform(5, 16) * HOUR, "neighbour"))
        t, who = min(cands)
        if t < tf + 3 * HOUR:
            t, who = tf + rng.uniform(3, 4.5) * HOUR, f"{who}_no_key_called_child"
        return who, min(t, tf + 16 * HOUR)

    def _aftermath(self, found: float, room: str) -> tuple[list[Seg], float]:
        """After the finder: the ambulance and a stay in hospital, or rest at home."""
        rng = self.rng
        if rng.random() < 0.55:
            leave = found + rng.uniform(35, 60) * MIN
            back = leave + rng.uniform(1.5, 5) * DAY
            back = math.floor((back - self.p.start) / DAY) * DAY + self.p.start + rng.uniform(14, 17) * HOUR
            trip = Trip("ambulance_hospital", leave, back, "hospital", False, "child")
            return [Seg(found, leave, room, "rest"), Seg(leave, back, OUT, trip.kind, trip)], back
        end = found + rng.uniform(2, 3) * HOUR
        return [Seg(found, end, LIVING, "rest")], end

    def _lie(self, tf: float, found: float, room: str, finder: str, after: list[Seg], end: float) -> None:
        """On the floor until found; then what `_aftermath` drew."""
        comes = Visit(finder, found, found + self.rng.uniform(50, 80) * MIN, 1.2, (room, LIVING, HALL))
        hospital = [s.trip for s in after if s.trip is not None]
        if hospital:
            self.p.fact(hospital[0].t0, "hospital_stay", back=local(hospital[0].t1))
        self.plan.replace(tf, end, [Seg(tf, found, room, "floor"), *after])
        self.plan.visits = [v for v in self.plan.visits if v.t1 <= tf or v.t0 >= end] + [comes]
        self.busy.append((tf - 2 * HOUR, end + 2 * HOUR))

    # -- presses

    def press(self, inc: Incident) -> bool:
        """An SOS: pain or dizziness and the button within reach; mistaken presses while dusting
        the unit or by a grandchild, cancelled within 30 s or never."""
        rng = self.rng
        for d in [inc.day, *rng.sample(range(self.p.days), self.p.days)]:
            m = self.p.start + d * DAY
            t = m + rng.uniform(8.0, 21.0) * HOUR
            seg = self.plan.at(t)
            if seg is None or seg.room == OUT or seg.act in ("sleep", "floor") or not self.free(t - HOUR, t + 8 * HOUR) \
                    or not self.connected(t):
                continue
            unit = self.p.unit_in(seg.room if seg.room in ROOMS else LIVING)
            if not self.alive(unit, t):
                continue
            if inc.kind == "sos_cancelled":
                self.plan.presses += [Press(t, unit, "sos"), Press(t + rng.uniform(3, 25), unit, "sos_cancel")]
                self.truth(t, "sos_cancelled", via=unit, why=rng.choice(["dusting the unit", "grandchild", "thought it was the light"]))
            else:
                why = "mistaken, did not know how to cancel" if inc.kind == "sos_mistaken" else rng.choice(
                    ["chest pain", "dizzy", "could not get up from the toilet", "breathless"])
                self.plan.presses.append(Press(t, unit, "sos"))
                self.truth(t, "sos", via=unit, why=why)
                arrive = t + rng.uniform(15, 35) * MIN
                self.plan.visits.append(Visit("grid_worker", arrive, arrive + rng.uniform(25, 50) * MIN, 0.8, (LIVING, HALL)))
            self.busy.append((t - HOUR, t + HOUR))
            self.plan.incidents.append(replace(inc, day=d))
            return True
        return False

    def smoke(self, inc: Incident) -> bool:
        """The steamer or a pot of 腌笃鲜 sets the kitchen's alarm off: a real smoke event."""
        if self.p.home.smoke is None:
            return False
        cooks = [s for s in self.plan.segs if s.act == "cook" and s.t1 - s.t0 > 12 * MIN and self.free(s.t0, s.t1)]
        if not cooks:
            return False
        s = cooks[min(len(cooks) - 1, max(0, int(inc.day / self.p.days * len(cooks))))]
        t = self.rng.uniform(s.t0 + 5 * MIN, s.t1)
        self.plan.smoke.append(t)
        self.busy.append((t - HOUR, t + HOUR))
        self.truth(t, "smoke", cause="cooking steam")
        self.plan.incidents.append(inc)
        return True

    # -- wandering

    def wander(self, inc: Incident) -> bool:
        """She goes out to 'go home to her mother' or 'go to work', and walks on until found."""
        rng, home = self.rng, self.p.home
        assert home.zone_m is not None and home.tag is not None
        for d in [inc.day, *rng.sample(range(self.p.days), self.p.days)]:
            m = self.p.start + d * DAY
            t0 = m + (rng.uniform(4.5, 6.0) if rng.random() < 0.35 else rng.uniform(14.5, 17.5)) * HOUR
            walk = rng.uniform(1.8, 4.5) * HOUR
            if not self.plan.at_home(t0 - 10 * MIN, t0 + walk + WANDER_RIDE_S) or not self.free(t0 - HOUR, t0 + walk + 3 * HOUR):
                continue
            seg = self.plan.at(t0)
            if seg is None or seg.act == "floor":
                continue
            dawn = local_hour(t0) < 7
            worn = rng.random() < (0.45 if dawn and home.tag.watch else 0.9)  # at dawn the watch is on its charger
            speed = rng.uniform(0.6, 0.9)
            dist = speed * walk
            if dist < home.zone_m + 300:
                continue
            home.places["wander"] = (dist, rng.uniform(0, 2 * math.pi))
            who = rng.choice(["police", "passer-by", "neighbour", "child"])
            trip = Trip("wander", t0, t0 + walk + WANDER_RIDE_S, "wander", worn, who)
            self.plan.replace(trip.t0, trip.t1, [Seg(trip.t0, trip.t1, OUT, "wander", trip)])
            self.plan.visits.append(Visit(who, trip.t1, trip.t1 + rng.uniform(20, 40) * MIN, 0.8, (LIVING, HALL), door=False))
            self.truth(t0 + home.zone_m / speed, "geofence_exit", tag_on_her=str(worn).lower(),
                       zone_m=f"{home.zone_m:.0f}", found_by=who)
            self.busy.append((t0 - HOUR, trip.t1 + 3 * HOUR))
            self.plan.incidents.append(replace(inc, day=d))
            return True
        return False


# ------------------------------------------------------------------ device physics


@dataclass
class Span:
    """A device unheard: `dead` (off or cut from its hub: nothing is kept) or `cut` (alive, no
    connection: events and fixes buffered, heartbeats skipped)."""

    t0: float
    t1: float
    mode: str
    cause: str
    will: bool = True  # the broker publishes its Last Will (False: an orderly offline first)


@dataclass
class DevState:
    device: Device
    rng: random.Random
    clock_offset: float
    spans: list[Span] = field(default_factory=list)
    resets: list[tuple[float, float]] = field(default_factory=list)  # clock at 2000 from power-up until NTP
    fw_after: float = math.inf
    charge: list[tuple[float, float, float]] = field(default_factory=list)  # (t, level, %/h) from t
    charge_start: float = 0.0

    def battery(self, t: float) -> int | None:
        d = self.device
        if d.kind in (DeviceKind.GAS_ALARM,) or (d.kind is DeviceKind.PINGAN_CAT and d.heartbeat_s == 300):
            return None  # mains: no battery to report
        if self.charge:
            i = max(0, _bisect(self.charge, t) - 1)
            t0, level0, slope = self.charge[i]
            level = level0 + slope * (t - t0) / HOUR
        else:
            level = d.battery0 - d.drain_per_day * (t - self.charge_start) / DAY
        return int(min(100.0, max(0.0, level)) + 0.5)

    def down(self, t: float) -> Span | None:
        for s in self.spans:
            if s.t0 <= t < s.t1:
                return s
        return None

    def ts(self, t: float) -> int:
        for a, b in self.resets:
            if a <= t < b:
                return int(CLOCK_2000 + (t - a))
        return int(t + self.clock_offset)


def _bisect(charge: list[tuple[float, float, float]], t: float) -> int:
    lo, hi = 0, len(charge)
    while lo < hi:
        mid = (lo + hi) // 2
        if charge[mid][0] <= t:
            lo = mid + 1
        else:
            hi = mid
    return lo


Record = tuple[float, int, str, str, Any, int, int]  # receive t, order, device, channel, data, ts, seq


class Emitter:
    """One home's devices: what they see of her plan, their outages, and what reaches the hub."""

    def __init__(self, home: Home, plan: Plan, outages: list[tuple[str, Span]], start: float, end: float, seed: int) -> None:
        self.home, self.plan, self.start, self.end = home, plan, start, end
        self.rid = home.rid
        self.rng = random.Random(f"shanghai:emit:{seed}:{home.rid}")
        self.devs: dict[str, DevState] = {}
        for d in home.resident.devices:
            drift = -self.rng.uniform(30, 240) if self.rng.random() < 0.1 else 0.0
            self.devs[d.id] = DevState(d, random.Random(f"shanghai:dev:{seed}:{d.id}"), drift, charge_start=start)
        for did, span in outages:
            dev = self.devs[did]
            dev.spans.append(span)
            if span.cause == "firmware_update":
                dev.fw_after = span.t1  # the new version from the first heartbeat after the reboot
            if span.cause == "announced_power_cut" and span.mode == "dead" and dev.rng.random() < 0.4:
                dev.resets.append((span.t1, span.t1 + dev.rng.uniform(3, 25) * MIN))  # no RTC cell: 2000 until NTP
        self.truths: list[tuple[float, dict[str, str]]] = []
        self.door_reports: list[tuple[float, str]] = []
        self.motion: dict[str, list[float]] = {}
        self.heard: dict[str, list[float]] = {}  # receive times of each device's messages

    def fact(self, t: float, what: str, **extra: str) -> None:
        self.truths.append((t, {"kind": "fault", "resident": self.rid, "fault": what, **extra}))

    def run(self) -> list[Record]:
        created: dict[str, list[tuple[float, str, Any]]] = {did: [] for did in self.devs}
        if self.home.tag is not None:
            self._tag_battery()
        for unit in self.home.units:
            created[unit.device] += [(t, "event", "motion") for t in self._pir(unit)]
        for p in self.plan.presses:
            created[p.device].append((p.t, "event", p.type))
        if self.home.door is not None:
            created[self.home.door.device] += self._door(self.home.door)
        if self.home.water is not None:
            created[self.home.water] += [(t, "event", "water_flow") for t in self._water()]
        if self.home.smoke is not None:
            created[self.home.smoke] += [(t, "event", "smoke") for t in self.plan.smoke]
        if self.home.tag is not None:
            created[self.home.tag.device] += TagPath(self.home, self.plan, self.devs[self.home.tag.device], self.rng).fixes(
                self.start, self.end)
        out: list[Record] = []
        for did, items in created.items():
            sent = self._deliver(self.devs[did], items + self._heartbeats(self.devs[did]))
            self.heard[did] = sorted(r[0] for r in sent if r[3] != "status" or r[4] == "online")  # not its Last Will
            out += sent
        self._offline_truths()
        out += [(t, -1, "", "truth", truth, 0, 0) for t, truth in self.plan.truths + self.truths]
        out.sort(key=lambda r: (r[0], r[1]))
        return out

    # -- what the devices see

    def _pir(self, unit: Unit) -> list[float]:
        rng, cand = self.rng, []
        for s in self.plan.segs:
            see = unit.sees.get(s.room, 0.0)
            if s.room == OUT or see == 0.0:
                continue
            rate = RATE[s.act] * see * (self.home.elder.fidget if s.act in FIDGET_ACTS else 1.0)
            cand += _arrivals(rng, s.t0, s.t1, rate)
        for v in self.plan.visits:
            rooms_seen = max(unit.sees.get(r, 0.0) for r in v.rooms)
            cand += _arrivals(rng, v.t0, v.t1, v.rate * rooms_seen)
        out, blind_until = [], -math.inf
        for t in sorted(cand):
            if t >= blind_until:
                out.append(t)
                blind_until = t + rng.uniform(*unit.blind)
        self.motion[unit.device] = out
        return out

    def _door(self, door: Door) -> list[tuple[float, str, Any]]:
        """Every passage through the door: hers (trips) and visitors' (arrive, leave)."""
        rng = self.rng
        uses: list[float] = []
        for tr in self.plan.trips:
            uses += [tr.t0 - rng.uniform(2, 8), tr.t1 + rng.uniform(2, 10)]
        for v in self.plan.visits:
            uses += [v.t0, v.t1 - rng.uniform(20, 60)] if v.door else [v.t1 - rng.uniform(20, 60)]
        out: list[tuple[float, str, Any]] = []
        for t in sorted(uses):
            if rng.random() < door.miss:
                self.door_reports.append((t, "missed"))
                continue
            shut = t + rng.uniform(4, 15)
            out += [(t, "event", "door_open"), (shut, "event", "door_close")]
            self.door_reports += [(t, "door_open"), (shut, "door_close")]
            if rng.random() < door.chatter:  # the old door bounces in its frame
                out += [(shut + 1.5, "event", "door_open"), (shut + 2.4, "event", "door_close")]
        return out

    def _water(self) -> list[float]:
        rng, cand = self.rng, []
        for s in self.plan.segs:
            if s.room != OUT and s.act in WATER:
                cand += _arrivals(rng, s.t0, s.t1, WATER[s.act])
                if s.act == "toilet":
                    cand.append(s.t1 - rng.uniform(5, 30))  # the flush
        for v in self.plan.visits:
            cand += _arrivals(rng, v.t0, v.t1, v.water)
        out, last = [], -math.inf
        for t in sorted(cand):
            if t - last >= 60:  # one report a use
                out.append(t)
                last = t
        return out

    def _heartbeats(self, dev: DevState) -> list[tuple[float, str, Any]]:
        period = dev.device.heartbeat_s
        t = self.start + dev.rng.uniform(5, period)
        loss = 0.02 if self._weak(dev.device) else 0.003
        out = []
        while t < self.end:
            if dev.rng.random() >= loss:
                out.append((t, "heartbeat", None))
            t += period + dev.rng.uniform(-2, 2)
        return out

    def _weak(self, d: Device) -> bool:
        """Heartbeats lost on a weak link: the home's poor Wi-Fi, or NB-IoT/4G deep in a stairwell."""
        if d.kind in (DeviceKind.WATER_METER, DeviceKind.SMOKE_ALARM, DeviceKind.GAS_ALARM, DeviceKind.GPS_TAG):
            return d.rssi < -105
        return self.home.weak_wifi or d.rssi < -82

    def _tag_battery(self) -> None:
        """A watch: on the nightstand charger most nights (some forgotten); a keychain tag: charged
        when she or her child notices it is low."""
        tag = self.home.tag
        assert tag is not None
        dev = self.devs[tag.device]
        rng, e = dev.rng, self.home.elder
        drain = rng.uniform(2.2, 3.2) if tag.watch else rng.uniform(0.35, 0.6)  # %/h
        if tag.watch:  # on the charger since the evening before
            level, t = 100.0, self.start + (e.wake_h + 0.3) * HOUR
            pts = [(self.start, 100.0, 0.0), (t, level, -drain)]
        else:
            level, t = rng.uniform(45, 100), self.start
            pts = [(t, level, -drain)]
        for d in range(math.ceil((self.end - self.start) / DAY) + 1):
            m = self.start + d * DAY
            plug = m + (e.bed_h - 0.2) * HOUR if tag.watch else m + rng.uniform(19, 21) * HOUR
            at_plug = max(0.0, level - drain * (plug - t) / HOUR)
            if plug <= t:
                continue
            charged = rng.random() >= tag.forgets_charge if tag.watch else at_plug < 30 and rng.random() < 0.4
            if not charged:
                continue
            unplug = m + DAY + (e.wake_h + 0.3) * HOUR if tag.watch else plug + rng.uniform(2, 3) * HOUR
            full = plug + (100 - at_plug) / 45 * HOUR
            pts.append((plug, at_plug, 45.0))
            if full < unplug:
                pts.append((full, 100.0, 0.0))
            level, t = min(100.0, at_plug + 45 * (unplug - plug) / HOUR), unplug
            pts.append((t, level, -drain))
        dev.charge = pts
        self._tag_deaths(dev)

    def _tag_deaths(self, dev: DevState) -> None:
        """The tag dies at 2 % and comes back when it is next on the charger."""
        pts = dev.charge
        for i, (t, level, slope) in enumerate(pts):
            if slope >= 0 or level <= 2:
                continue
            dies = t + (level - 2) / -slope * HOUR
            nxt = pts[i + 1][0] if i + 1 < len(pts) else math.inf
            if dies < nxt and dies < self.end:
                dev.spans.append(Span(dies, min(nxt, self.end + DAY), "dead", "tag_battery_empty", will=True))

    # -- what reaches the hub

    def _deliver(self, dev: DevState, items: list[tuple[float, str, Any]]) -> list[Record]:
        """seq and ts at creation; receive time after the network; buffering and Last Wills."""
        items.sort(key=lambda x: x[0])
        did, rng = dev.device.id, dev.rng
        seq = rng.randrange(1, 50_000)
        out: list[Record] = [(self.start + rng.uniform(0, 5), 0, did, "status", "online", 0, 0)]
        spans = sorted(dev.spans, key=lambda s: s.t0)
        buffered: dict[int, list[tuple[float, str, Any, int, int]]] = {}
        for t, channel, data in items:
            if t < self.start or t >= self.end:
                continue
            k, span = next(((k, s) for k, s in enumerate(spans) if s.t0 <= t < s.t1), (-1, None))
            if span is not None and span.mode == "dead":
                continue
            seq = (seq + 1) % 2**32
            ts = dev.ts(t)
            if channel == "heartbeat" and dev.fw_after <= t:
                data = PUSHED_FW
            if span is None:
                out.append((t + rng.uniform(0.05, 0.8), 1, did, channel, data, ts, seq))
            elif channel != "heartbeat":
                buffered.setdefault(k, []).append((t, channel, data, ts, seq))
        for k, span in enumerate(spans):
            if span.t0 >= self.end:
                continue
            out += self._status_changes(dev, span)
            kept = _keep(buffered.get(k, []))
            back = span.t1 + rng.uniform(2, 6)
            out += [(back + 0.05 * (i + 1), 1, did, ch, data, ts, sq) for i, (_, ch, data, ts, sq) in enumerate(kept)
                    if back < self.end]
        return out

    def _status_changes(self, dev: DevState, span: Span) -> list[Record]:
        did = dev.device.id
        out: list[Record] = []
        if span.will:
            if span.t1 - span.t0 > 1.5 * KEEPALIVE_S:
                out.append((span.t0 + 1.5 * KEEPALIVE_S + dev.rng.uniform(0, 5), 1, did, "status", "offline", 0, 0))
            else:
                return out  # back before the broker noticed
        else:
            out.append((span.t0, 1, did, "status", "offline", 0, 0))  # orderly offline before the reboot
        if span.t1 < self.end:
            out.append((span.t1 + dev.rng.uniform(0.5, 2), 1, did, "status", "online", 0, 0))
        return out

    def _offline_truths(self) -> None:
        """device_offline where a device is unheard for three heartbeats or more, one per outage of
        the home; shorter outages are context."""
        claimed: list[tuple[float, float]] = []
        for did, dev in sorted(self.devs.items()):
            for span in sorted(dev.spans, key=lambda s: s.t0):
                if span.t0 >= self.end:
                    continue
                if self.unheard(did, span) <= 3 * dev.device.heartbeat_s:
                    self.fact(span.t0, "short_outage", device=did, cause=span.cause, minutes=f"{(span.t1 - span.t0) / MIN:.0f}")
                    continue
                if any(a < span.t1 and span.t0 < b for a, b in claimed):
                    continue
                claimed.append((span.t0, span.t1))
                self.truths.append((span.t0, {"kind": "device_offline", "resident": self.rid, "device": did,
                                              "cause": span.cause, "hours": f"{(span.t1 - span.t0) / HOUR:.1f}"}))


    def unheard(self, did: str, span: Span) -> float:
        """How long the hub hears nothing from the device around the outage: from its last message
        before it to its first one after (a heartbeat may have been just due, or just sent)."""
        heard = self.heard.get(did, [])
        i = bisect_left(heard, span.t0)
        before = heard[i - 1] if i else self.start
        after = next((t for t in heard[i:] if t >= span.t1), self.end)
        return after - before


def _keep(buffered: list[tuple[float, str, Any, int, int]]) -> list[tuple[float, str, Any, int, int]]:
    """The device's ring buffer: the newest 64, but SOS/fall/smoke/gas kept over motion and fixes."""
    if len(buffered) <= BUFFER:
        return buffered
    critical = [b for b in buffered if b[1] == "event" and b[2] in ("sos", "sos_cancel", "fall", "smoke", "gas")]
    rest = [b for b in buffered if b not in critical]
    return sorted(critical + rest[len(rest) - max(0, BUFFER - len(critical)):], key=lambda b: b[0])


def _arrivals(rng: random.Random, t0: float, t1: float, per_min: float) -> list[float]:
    if per_min <= 0 or t1 <= t0:
        return []
    return [rng.uniform(t0, t1) for _ in range(poisson(rng, per_min * (t1 - t0) / MIN))]


class TagPath:
    """Where the tag is and what fixes it reports: at home (indoor scatter, worse high up), on her
    along a trip (walking, bus, car; no fix underground), at the place she went."""

    def __init__(self, home: Home, plan: Plan, dev: DevState, rng: random.Random) -> None:
        self.home, self.plan, self.dev, self.rng = home, plan, dev, rng
        self.indoor_sigma = 8 + 2.5 * home.floor + (15 if home.floor > 6 else 0)

    def fixes(self, start: float, end: float) -> list[tuple[float, str, Any]]:
        out: list[tuple[float, str, Any]] = []
        t = start + self.rng.uniform(0, 300)
        for tr in [tr for tr in self.plan.trips if tr.tag] + [None]:
            stop = tr.t0 if tr is not None else end
            while t < stop:
                out += self._still(t, self.home.resident.home, self.indoor_sigma)
                t += self.rng.uniform(540, 660)
            if tr is None:
                break
            out += self._trip(tr)
            t = max(t, tr.t1 + 60)
        return out

    def _trip(self, tr: Trip) -> list[tuple[float, str, Any]]:
        home = self.home.resident.home
        dest = self.home.place(tr.place)
        dist = distance_m(home, dest)
        speed = 0.9 if dist < 1500 else 6.0 if dist < 25_000 else 15.0
        if tr.kind == "wander":  # she walks straight on; a car brings her home from where she was found
            found = tr.t1 - WANDER_RIDE_S
            return self._leg(tr.t0, found, home, dest, False) + self._leg(found, tr.t1, dest, home, False)
        leg = min(dist / speed, (tr.t1 - tr.t0) / 2)
        metro = 3000 < dist < 25_000 and self.rng.random() < 0.5
        out = self._leg(tr.t0, tr.t0 + leg, home, dest, metro)
        t = tr.t0 + leg + 60
        indoor = tr.place not in ("park", "square", "rubbish", "market")
        while t < tr.t1 - leg:
            out += self._still(t, dest, 25.0 if indoor else 6.0)
            t += self.rng.uniform(540, 660)
        return out + self._leg(tr.t1 - leg, tr.t1, dest, home, metro)

    def _leg(self, t0: float, t1: float, a: LatLon, b: LatLon, metro: bool) -> list[tuple[float, str, Any]]:
        rng, out = self.rng, []
        span = max(t1 - t0, 1.0)
        speed = distance_m(a, b) / span
        t = t0 + rng.uniform(20, 60)
        while t < t1:
            f = (t - t0) / span
            if not (metro and 0.15 < f < 0.85):
                p = (a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f)
                out += self._fix(t, p, 6.0, speed * rng.uniform(0.8, 1.2), canyon=True)
            t += rng.uniform(55, 70)
        return out

    def _still(self, t: float, at: LatLon, sigma: float) -> list[tuple[float, str, Any]]:
        if sigma > 25 and self.rng.random() < min(0.4, sigma / 250):
            return []  # no fix deep inside a high-rise
        return self._fix(t, at, sigma, self.rng.uniform(0.0, 0.3), canyon=sigma > 25)

    def _fix(self, t: float, at: LatLon, sigma: float, speed: float, canyon: bool) -> list[tuple[float, str, Any]]:
        rng = self.rng
        err = abs(rng.gauss(0, sigma))
        acc = max(5.0, sigma * rng.uniform(1.3, 2.2))
        if canyon and rng.random() < 0.03:  # multipath off the tower opposite: far, and too confident
            err, acc = rng.uniform(150, 350), rng.uniform(30, 70)
            speed = speed if rng.random() < 0.5 else rng.uniform(0.5, 1.4)
        p = polar(at, rng.uniform(0, 2 * math.pi), err)
        return [(t, "gps", (round(p[0], 6), round(p[1], 6), round(acc, 1), round(speed, 2)))]


# ------------------------------------------------------------------ outages


def draw_outages(homes: list[Home], start: float, days: int, seed: int) -> dict[str, list[tuple[str, Span]]]:
    """Per home: (device, span) outages: firmware push, hub unplugged, router reboots and weak Wi-Fi,
    announced power cuts (a building at a time), broadband faults, units unplugged, cells run flat."""
    rng = random.Random(f"shanghai:outages:{seed}")
    out: dict[str, list[tuple[str, Span]]] = {h.rid: [] for h in homes}
    push_night = start + rng.randrange(2, max(3, days - 1)) * DAY + 2 * HOUR
    cut_buildings = rng.sample(range(max(2, len(homes) // 5)), min(2, max(1, len(homes) // 30)))
    cut_days = [rng.randrange(days) for _ in cut_buildings]
    for h in homes:
        hr = random.Random(f"shanghai:outages:{seed}:{h.rid}")
        spans = out[h.rid]
        _firmware_push(h, hr, push_night, spans)
        wifi = _wifi_devices(h)
        for d in range(days):
            m = start + d * DAY
            if h.nightly_router_reboot:
                t = m + 3 * HOUR + hr.uniform(0, 120)
                spans += [(did, Span(t, t + hr.uniform(90, 240), "cut", "router_nightly_reboot")) for did in wifi]
            if h.weak_wifi and hr.random() < 0.5:
                t = m + hr.uniform(0, 24) * HOUR
                spans += [(did, Span(t, t + hr.uniform(40, 600), "cut", "weak_wifi")) for did in wifi[:1]]
        if h.has_hub and hr.random() < 0.25:
            t = start + hr.uniform(0.5, days) * DAY
            hub = [u.device for u in h.units if u.via_hub] + ([h.door.device] if h.door and h.door.via_hub else [])
            span_h = hr.choice([0.7, 2.0, 5.0, 9.0])
            spans += [(did, Span(t, t + span_h * HOUR, "dead", "zigbee_hub_unplugged")) for did in hub]
        if hr.random() < 0.06:
            t = start + hr.uniform(0.5, days) * DAY
            unit = hr.choice(h.units)
            spans.append((unit.device, Span(t, t + hr.uniform(5, 40) * HOUR, "dead", "unit_unplugged_for_kettle")))
        if hr.random() < 0.03:
            t = start + hr.uniform(0.5, days) * DAY
            spans += [(did, Span(t, t + hr.uniform(6, 30) * HOUR, "cut", "broadband_fault")) for did in wifi]
        if h.building in cut_buildings:
            d = cut_days[cut_buildings.index(h.building)]
            t0 = start + d * DAY + hr.uniform(8.4, 8.6) * HOUR
            t1 = t0 + hr.choice([3.5, 6.5]) * HOUR
            spans += [(did, Span(t0, t1, "dead" if _mains(h, did) else "cut", "announced_power_cut")) for did in wifi]
        _flat_cells(h, start, days, spans)
    return out


def _wifi_devices(h: Home) -> list[str]:
    """Devices on the home's Wi-Fi or its Zigbee hub (NB-IoT meters, alarms and the 4G tag are not)."""
    return [u.device for u in h.units] + ([h.door.device] if h.door else [])


def _mains(h: Home, did: str) -> bool:
    """Dead in a power cut: mains units and anything behind the mains Zigbee hub; a battery Wi-Fi
    unit or door sensor lives on and buffers until the router is back."""
    unit = next((u for u in h.units if u.device == did), None)
    if unit is None:
        return h.door is not None and h.door.via_hub
    return unit.mains or unit.via_hub


def _firmware_push(h: Home, rng: random.Random, night: float, spans: list[tuple[str, Span]]) -> None:
    for u in h.units:
        if u.mains:
            t = night + rng.uniform(0, 90) * MIN
            spans.append((u.device, Span(t, t + rng.uniform(60, 300), "dead", "firmware_update", will=False)))


def _flat_cells(h: Home, start: float, days: int, spans: list[tuple[str, Span]]) -> None:
    """A battery PIR or door sensor whose cells reach empty (about 5 %) within the run stops."""
    for d in h.resident.devices:
        if d.kind not in (DeviceKind.PINGAN_CAT, DeviceKind.DOOR_SENSOR) or not d.drain_per_day or d.heartbeat_s == 300:
            continue
        t = start + (d.battery0 - 5) / d.drain_per_day * DAY
        if t < start + days * DAY:
            spans.append((d.id, Span(t, start + (days + 1) * DAY, "dead", "cells_empty")))


# ------------------------------------------------------------------ the simulation


def draw_rain(days: int, seed: int) -> list[bool]:
    rng = random.Random(f"shanghai:rain:{seed}")
    return [rng.random() < (0.65 if d in QINGMING_DAYS else 0.4) for d in range(days + 2)]


def _order(r: tuple[Any, ...]) -> tuple[float, int, int]:
    return r[0], r[1], r[2]


class ShanghaiSimulation:
    """Iterate to get `Message`s and `Truth`s in time order (what `write_recording` needs).

    `plans` (resident id → Plan) is the world's own account of every resident; `emitter(h)` rebuilds
    one home's device physics for a reader (door reports, motion, outages)."""

    def __init__(self, residents: int = 60, days: float = 14, seed: int = 1, start: str | None = None,
                 topic_root: str = DEFAULT_ROOT) -> None:
        self.seed = seed
        self.days = math.ceil(days)
        self.start = parse_start(start or START)
        self.end = self.start + days * DAY
        self.root = topic_root
        self.community, self.homes = build_homes(residents, seed)
        self.rain = draw_rain(self.days, seed)
        self.outages = draw_outages(self.homes, self.start, self.days, seed)
        self.plans: dict[str, Plan] = {}
        planners = []
        for home in self.homes:
            planner = Planner(home, self.start, self.days, seed, self.rain)
            self.plans[home.rid] = planner.routine()
            planner.visitors()
            planners.append(planner)
        self.incidents = draw_incidents(self.homes, self.plans, self.days, seed)
        for h, planner in enumerate(planners):
            self._write_incidents(planner, [i for i in self.incidents if i.home == h])
        self._topics: dict[tuple[str, Channel], str] = {}

    def _write_incidents(self, planner: Planner, incidents: list[Incident]) -> None:
        writer = IncidentWriter(planner, self.outages[planner.home.rid])
        for inc in sorted(incidents, key=lambda i: (i.day, i.kind)):
            if inc.kind in FALLS:
                writer.fall(inc)
            elif inc.kind == "wander":
                writer.wander(inc)
            elif inc.kind == "smoke_steam":
                writer.smoke(inc)
            else:
                writer.press(inc)

    def emitter(self, h: int) -> Emitter:
        home = self.homes[h]
        return Emitter(home, self.plans[home.rid], self.outages[home.rid], self.start, self.end, self.seed)

    def registry_yaml(self) -> str:
        """The registry with this world's zones: dementia residents and families who asked; no zone for the rest."""
        doc = registry_dict(self.community)
        zones = {h.rid: h.zone_m for h in self.homes}
        for entry in doc["residents"]:
            radius = zones[entry["id"]]
            if radius is None:
                del entry["zones"]
            else:
                name = "小区周边" if radius < 2000 else "街道范围"
                entry["zones"] = [{"name": name, "circle": {"lat": entry["home"]["lat"], "lon": entry["home"]["lon"],
                                                            "radius_m": radius}}]
        header = f"# Registry of the simulated community {self.community.name} ({len(self.homes)} residents, Shanghai spring)\n"
        return header + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=120, default_flow_style=None)

    def __iter__(self) -> Iterator[Message | Truth]:
        emitters = [self.emitter(h) for h in range(len(self.homes))]
        streams = [[(t, h, order, did, ch, data, ts, seq) for t, order, did, ch, data, ts, seq in em.run()]
                   for h, em in enumerate(emitters)]
        by_device = {did: em for em in emitters for did in em.devs}
        low: dict[str, bool] = {}
        last = self.start
        for t, _h, _rank, did, channel, data, ts, seq in heapq.merge(*streams, key=_order):
            if t < self.start or t >= self.end:
                continue
            t = max(round(t, 3), last)
            last = t
            if channel == "truth":
                yield Truth(t, data)
                continue
            if channel == "status":
                yield Message(t, self._topic(did, Channel.STATUS), Status(state=data), True)
                continue
            if channel == "event":
                yield Message(t, self._topic(did, Channel.EVENT), Event(data, ts, seq))
                continue
            dev = by_device[did].devs[did]
            battery = dev.battery(t)
            if battery is not None:
                if battery > 30:
                    low[did] = False
                elif battery <= 20 and not low.get(did):
                    low[did] = True
                    yield Truth(t, {"kind": "low_battery", "resident": dev.device.resident, "device": did,
                                    "battery": str(battery)})
            if channel == "heartbeat":
                rssi = max(-120, min(-30, dev.device.rssi + dev.rng.randint(-4, 4)))
                fw = data or dev.device.fw
                yield Message(t, self._topic(did, Channel.HEARTBEAT), Heartbeat(ts, seq, battery, rssi, fw))
            else:
                lat, lon, acc, speed = data
                yield Message(t, self._topic(did, Channel.GPS), Gps(lat, lon, ts, seq, acc, speed, battery))

    def _topic(self, did: str, channel: Channel) -> str:
        key = (did, channel)
        if key not in self._topics:
            self._topics[key] = str(DeviceTopic(did, channel, self.root))
        return self._topics[key]
