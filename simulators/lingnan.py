"""A blind world: elderly people living alone in old Guangzhou (西关, 荔湾区) through July and August.

Written from the contract (PRODUCT.md, docs/DEVICE_PROTOCOL.md) and from how old people in a
southern Chinese city live in summer, without reading how the rules detect anything. It reuses
the registry objects (simulators.community), the message structs and `write_recording`
(simulators.engine); the people, their days and the device physics are its own.

People (`Elder`): 30–36 °C and humid, so the day is front-loaded — up at 5–7 for tai chi in the
park or a walk before the heat, 饮早茶 at a teahouse with friends (1.5–3 h, sometimes beyond the
500 m zone), the wet market; lunch cooked at home or at the community's 长者饭堂; a long 午觉 in
the hottest hours; afternoons in whichever room has the air conditioner (often the bedroom, out
of the living-room unit's sight), TV, mahjong at a neighbour's or the activity room; dinner,
then a walk or square dancing when it cools; a shower or two a day; late nights for many. It is
the school summer holiday, so some mind a grandchild all weekday long. Children visit at
weekends, an hourly carer (钟点工) comes on fixed weekdays, some nights are spent at a child's
flat, a few go back to the home village for days, clinic mornings. Afternoon thunderstorms
cancel evening walks; a typhoon keeps everyone in for two days.

Devices: a Ping'an Cat PIR unit in the living room (sometimes a second in the bedroom), mains
powered with or without a backup cell, on the home Wi-Fi or on its own 4G; blind 10–60 s (or
minutes on cells) after a trigger; a PIR barely sees someone sitting still, sees the bedroom
and bathroom hardly at all, and loses contrast in a 34 °C room; fans and curtains fire it now
and then. Door sensors on the wooden door, which many prop open all day behind the locked iron
gate (铁闸门) for the breeze; some miss quick openings, some chatter (misaligned magnet). GPS
tags carried on some outings and left on the table on others, indoor scatter and cell-tower
fallback fixes, urban-canyon multipath in 骑楼 streets, charged when remembered, flat now and
then. Heartbeats with jitter and losses; routers that reboot or are switched off at night;
breakers that trip when the AC and the rice cooker run together; a typhoon power cut across a
block; buffered events flushed late with their original ts after a reconnection; drifting
clocks, a clock 8 h ahead (local time sent as UTC) and units that boot at 2000-01-01.

Incidents (truth lines, PRODUCT.md "Recording format"): falls by day, in the evening, at night
on the way to the bathroom and in the shower, and heat collapses; after a fall nothing of hers
reaches a device until a finder comes 4–16 h later (`inactivity`); SOS presses on the cat or the
tag and presses by mistake cancelled within seconds (`sos`, `sos_cancelled`); residents with
dementia walking out of the 500 m zone (`geofence_exit`, where she crosses its edge); devices
that go silent for three heartbeats or more (`device_offline`) and batteries reporting ≤ 20 %
(`low_battery`). Context goes in `fault` lines.

Deterministic for a seed: every random stream is seeded from the seed and a name.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from devices.kinds import DeviceKind
from devices.payloads import Event, Gps, Heartbeat, Status
from devices.topics import DEFAULT_ROOT, Channel, DeviceTopic
from simulators.community import ZONE_RADIUS_M, Community, Device, Habits, Resident, build_community
from simulators.engine import LOCAL_TZ, Message, Truth, parse_start
from simulators.geo import LatLon, distance_m, polar

NAME = "lingnan"
START = "2026-07-13"  # a Monday; Guangzhou schools are on their summer holiday
CENTRE: LatLon = (23.1262, 113.2435)  # 多宝路 / 恩宁路, 荔湾区 (WGS-84)
HOME_SPREAD_M = 650.0
MIN, HOUR, DAY = 60.0, 3600.0, 86400.0
Y2000 = 946684800.0  # a unit without a clock cell boots here until NTP answers
UTC8_BUG = 8 * HOUR  # firmware that sends Beijing time as if it were UTC

BED, LIVING, KITCHEN, BATH, HALL, OUT = "bedroom", "living", "kitchen", "bath", "hall", "out"
HOME_ROOMS = (BED, LIVING, KITCHEN, BATH, HALL)

#: What she does, as PIR-visible movements per minute while in view.
RATE = {"sleep": 0.006, "nap": 0.012, "doze": 0.02, "tv": 0.07, "eat": 0.3, "chores": 1.2, "cook": 1.0,
        "wash": 1.2, "shower": 1.2, "pass": 4.0, "door_chat": 0.8, "floor": 0.0, "out": 0.0}
AWAKE_ACTS = frozenset({"tv", "eat", "chores", "cook", "wash", "shower", "pass", "door_chat"})
STREETS = ["恩宁路", "多宝路", "宝华路", "龙津西路", "上九路", "下九路", "第十甫路", "长寿路", "逢源路", "华林寺前"]
HEARTBEAT_S = {DeviceKind.PINGAN_CAT: 300, DeviceKind.GPS_TAG: 300, DeviceKind.DOOR_SENSOR: 900,
               DeviceKind.WATER_METER: 3600, DeviceKind.SMOKE_ALARM: 3600, DeviceKind.GAS_ALARM: 3600}
FIRMWARE = {DeviceKind.PINGAN_CAT: "1.6.0", DeviceKind.GPS_TAG: "3.2.4", DeviceKind.DOOR_SENSOR: "2.1.0",
            DeviceKind.WATER_METER: "1.3.2", DeviceKind.SMOKE_ALARM: "1.0.9", DeviceKind.GAS_ALARM: "1.2.0"}
#: MQTT keepalive: the broker publishes the Last Will 1.5 keepalives after the link dies.
KEEPALIVE_S = {DeviceKind.PINGAN_CAT: 60, DeviceKind.GPS_TAG: 120}
SLEEPY_KEEPALIVE_S = 1200  # battery NB-IoT devices
BUFFER = 64  # messages a device keeps while offline (the reference stubs' ring buffer)


@dataclass(frozen=True)
class LingnanWorld:
    """The world's name for benchmarks/detection.py; its length comes from --days."""

    name: str = NAME
    days: float | None = None


LINGNAN = LingnanWorld()


def local_hour(t: float) -> float:
    moment = datetime.fromtimestamp(t, UTC).astimezone(LOCAL_TZ)
    return moment.hour + moment.minute / 60 + moment.second / 3600


# ---------------------------------------------------------------- people and homes


@dataclass(frozen=True)
class Elder:
    """Her summer habits (hours are local, probabilities per day unless said)."""

    wake_h: float
    bed_h: float  # may be past 24
    fidget: float  # how much she moves sitting (fanning herself, tea): scales "tv"
    walk_am: float
    yumcha: float
    market: float
    canteen: float  # lunch at the 长者饭堂
    nap: float
    nap_h: float
    nap_on_sofa: bool
    mahjong: float
    evening_out: float
    doze: float  # evening doze on the sofa
    nocturia: float  # mean bathroom visits a night
    ac_room: str  # where she spends the hot hours
    sleeps_living: float  # nights on a mat in the living room under the fan
    grandchild: float  # weekdays a grandchild is left with her for the holiday
    child_visit: float  # per weekend day
    carer_days: tuple[int, ...]
    overnight: float  # nights at a child's flat
    hometown: bool
    clinic: float
    carry_tag: float
    dementia: bool
    checkin: float  # presses the 平安 check-in button in the morning
    call_h: float  # when her child rings every evening
    rubbish: float


@dataclass(frozen=True)
class Unit:
    device: str
    room: str
    mains: bool
    backup: bool  # a cell that keeps it sensing through a power cut
    wifi: bool  # on the home router (else its own 4G)
    rtc: bool  # keeps its clock through a power cut
    blind: tuple[float, float]  # seconds blind after a trigger
    sees: dict[str, float]  # share of her movements it can see, by room
    fan_rate: float  # spurious triggers per minute (fan, curtain in the draught)


@dataclass(frozen=True)
class Door:
    device: str
    miss: float  # quick opening+closing it does not report
    chatter: float  # a close followed by open/close bounces
    prop: float  # days the wooden door stays open behind the iron gate
    close_on_leave: float  # she shuts the wooden door when going out for a while


@dataclass(frozen=True)
class Tag:
    device: str
    drain_h: float  # % an hour, idle
    charge_below: float
    diligence: float  # she remembers to charge it when it is low
    level0: float


@dataclass(frozen=True)
class Home:
    resident: Resident
    elder: Elder
    units: tuple[Unit, ...]
    door: Door | None
    tag: Tag | None
    water: str | None
    alarms: tuple[str, ...]
    places: dict[str, tuple[float, float]]  # kind → (distance m, bearing rad) from home
    old_wiring: bool  # the breaker trips with AC + rice cooker
    router_nightly: float  # nights she switches the router off "to save power"
    block: int
    hot_living: bool  # no AC in the living room: the PIR loses contrast on hot afternoons
    heat_sensitive: bool


def build_homes(n: int, seed: int) -> tuple[Community, list[Home]]:
    """The community (names, contacts, grids, responders from simulators.community) with Guangzhou
    homes, habits and devices of this world."""
    base = build_community(n, seed, CENTRE, "xiguan", "西关社区")
    rng = random.Random(f"lingnan:homes:{seed}")
    residents, homes = [], []
    for i, r in enumerate(base.residents):
        home_at = _round(polar(CENTRE, rng.uniform(0, 2 * math.pi), HOME_SPREAD_M * math.sqrt(rng.random())))
        elder = _elder(rng)
        address = f"{rng.choice(STREETS)}{rng.randint(1, 180)}号{rng.randint(1, 7)}0{rng.randint(1, 4)}"
        devices, units, door, tag, water, alarms = _devices(i + 1, r.id, elder, rng)
        resident = replace(r, address=address, home=home_at, devices=devices,
                           relative_home=_round(polar(home_at, rng.uniform(0, 6.28), rng.uniform(1500, 9000))),
                           habits=Habits(elder.wake_h, elder.bed_h, elder.walk_am, elder.evening_out, elder.nap,
                                         elder.nocturia, elder.overnight, elder.carry_tag, 400.0))
        places = {
            "park": (rng.uniform(200, 1000), rng.uniform(0, 6.28)),
            "yumcha": (rng.uniform(150, 1800), rng.uniform(0, 6.28)),
            "market": (rng.uniform(80, 450), rng.uniform(0, 6.28)),
            "canteen": (rng.uniform(100, 480), rng.uniform(0, 6.28)),
            "mahjong": (rng.choice([10.0, rng.uniform(60, 420)]), rng.uniform(0, 6.28)),
            "square": (rng.uniform(60, 600), rng.uniform(0, 6.28)),
            "clinic": (rng.choice([rng.uniform(200, 600), rng.uniform(1200, 3500)]), rng.uniform(0, 6.28)),
            "hospital": (rng.uniform(1200, 4000), rng.uniform(0, 6.28)),
            "child": (distance_m(home_at, resident.relative_home), 0.0),
            "hometown": (rng.uniform(60_000, 130_000), rng.uniform(3.0, 4.5)),
            "rubbish": (rng.uniform(15, 40), rng.uniform(0, 6.28)),
            "family_meal": (rng.uniform(500, 5000), rng.uniform(0, 6.28)),
        }
        residents.append(resident)
        homes.append(Home(resident, elder, units, door, tag, water, alarms, places, rng.random() < 0.35,
                          rng.choice([0.0] * 24 + [0.7]), rng.randrange(6), rng.random() < 0.55, rng.random() < 0.3))
    community = Community(base.id, base.name, base.timezone, CENTRE, base.grids, base.responders, tuple(residents))
    return community, homes


def _round(p: LatLon) -> LatLon:
    return round(p[0], 6), round(p[1], 6)


def _elder(rng: random.Random) -> Elder:
    owl = rng.random() < 0.3
    dementia = rng.random() < 0.08
    return Elder(
        wake_h=rng.uniform(6.8, 8.3) if owl else rng.uniform(5.0, 6.8),
        bed_h=rng.uniform(23.6, 25.0) if owl else rng.uniform(21.6, 23.6),
        fidget=rng.uniform(0.4, 1.6),
        walk_am=rng.choice([0.0, rng.uniform(0.4, 0.95)]),
        yumcha=rng.choice([0.0, rng.uniform(0.1, 0.3), rng.uniform(0.4, 0.8)]),
        market=rng.uniform(0.4, 0.9),
        canteen=rng.choice([0.0, 0.0, 0.0, rng.uniform(0.5, 0.95)]),
        nap=rng.uniform(0.6, 1.0),
        nap_h=rng.uniform(1.0, 2.5),
        nap_on_sofa=rng.random() < 0.3,
        mahjong=rng.choice([0.0, 0.0, rng.uniform(0.2, 0.6)]),
        evening_out=rng.uniform(0.1, 0.85),
        doze=rng.uniform(0.0, 0.5),
        nocturia=rng.uniform(0.2, 2.5),
        ac_room=BED if rng.random() < 0.45 else LIVING,
        sleeps_living=rng.choice([0.0] * 6 + [rng.uniform(0.3, 0.9)]),
        grandchild=rng.choice([0.0] * 4 + [rng.uniform(0.5, 0.9)]),
        child_visit=rng.uniform(0.1, 0.6),
        carer_days=tuple(sorted(rng.sample(range(5), rng.randint(2, 3)))) if rng.random() < 0.15 else (),
        overnight=rng.choice([0.0, 0.0, rng.uniform(0.02, 0.07)]),
        hometown=rng.random() < 0.07,
        clinic=rng.uniform(0.01, 0.06),
        carry_tag=0.92 if dementia else rng.choice([rng.uniform(0.15, 0.5), rng.uniform(0.6, 0.95)]),
        dementia=dementia,
        checkin=rng.choice([0.0] * 5 + [rng.uniform(0.6, 0.95)]),
        call_h=rng.uniform(18.5, 21.0),
        rubbish=rng.uniform(0.3, 0.8),
    )


def _devices(number: int, rid: str, elder: Elder, rng: random.Random) -> tuple[Any, ...]:
    """Registry devices plus this world's physics for each."""
    def dev(kind: DeviceKind, did: str, battery0: float = 100.0, drain: float = 0.0) -> Device:
        return Device(did, kind, rid, HEARTBEAT_S[kind], FIRMWARE[kind], rng.randint(-88, -52), battery0, drain)

    num = f"{number:04d}"
    devices = [dev(DeviceKind.PINGAN_CAT, f"cat-{num}")]
    backup = rng.random() < 0.65
    living = Unit(f"cat-{num}", LIVING, True, backup, rng.random() < 0.75, backup or rng.random() < 0.6,
                  (10.0, 40.0) if rng.random() < 0.6 else (30.0, 90.0),
                  {LIVING: rng.uniform(0.8, 0.95), HALL: rng.uniform(0.4, 0.9), KITCHEN: rng.choice([0.0, 0.1, 0.35]),
                   BED: rng.choice([0.0, 0.03, 0.08]), BATH: 0.0},
                  rng.choice([0.0, 0.0, 0.0, rng.uniform(0.004, 0.03)]))
    units = [living]
    if rng.random() < 0.2:  # a second unit by the bed, on cells
        did = f"cat-{num}-b"
        devices.append(dev(DeviceKind.PINGAN_CAT, did, rng.uniform(55, 100), rng.uniform(0.3, 0.8)))
        units.append(Unit(did, BED, False, True, rng.random() < 0.75, True, (120.0, 240.0),
                          {BED: rng.uniform(0.8, 0.95), LIVING: 0.05, HALL: 0.0, KITCHEN: 0.0, BATH: 0.0}, 0.0))
    door = None
    if rng.random() < 0.85:
        did = f"door-{num}"
        devices.append(dev(DeviceKind.DOOR_SENSOR, did, rng.uniform(35, 100), rng.uniform(0.02, 0.1)))
        door = Door(did, rng.choice([0.0, 0.02, 0.05, rng.uniform(0.15, 0.35)]), rng.choice([0.0] * 6 + [0.5]),
                    rng.choice([0.0, 0.0, rng.uniform(0.5, 0.95), rng.uniform(0.8, 1.0)]), rng.uniform(0.3, 0.9))
    tag = None
    if elder.dementia or rng.random() < 0.7:
        did = f"tag-{num}"
        devices.append(dev(DeviceKind.GPS_TAG, did))
        tag = Tag(did, rng.uniform(0.35, 0.75), rng.uniform(45, 75), rng.choice([rng.uniform(0.5, 0.8), rng.uniform(0.85, 0.99)]), rng.uniform(45, 100))
    water = None
    if rng.random() < 0.45:
        water = f"water-{num}"
        devices.append(dev(DeviceKind.WATER_METER, water, rng.uniform(40, 100), rng.uniform(0.01, 0.05)))
    alarms = []
    for kind, share, prefix in ((DeviceKind.SMOKE_ALARM, 0.25, "smoke"), (DeviceKind.GAS_ALARM, 0.3, "gas")):
        if rng.random() < share:
            alarms.append(f"{prefix}-{num}")
            devices.append(dev(kind, alarms[-1], rng.uniform(30, 100), rng.uniform(0.02, 0.08)))
    return tuple(devices), tuple(units), door, tag, water, tuple(alarms)


# ---------------------------------------------------------------- weather


@dataclass
class Weather:
    """The fortnight's days: "hot", "storm" (afternoon thunderstorm) or "typhoon"; one block's power cut."""

    kind: list[str]
    cut_block: int
    cut: tuple[float, float] | None  # typhoon power cut (start, end), absolute

    @classmethod
    def draw(cls, days: int, start: float, seed: int) -> Weather:
        rng = random.Random(f"lingnan:weather:{seed}")
        kind = ["storm" if rng.random() < 0.35 else "hot" for _ in range(days + 2)]
        cut = None
        if days >= 5:
            t = rng.randint(3, max(3, min(days - 3, 9)))
            kind[t] = kind[t + 1] = "typhoon"
            t0 = start + t * DAY + rng.uniform(13, 20) * HOUR
            cut = (t0, t0 + rng.uniform(1.5, 6) * HOUR)
        return cls(kind, rng.randrange(6), cut)


# ---------------------------------------------------------------- the plan


@dataclass
class Trip:
    t0: float
    t1: float
    kind: str
    dist_m: float
    bearing: float
    tag: bool
    close_door: bool
    wander: bool = False


@dataclass
class Seg:
    t0: float
    t1: float
    room: str  # a home room or OUT
    act: str
    trip: Trip | None = None


@dataclass
class Visit:
    t0: float
    t1: float
    who: str  # carer, child, grandchild, finder, responder, paramedics
    rate: float  # visible movements per minute in the living room


@dataclass
class Plan:
    segs: list[Seg] = field(default_factory=list)
    visits: list[Visit] = field(default_factory=list)
    truths: list[tuple[float, dict[str, str]]] = field(default_factory=list)
    buttons: list[tuple[float, str, str]] = field(default_factory=list)  # (t, "cat"|"tag", event type)
    lying: list[tuple[float, float]] = field(default_factory=list)  # after a fall, until the finder
    prop_days: list[bool] = field(default_factory=list)
    charging: list[tuple[float, float]] = field(default_factory=list)  # tag on the charger
    incidents: list[Incident] = field(default_factory=list)

    @property
    def trips(self) -> list[Trip]:
        return [s.trip for s in self.segs if s.trip is not None]

    def at(self, t: float) -> Seg | None:
        lo, hi = 0, len(self.segs)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.segs[mid].t1 <= t:
                lo = mid + 1
            else:
                hi = mid
        return self.segs[lo] if lo < len(self.segs) and self.segs[lo].t0 <= t else None

    def home_awake(self, t: float) -> bool:
        seg = self.at(t)
        return seg is not None and seg.room != OUT and seg.act in AWAKE_ACTS

    def replace(self, t0: float, t1: float, new: list[Seg]) -> None:
        """Put `new` in place of [t0, t1): segments across an edge are trimmed (edges must lie at home)."""
        keep: list[Seg] = []
        for s in self.segs:
            if s.t1 <= t0 or s.t0 >= t1:
                keep.append(s)
                continue
            if s.t0 < t0:
                keep.append(replace(s, t1=t0))
            if s.t1 > t1:
                keep.append(replace(s, t0=t1))
        keep += new
        keep.sort(key=lambda s: s.t0)
        self.segs = keep
        self.visits = [v for v in self.visits if v.t1 <= t0 or v.t0 >= t1 or v.who in ("finder", "paramedics")]
        self.buttons = [b for b in self.buttons if not t0 <= b[0] < t1]


@dataclass(frozen=True)
class Incident:
    home: int
    kind: str  # fall_day, fall_evening, fall_night, fall_shower, heat_collapse, sos, sos_cancelled, wander
    day: int


FALLS = ("fall_day", "fall_evening", "fall_night", "fall_shower", "heat_collapse")


def draw_incidents(homes: list[Home], days: int, seed: int) -> list[Incident]:
    """Roughly per 60 homes × 14 days: 24 falls, 6 SOS, 5 mistaken presses, 3 wanders."""
    rng = random.Random(f"lingnan:incidents:{seed}")
    scale = len(homes) * days / (60 * 14)
    out: list[Incident] = []
    weights = {"fall_day": 7, "fall_evening": 6, "fall_night": 7, "fall_shower": 3, "heat_collapse": 1}
    fallen: set[int] = set()
    for _ in range(max(0, round(24 * scale) + rng.randint(-2, 2))):
        kind = rng.choices(list(weights), list(weights.values()))[0]
        h = rng.randrange(len(homes))
        if kind == "heat_collapse" and not homes[h].heat_sensitive:
            h = next((j for j in rng.sample(range(len(homes)), len(homes)) if homes[j].heat_sensitive), h)
        if h in fallen:  # a second fall of the same person in a fortnight is rare
            h = rng.randrange(len(homes))
        fallen.add(h)
        out.append(Incident(h, kind, rng.randrange(days)))
    for kind, mean in (("sos", 6), ("sos_cancelled", 5)):
        out += [Incident(rng.randrange(len(homes)), kind, rng.randrange(days)) for _ in range(_poisson(rng, mean * scale))]
    wanderers = [h for h, home in enumerate(homes) if home.elder.dementia and home.tag is not None]
    if wanderers:
        out += [Incident(rng.choice(wanderers), "wander", rng.randrange(days)) for _ in range(max(1, _poisson(rng, 3 * scale)))]
    return out


def _poisson(rng: random.Random, mean: float) -> int:
    n, t = 0, rng.expovariate(1.0)
    while t < mean:
        n += 1
        t += rng.expovariate(1.0)
    return n


class _Day:
    """One waking day built with a cursor: fill at home up to an outing, go out, come back."""

    def __init__(self, planner: Planner, t: float) -> None:
        self.p, self.t = planner, t
        self.segs: list[Seg] = []

    def fill(self, until: float) -> None:
        if until > self.t:
            self.segs += self.p.fill(self.t, until)
            self.t = until

    def do(self, room: str, act: str, minutes: float) -> None:
        self.segs.append(Seg(self.t, self.t + minutes * MIN, room, act))
        self.t += minutes * MIN

    def go(self, kind: str, leave: float, minutes: float, latest: float | None = None, tag_share: float = 1.0) -> bool:
        leave = max(leave, self.t)
        if latest is not None and leave > latest:
            return False
        self.fill(leave)
        p = self.p
        dist, bearing = p.home.places[kind]
        tag = p.home.tag is not None and p.rng.random() < p.elder.carry_tag * tag_share
        shut = p.home.door is not None and p.rng.random() < (p.home.door.close_on_leave if minutes > 45 else 0.25)
        trip = Trip(leave, leave + minutes * MIN, kind, dist, bearing, tag, shut)
        self.segs.append(Seg(trip.t0, trip.t1, OUT, "out", trip))
        self.t = trip.t1
        return True


class Planner:
    """One resident's fortnight: her days, visitors, absences, then the incidents cut into them."""

    def __init__(self, home: Home, start: float, days: int, seed: int, weather: Weather, incidents: list[Incident]) -> None:
        self.home, self.elder = home, home.elder
        self.start, self.days, self.weather = start, days, weather
        self.rid = home.resident.id
        self.rng = random.Random(f"lingnan:plan:{seed}:{self.rid}")
        self.incidents = incidents
        self.plan = Plan()
        self.wake = [start + d * DAY + (self.elder.wake_h + self.rng.gauss(0, 0.3)) * HOUR for d in range(days + 1)]
        self.bed = [start + d * DAY + (self.elder.bed_h + self.rng.gauss(0, 0.4)) * HOUR for d in range(-1, days + 1)]

    def run(self) -> Plan:
        self.plan.prop_days = [self.home.door is not None and self.rng.random() < self.home.door.prop
                               and self.weather.kind[d] != "typhoon" for d in range(self.days + 1)]
        segs: list[Seg] = [Seg(self.start, self.bed[0], self.elder.ac_room, "tv")] if self.bed[0] > self.start else []
        for d in range(self.days):
            segs += self._night(max(self.bed[d], self.start), self.wake[d], d)
            segs += self._day(d)
        segs += self._night(self.bed[self.days], self.start + (self.days + 1) * DAY, self.days)
        self.plan.segs = _untangle(segs)
        self._visits()
        self._absences()
        for inc in self.incidents:
            getattr(self, "_fall" if inc.kind in FALLS else f"_{inc.kind}")(inc)
        self._charging()
        return self.plan

    def fact(self, t: float, what: str, **extra: str) -> None:
        self.plan.truths.append((t, {"kind": "fault", "resident": self.rid, "fault": what, **extra}))

    # -- the ordinary day

    def fill(self, t0: float, t1: float) -> list[Seg]:
        """Home time: TV in the cool room, chores, kitchen, the toilet; every move crosses the living room."""
        rng, e, out = self.rng, self.elder, []
        t, room = t0, LIVING
        while t < t1:
            h = local_hour(t) % 24
            hot = 12.5 <= h < 18.5 or h >= 19.5
            r = rng.random()
            if r < 0.1:
                nxt, act, dur = BATH, "wash", rng.uniform(3, 8)
            elif r < (0.3 if hot else 0.45):
                nxt, act, dur = rng.choice([KITCHEN, LIVING, LIVING, BED, HALL]), "chores", rng.uniform(4, 20)
            else:
                nxt, act, dur = (e.ac_room if hot else LIVING), "tv", rng.uniform(15, 50)
            if nxt != room and LIVING not in (nxt, room) and t + 20 < t1:
                out.append(Seg(t, t + 20, LIVING, "pass"))
                t += 20
            end = min(t + dur * MIN, t1)
            out.append(Seg(t, end, nxt, act))
            t, room = end, nxt
        return out

    def _night(self, bed: float, wake: float, d: int) -> list[Seg]:
        """Washed and to bed; up for the bathroom now and then through the living room."""
        rng, e = self.rng, self.elder
        where = LIVING if rng.random() < e.sleeps_living else BED
        out = [Seg(bed - 10 * MIN, bed, BATH, "wash")] if bed - 10 * MIN > self.start else []
        t = bed
        for up in sorted(rng.uniform(bed + HOUR, wake - 0.5 * HOUR) for _ in range(_poisson(rng, e.nocturia))):
            if up <= t + 10 * MIN:
                continue
            out.append(Seg(t, up, where, "sleep"))
            loo = rng.uniform(3, 7) * MIN
            out += [Seg(up, up + 20, LIVING, "pass"), Seg(up + 20, up + 20 + loo, BATH, "wash"),
                    Seg(up + 20 + loo, up + 40 + loo, LIVING, "pass")]
            t = up + 40 + loo
        out.append(Seg(t, wake, where, "sleep"))
        return out

    def _day(self, d: int) -> list[Seg]:
        rng, e, _home = self.rng, self.elder, self.home
        m = self.start + d * DAY
        weather = self.weather.kind[d]
        weekday = d % 7 < 5
        day = _Day(self, self.wake[d])
        day.do(BATH, "wash", rng.uniform(6, 14))
        day.do(KITCHEN, "cook", rng.uniform(4, 12))
        if rng.random() < e.checkin:
            self.plan.buttons.append((day.t - rng.uniform(0, 3) * MIN, "cat", "button"))
        kid = weekday and weather != "typhoon" and rng.random() < e.grandchild
        if kid:
            self.plan.visits.append(Visit(m + rng.uniform(7.6, 8.8) * HOUR, m + rng.uniform(18.0, 19.6) * HOUR, "grandchild", 2.5))
        if weather == "typhoon":
            day.fill(m + rng.uniform(11, 12.5) * HOUR)
            day.do(KITCHEN, "cook", rng.uniform(25, 45))
            day.do(e.ac_room, "eat", rng.uniform(15, 30))
        else:
            self._morning(day, d, m, weekday, kid)
            self._lunch(day, m, kid)
        self._afternoon(day, m, weather, kid)
        self._evening(day, d, m, weather)
        return day.segs

    def _morning(self, day: _Day, d: int, m: float, weekday: bool, kid: bool) -> None:
        rng, e = self.rng, self.elder
        if weekday and rng.random() < e.clinic:
            day.go("clinic", m + rng.uniform(7.2, 8.2) * HOUR, rng.uniform(150, 280), tag_share=0.7)
            return
        if not kid and rng.random() < e.walk_am:
            day.go("park", day.t + rng.uniform(3, 25) * MIN, rng.uniform(45, 110), latest=m + 8.5 * HOUR)
            if rng.random() < 0.5:
                day.do(BATH, "shower", rng.uniform(10, 18))  # soaked through by 8 am
        weekend = 1.6 if d % 7 >= 5 else 1.0
        if rng.random() < e.yumcha * weekend:
            day.go("yumcha", m + rng.uniform(6.5, 9.0) * HOUR, rng.uniform(90, 180), latest=m + 10 * HOUR)
            if rng.random() < 0.5:
                day.go("market", day.t + rng.uniform(0, 10) * MIN, rng.uniform(20, 45), tag_share=0.8)
        elif rng.random() < e.market:
            day.go("market", m + rng.uniform(8.2, 10.0) * HOUR, rng.uniform(30, 70), latest=m + 10.5 * HOUR, tag_share=0.8)

    def _lunch(self, day: _Day, m: float, kid: bool) -> None:
        rng, e = self.rng, self.elder
        if not kid and rng.random() < e.canteen and day.go("canteen", m + rng.uniform(11.2, 11.7) * HOUR,
                                                          rng.uniform(40, 70), latest=m + 12.3 * HOUR, tag_share=0.6):
            return
        day.fill(max(day.t, m + rng.uniform(10.6, 11.3) * HOUR))
        day.do(KITCHEN, "cook", rng.uniform(30, 55))
        day.do(LIVING, "eat", rng.uniform(15, 30))
        day.do(KITCHEN, "chores", rng.uniform(5, 12))

    def _afternoon(self, day: _Day, m: float, weather: str, kid: bool) -> None:
        rng, e = self.rng, self.elder
        if rng.random() < e.nap:
            day.fill(m + rng.uniform(12.4, 13.4) * HOUR)
            sofa = e.nap_on_sofa or rng.random() < 0.15
            day.do(LIVING if sofa else BED, "nap", e.nap_h * 60 * rng.uniform(0.7, 1.2) * (0.7 if kid else 1.0))
        if weather != "typhoon" and not kid and rng.random() < e.mahjong:
            day.go("mahjong", max(day.t + 10 * MIN, m + rng.uniform(14.3, 15.2) * HOUR), rng.uniform(120, 220),
                   latest=m + 16 * HOUR, tag_share=0.4)
        if kid and rng.random() < 0.4:  # the grandchild to the summer class or the park
            day.go("square", m + rng.uniform(15.5, 16.5) * HOUR, rng.uniform(50, 100), latest=m + 17 * HOUR)

    def _evening(self, day: _Day, d: int, m: float, weather: str) -> None:
        rng, e = self.rng, self.elder
        day.fill(max(day.t, m + rng.uniform(16.9, 17.6) * HOUR))
        day.do(KITCHEN, "cook", rng.uniform(35, 60))
        day.do(LIVING, "eat", rng.uniform(15, 30))
        day.do(KITCHEN, "chores", rng.uniform(8, 15))
        if weather != "typhoon" and rng.random() < e.rubbish:
            day.go("rubbish", day.t + rng.uniform(0, 20) * MIN, rng.uniform(3, 9), tag_share=0.1)
        if rng.random() < 0.15:  # a neighbour at the door
            day.do(HALL, "door_chat", rng.uniform(5, 25))
        rain = weather == "typhoon" or (weather == "storm" and rng.random() < 0.65)
        if not rain and rng.random() < e.evening_out:
            day.go("square", m + rng.uniform(19.2, 20.0) * HOUR, rng.uniform(50, 110), latest=m + 20.5 * HOUR)
        bed = self.bed[d + 1]
        if rng.random() < e.doze and bed - day.t > 1.5 * HOUR:
            day.fill(day.t + rng.uniform(10, 40) * MIN)
            day.do(LIVING, "doze", rng.uniform(20, 70))
        shower = max(day.t, min(m + rng.uniform(20.5, 21.8) * HOUR, bed - 40 * MIN))
        if shower < bed - 30 * MIN:
            day.fill(shower)
            day.do(BATH, "shower", rng.uniform(12, 25))
        day.fill(bed - 10 * MIN)

    def _visits(self) -> None:
        """Carer on her weekdays (with a key, whether or not she is in); children at weekends."""
        rng, e = self.rng, self.elder
        for d in range(self.days):
            m = self.start + d * DAY
            if d % 7 in e.carer_days:
                t0 = m + rng.uniform(8.8, 14.5) * HOUR
                self.plan.visits.append(Visit(t0, t0 + rng.uniform(1.5, 2.5) * HOUR, "carer", 1.5))
            if d % 7 >= 5 and self.weather.kind[d] != "typhoon" and rng.random() < e.child_visit:
                t0 = m + rng.uniform(10, 16) * HOUR
                seg = self.plan.at(t0)
                if seg is None or seg.room == OUT or not self.plan.home_awake(t0):
                    continue
                stay = rng.uniform(1, 4) * HOUR
                if rng.random() < 0.3 and self._absent(t0 + 20 * MIN, t0 + stay, "family_meal", tag_share=0.5):
                    stay = 20 * MIN  # they take her out for a meal and bring her back
                self.plan.visits.append(Visit(t0, t0 + stay, "child", 1.3))

    def _absences(self) -> None:
        rng, e = self.rng, self.elder
        for d in range(1, self.days - 1):
            if self.weather.kind[d] != "typhoon" and rng.random() < e.overnight:
                m = self.start + d * DAY
                t0, t1 = m + rng.uniform(16, 18.5) * HOUR, m + DAY + rng.uniform(10, 16) * HOUR
                if self._absent(t0, t1, "child", tag_share=0.4):
                    self.fact(t0, "night_at_child", until=_iso(t1))
        if e.hometown and self.days >= 4:
            d = rng.randrange(1, self.days - 2)
            m = self.start + d * DAY
            t0, t1 = m + rng.uniform(8, 10) * HOUR, m + rng.randint(2, 5) * DAY + rng.uniform(14, 18) * HOUR
            if self._absent(t0, t1, "hometown", tag_share=0.5):
                self.fact(t0, "hometown_trip", until=_iso(t1))

    def _home_edge(self, t: float) -> float | None:
        """t, or the end of the outing that covers it: a plan edge must be at home and awake."""
        for _ in range(6):
            seg = self.plan.at(t)
            if seg is None:
                return None
            if seg.room != OUT and seg.act in AWAKE_ACTS:
                return t
            t = seg.t1 + 60
        return None

    def _absent(self, t0: float, t1: float, kind: str, tag_share: float = 1.0) -> bool:
        a, b = self._home_edge(t0), self._home_edge(t1)
        end = self.start + self.days * DAY
        if a is None or (b is None and t1 < end) or (b is not None and b <= a):
            return False
        b = b if b is not None else end
        dist, bearing = self.home.places[kind]
        tag = self.home.tag is not None and self.rng.random() < self.elder.carry_tag * tag_share
        trip = Trip(a, b, kind, dist, bearing, tag, True)
        self.plan.replace(a, b, [Seg(a, b, OUT, "out", trip)])
        return True

    # -- incidents

    def _contacts(self, tf: float) -> list[tuple[float, str]]:
        """Who would come in after tf: visitors, the child when the evening call is not answered,
        the neighbours and mahjong friends the next morning."""
        rng, e = self.rng, self.elder
        out = [(v.t0, v.who) for v in self.plan.visits if v.t0 > tf]
        for d in range(self.days + 1):
            m = self.start + d * DAY
            call = m + e.call_h * HOUR
            if call > tf:
                out.append((call + rng.uniform(1.2, 3.0) * HOUR, "child_after_call"))
            nxt = m + rng.uniform(9.5, 13) * HOUR
            if nxt > tf + 8 * HOUR:
                out.append((nxt, "neighbour"))
        return sorted(out)

    def _fall_time(self, kind: str, d: int) -> float | None:
        """A moment that fits the kind of fall, on day d, while she is at home."""
        rng = self.rng
        m = self.start + d * DAY
        segs = [s for s in self.plan.segs if m <= s.t0 < m + DAY and s.room != OUT and s.t1 - s.t0 >= 40]
        if kind == "fall_night":
            cand = [s for s in segs if s.room == BATH and s.act == "wash" and not 6 <= local_hour(s.t0) < 22]
        elif kind == "fall_shower":
            cand = [s for s in segs if s.act == "shower"]
        elif kind == "fall_evening":
            cand = [s for s in segs if s.act in AWAKE_ACTS and 18 <= local_hour(s.t0) < 23.5]
        elif kind == "heat_collapse":
            cand = [s for s in segs if s.act in ("chores", "cook", "tv", "wash") and 12 <= local_hour(s.t0) < 17.5]
        else:
            cand = [s for s in segs if s.act in ("chores", "cook", "wash", "pass") and 8 <= local_hour(s.t0) < 18]
        if not cand:
            return None
        s = rng.choice(cand)
        return rng.uniform(s.t0 + 5, max(s.t0 + 6, s.t1 - 5))

    def _fall(self, inc: Incident) -> None:
        for attempt in range(30):
            d = (inc.day + attempt) % self.days
            tf = self._fall_time(inc.kind, d)
            if tf is None or any(v.who == "grandchild" and v.t0 - 2 * HOUR < tf < v.t1 for v in self.plan.visits):
                continue
            if any(a - 6 * HOUR < tf < b + 6 * HOUR for a, b in self.plan.lying):
                continue
            contacts = self._contacts(tf)
            if not contacts:
                continue
            found, finder = contacts[0]
            if not 4 * HOUR <= found - tf <= 16 * HOUR or found >= self.start + self.days * DAY - HOUR:
                continue
            room = self.plan.at(tf).room if self.plan.at(tf) else LIVING  # type: ignore[union-attr]
            self._lie(tf, found, room, finder)
            self.plan.truths.append((tf, {"kind": "inactivity", "resident": self.rid, "fall": inc.kind, "room": room,
                                          "found_after_h": f"{(found - tf) / HOUR:.3f}", "finder": finder}))
            self.plan.incidents.append(replace(inc, day=d))
            return

    def _lie(self, tf: float, found: float, room: str, finder: str) -> None:
        """On the floor until found; the finder and the paramedics; then days in hospital."""
        rng = self.rng
        attend = found + rng.uniform(25, 60) * MIN
        back = self._hospital_return(attend, rng.uniform(2, 6))
        new = [Seg(tf, attend, room, "floor")]
        if back > attend:
            dist, bearing = self.home.places["hospital"]
            new.append(Seg(attend, back, OUT, "out", Trip(attend, back, "hospital_admission", dist, bearing, False, True)))
        self.plan.replace(tf, back, new)
        self.plan.lying.append((tf, found))
        self.plan.visits += [Visit(found, attend, "finder", 2.0), Visit(found + rng.uniform(10, 20) * MIN, attend, "paramedics", 2.0)]
        self.fact(attend, "hospital_admission", until=_iso(back))
        self.plan.visits.sort(key=lambda v: v.t0)

    def _hospital_return(self, t: float, days: float) -> float:
        end = self.start + self.days * DAY
        m = self.start + math.floor((t - self.start) / DAY + days) * DAY
        back = m + self.rng.uniform(10, 17) * HOUR
        if back >= end:
            return end
        edge = self._home_edge(back)
        return edge if edge is not None else end

    def _sos(self, inc: Incident) -> None:
        """Unwell (chest pain, dizziness in the heat): she presses the cat's button, or the tag's when
        out with it; a grid worker or neighbour comes; a third go on to hospital."""
        self._press(inc, cancelled=False)

    def _sos_cancelled(self, inc: Incident) -> None:
        self._press(inc, cancelled=True)

    def _press(self, inc: Incident, cancelled: bool) -> None:
        rng = self.rng
        for attempt in range(20):
            d = (inc.day + attempt) % self.days
            t = self.start + d * DAY + rng.uniform(7, 22.5) * HOUR
            seg = self.plan.at(t)
            if seg is None or any(a - HOUR < t < b + HOUR for a, b in self.plan.lying) or seg.act not in AWAKE_ACTS | {"out"}:
                continue
            if seg.trip is not None and (not seg.trip.tag or seg.trip.kind in ("child", "hometown", "hospital_admission")):
                continue
            role = "tag" if seg.trip is not None else "cat"
            why = "unwell"
            if cancelled:
                kid = any(v.who == "grandchild" and v.t0 < t < v.t1 for v in self.plan.visits)
                why = "grandchild_playing" if kid and role == "cat" else ("pocket" if role == "tag" else "dusting")
            self.plan.buttons.append((t, role, "sos"))
            truth = {"kind": "sos_cancelled" if cancelled else "sos", "resident": self.rid, "via": role, "why": why}
            self.plan.truths.append((t, truth))
            if cancelled:
                self.plan.buttons.append((t + rng.uniform(4, 25), role, "sos_cancel"))
            elif role == "cat":
                come = t + rng.uniform(12, 35) * MIN
                self.plan.visits.append(Visit(come, come + rng.uniform(20, 60) * MIN, "responder", 1.5))
                self.plan.visits.sort(key=lambda v: v.t0)
            self.plan.incidents.append(replace(inc, day=d))
            return

    def _wander(self, inc: Incident) -> None:
        """Dementia: she walks off and keeps going; family or police bring her back by car."""
        rng = self.rng
        for attempt in range(20):
            d = (inc.day + attempt) % self.days
            m = self.start + d * DAY
            t0 = m + (rng.uniform(9, 16.5) if rng.random() < 0.6 else rng.uniform(17.5, 20)) * HOUR
            t0e = self._home_edge(t0)
            if t0e is None or any(a - 2 * HOUR < t0e < b + 2 * HOUR for a, b in self.plan.lying):
                continue
            t1 = self._home_edge(t0e + rng.uniform(1.5, 4) * HOUR)
            if t1 is None or t1 - t0e > 7 * HOUR or t1 >= self.start + self.days * DAY:
                continue
            trip = Trip(t0e, t1, "wander", 0.0, rng.uniform(0, 2 * math.pi), rng.random() < 0.85, False, wander=True)
            self.plan.replace(t0e, t1, [Seg(t0e, t1, OUT, "out", trip)])
            self.plan.incidents.append(replace(inc, day=d))
            return  # the truth line is written where her path crosses the zone edge (Emitter._tag)

    def _charging(self) -> None:
        """Nights the tag could go on the charger: she is at home at bedtime (whether she thinks of
        it is decided with its battery, in Emitter)."""
        if self.home.tag is None:
            return
        rng = self.rng
        for d in range(self.days):
            bed, wake = self.bed[d + 1], self.wake[d + 1]
            seg = self.plan.at(bed - 20 * MIN)
            if seg is not None and seg.room != OUT and seg.act != "floor":
                self.plan.charging.append((bed - rng.uniform(0, 30) * MIN, wake + rng.uniform(0, 40) * MIN))


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).astimezone(LOCAL_TZ).strftime("%Y-%m-%dT%H:%M")


def _untangle(segs: list[Seg]) -> list[Seg]:
    """Time order without overlaps: a late evening outing pushes her bedtime back."""
    out: list[Seg] = []
    for seg in sorted(segs, key=lambda x: x.t0):
        if out and seg.t0 < out[-1].t1:
            seg = replace(seg, t0=out[-1].t1)
            if seg.trip is not None:
                seg.trip.t0 = seg.t0
        if seg.t1 > seg.t0:
            out.append(seg)
    return out


# ---------------------------------------------------------------- device physics

INDOOR_PLACES = frozenset({"yumcha", "clinic", "hospital", "mahjong", "canteen", "child", "hometown", "family_meal",
                           "hospital_admission"})


@dataclass
class Span:
    """A device unheard: "off" (no power, nothing kept) or "link" (sensing, buffering, no uplink)."""

    t0: float
    t1: float
    mode: str
    cause: str


@dataclass
class _Dev:
    device: Device
    rng: random.Random
    start: float
    latency: tuple[float, float]
    keepalive: float
    spans: list[Span] = field(default_factory=list)
    offset: float = 0.0
    drift: float = 0.0  # s/day
    resets: list[tuple[float, float]] = field(default_factory=list)  # booted at 2000-01-01 until synced
    low: bool = False

    def clock(self, t: float) -> int:
        for boot, synced in self.resets:
            if boot <= t < synced:
                return int(Y2000 + (t - boot))
        return int(t + self.offset + self.drift * (t - self.start) / DAY)

    def down(self, t: float) -> Span | None:
        return next((s for s in self.spans if s.t0 <= t < s.t1), None)


@dataclass
class Trace:
    """What the devices of one home did, for a reader explaining alerts."""

    door_actions: list[tuple[float, str]] = field(default_factory=list)  # true door use
    door_reports: list[tuple[float, str]] = field(default_factory=list)
    spans: dict[str, list[Span]] = field(default_factory=dict)
    tag_levels: list[float] = field(default_factory=list)  # every 5 min from the start
    tag_charged: list[tuple[float, float]] = field(default_factory=list)
    motion: dict[str, list[float]] = field(default_factory=dict)  # event times per unit


Record = tuple[float, str, str, Any]  # (event time, device, channel, data)


class Emitter:
    """Turns one home's plan into what its devices send (receive time order), with truth lines."""

    def __init__(self, home: Home, plan: Plan, start: float, end: float, weather: Weather, seed: int) -> None:
        self.home, self.plan, self.e = home, plan, home.elder
        self.start, self.end, self.weather = start, end, weather
        self.rid = home.resident.id
        self.rng = random.Random(f"lingnan:devices:{seed}:{self.rid}")
        self.trace = Trace()
        self.truths: list[tuple[float, dict[str, str]]] = []
        self.devs = {d.id: self._dev(d, seed) for d in home.resident.devices}

    def _dev(self, d: Device, seed: int) -> _Dev:
        rng = random.Random(f"lingnan:dev:{seed}:{d.id}")
        wifi = any(u.device == d.id and u.wifi for u in self.home.units)
        latency = {DeviceKind.PINGAN_CAT: (0.05, 0.6) if wifi else (0.3, 2.0), DeviceKind.GPS_TAG: (0.5, 3.0)}.get(d.kind, (2.0, 20.0))
        keepalive = KEEPALIVE_S.get(d.kind, SLEEPY_KEEPALIVE_S)
        dev = _Dev(d, rng, self.start, latency, keepalive, offset=rng.gauss(0, 1.5), drift=rng.gauss(0, 2.0))
        if d.kind in (DeviceKind.PINGAN_CAT, DeviceKind.GPS_TAG) and rng.random() < 0.03:
            dev.offset += UTC8_BUG
        return dev

    def fact(self, t: float, what: str, **extra: str) -> None:
        self.truths.append((t, {"kind": "fault", "resident": self.rid, "fault": what, **extra}))

    def day_of(self, t: float) -> int:
        return min(max(int((t - self.start) // DAY), 0), len(self.weather.kind) - 1)

    # -- assembly

    def run(self) -> list[tuple[float, int, str, str, Any, int | None]]:
        home = self.home
        raw: list[Record] = []
        if home.tag is not None:
            self._tag_battery()
            raw += self._tag()
        self._outages()
        for unit in home.units:
            raw += self._pir(unit)
        if home.door is not None:
            raw += self._door()
        if home.water is not None:
            raw += self._water()
        raw += self._buttons()
        for dev in self.devs.values():
            raw += self._heartbeats(dev)
        return self._deliver(raw)

    def _deliver(self, raw: list[Record]) -> list[tuple[float, int, str, str, Any, int | None]]:
        """Per device, in creation order: seq, ts, then the network — live, buffered and flushed late, or lost."""
        out: list[tuple[float, str, str, Any, int | None]] = [(t, "", "truth", truth, None) for t, truth in self.plan.truths + self.truths]
        by_dev: dict[str, list[Record]] = {}
        for rec in raw:
            by_dev.setdefault(rec[1], []).append(rec)
        for did, dev in self.devs.items():
            recs = sorted(by_dev.get(did, []), key=lambda r: r[0])
            buffered: dict[int, list[tuple[float, str, Any, int]]] = {}
            seq = dev.rng.randrange(1, 60000)
            for t, _, channel, data in recs:
                span = dev.down(t)
                if span is not None and (span.mode == "off" or channel == "heartbeat"):
                    continue
                ts = dev.clock(t)
                if span is not None:
                    buffered.setdefault(id(span), []).append((t, channel, data, seq))
                else:
                    out.append((t + dev.rng.uniform(*dev.latency), did, channel, (data, seq), ts))
                seq = (seq + 1) % 2**32
            out += self._reconnections(dev, buffered)
            out.append((self.start + dev.rng.uniform(0, 5), did, "status", "online", None))
        out.sort(key=lambda r: r[0])
        return [(t, i, did, ch, data, ts) for i, (t, did, ch, data, ts) in enumerate(out)]

    def _reconnections(self, dev: _Dev, buffered: dict[int, list[tuple[float, str, Any, int]]]) -> list[tuple[float, str, str, Any, int | None]]:
        """Last Will when the broker notices, online on reconnect, then the buffer oldest first."""
        out: list[tuple[float, str, str, Any, int | None]] = []
        did = dev.device.id
        for span in dev.spans:
            if span.t1 - span.t0 > 1.5 * dev.keepalive:
                out.append((span.t0 + 1.5 * dev.keepalive + dev.rng.uniform(0, 5), did, "status", "offline", None))
            if span.t1 >= self.end:
                continue
            back = span.t1 + (dev.rng.uniform(20, 60) if span.mode == "off" else dev.rng.uniform(1, 30))
            out.append((back, did, "status", "online", None))
            kept = buffered.get(id(span), [])
            critical = [k for k in kept if k[1] == "event" and k[2] in ("sos", "sos_cancel", "fall")]
            kept = sorted(critical + [k for k in kept if k not in critical][-(BUFFER - len(critical)):], key=lambda k: k[0])
            for i, (t, channel, data, seq) in enumerate(kept):
                out.append((back + 0.2 + 0.05 * i, did, channel, (data, seq), dev.clock(t)))
        return out

    # -- outages

    def _outages(self) -> None:
        """Breaker trips, the typhoon cut, router outages, dead cells: which device is unheard when."""
        home, rng = self.home, self.rng
        cuts = self._power_cuts()
        routers = self._router_outages()
        for unit in home.units:
            dev = self.devs[unit.device]
            for t0, t1, cause in cuts:
                if unit.mains and not unit.backup:
                    dev.spans.append(Span(t0, t1, "off", cause))
                    if not unit.rtc:
                        boot = t1 + rng.uniform(20, 60)
                        dev.resets.append((boot, boot + rng.uniform(60, 900)))
                elif unit.wifi:
                    dev.spans.append(Span(t0, t1, "link", cause))
            if unit.wifi:
                dev.spans += [Span(t0, t1, "link", cause) for t0, t1, cause in routers]
        for did in [home.door.device if home.door else None, home.water, *home.alarms]:
            if did is not None:
                self._weak_cell(self.devs[did])
        if home.tag is not None:
            self.devs[home.tag.device].spans += self._tag_dead()
        for dev in self.devs.values():
            dev.spans = _merge(dev.spans)
            self.trace.spans[dev.device.id] = dev.spans
        self._offline_truths()

    def _power_cuts(self) -> list[tuple[float, float, str]]:
        home, rng, plan = self.home, self.rng, self.plan
        out = []
        for d in range(len(self.weather.kind) - 2):
            m = self.start + d * DAY
            hot = self.weather.kind[d] == "hot"
            if rng.random() < (0.05 if home.old_wiring and hot else 0.012 if home.old_wiring else 0.002):
                r = rng.random()
                t0 = m + (rng.uniform(17.3, 19.2) if r < 0.55 else rng.uniform(13, 16) if r < 0.9 else rng.uniform(0.5, 3)) * HOUR
                out.append((t0, self._reset_breaker(t0), "breaker"))
        if self.weather.cut is not None and home.block == self.weather.cut_block:
            t0, t1 = self.weather.cut
            out.append((t0 + rng.uniform(0, 20), t1 + rng.uniform(0, 300), "typhoon_cut"))
        for t0, t1, cause in out:
            self.fact(t0, cause, minutes=f"{(t1 - t0) / MIN:.0f}")
        _ = plan
        return out

    def _reset_breaker(self, t0: float) -> float:
        """She resets it when she notices; out, on the floor or unsure of the fuse box: much later."""
        rng, plan = self.rng, self.plan
        seg = plan.at(t0)
        if any(a <= t0 < b for a, b in plan.lying):
            b = next(b for a, b in plan.lying if a <= t0 < b)
            return b + rng.uniform(10, 30) * MIN
        if seg is not None and seg.room == OUT:
            return seg.t1 + rng.uniform(2, 10) * MIN
        if rng.random() < 0.15:  # waits for her son
            return t0 + rng.uniform(1.5, 5) * HOUR
        if seg is not None and seg.act in ("sleep", "nap"):
            return t0 + rng.uniform(15, 60) * MIN  # woken by the heat
        return t0 + rng.uniform(3, 25) * MIN

    def _router_outages(self) -> list[tuple[float, float, str]]:
        home, rng, out = self.home, self.rng, []
        for d in range(len(self.weather.kind) - 2):
            m = self.start + d * DAY
            if rng.random() < 0.02:
                t0 = m + rng.uniform(0, 24) * HOUR
                t1 = t0 + (rng.uniform(2, 12) * MIN if rng.random() < 0.7 else rng.uniform(20, 360) * MIN)
                out.append((t0, t1, "router"))
            if home.router_nightly and rng.random() < home.router_nightly:
                t0 = m + (self.e.bed_h + rng.gauss(0, 0.2)) * HOUR
                out.append((t0, m + DAY + (self.e.wake_h + rng.uniform(0, 1)) * HOUR, "router_off_at_night"))
        for t0, t1, cause in out:
            self.fact(t0, cause, minutes=f"{(t1 - t0) / MIN:.0f}")
        return out

    def _weak_cell(self, dev: _Dev) -> None:
        """A cell that collapses in the summer heat well before its gauge says empty."""
        d = dev.device
        if d.battery0 - d.drain_per_day * 20 > 20 or dev.rng.random() > 0.5:
            return
        level_at_death = dev.rng.uniform(8, 14)
        t = self.start + (d.battery0 - level_at_death) / d.drain_per_day * DAY
        if t < self.end:
            dev.spans.append(Span(t, self.end + DAY, "off", "battery_dead"))

    def _offline_truths(self) -> None:
        """device_offline where a device goes unheard for three heartbeats or more; one per outage."""
        claimed: list[tuple[float, float]] = []
        for did, dev in sorted(self.devs.items()):
            for span in dev.spans:
                if span.t0 >= self.end or span.t1 - span.t0 < 3 * dev.device.heartbeat_s:
                    continue
                if any(a < span.t1 and span.t0 < b for a, b in claimed):
                    continue
                claimed.append((span.t0, span.t1))
                self.truths.append((span.t0, {"kind": "device_offline", "resident": self.rid, "device": did, "cause": span.cause}))
            if dev.spans:
                self.fact(dev.spans[0].t0, "device_unheard", device=did,
                          spans=";".join(f"{_iso(s.t0)}+{(s.t1 - s.t0) / MIN:.0f}m:{s.cause}" for s in dev.spans))

    # -- the home unit's PIR

    def _pir(self, unit: Unit) -> list[Record]:
        rng, plan = self.rng, self.plan
        cand: list[float] = []
        for s in plan.segs:
            if s.room == OUT:
                continue
            rate = RATE[s.act] * unit.sees.get(s.room, 0.0)
            if s.act in ("tv", "eat", "doze", "nap"):
                rate *= self.e.fidget
            cand += self._arrivals(s.t0, s.t1, rate * self._contrast(unit, s))
            if unit.fan_rate and s.act != "floor" and self.weather.kind[self.day_of(s.t0)] != "typhoon":
                cand += self._arrivals(s.t0, s.t1, unit.fan_rate)
        for v in plan.visits:
            cand += [t for t in self._arrivals(v.t0, v.t1, v.rate * unit.sees.get(LIVING, 0.0)) if self._visible_visitor(v, t)]
        out, blind_until = [], -math.inf
        for t in sorted(cand):
            if t >= blind_until:
                out.append((t, unit.device, "event", "motion"))
                blind_until = t + rng.uniform(*unit.blind)
        self.trace.motion[unit.device] = [r[0] for r in out]
        return out

    def _visible_visitor(self, v: Visit, t: float) -> bool:
        """The grandchild is at home only while she is (he goes along on her outings)."""
        if v.who != "grandchild":
            return True
        seg = self.plan.at(t)
        return seg is not None and seg.room != OUT and seg.act != "floor"

    def _contrast(self, unit: Unit, s: Seg) -> float:
        """A PIR sees body heat against the room: in a 34 °C living room without AC it sees much less."""
        if unit.room != LIVING or not self.home.hot_living or self.weather.kind[self.day_of(s.t0)] == "typhoon":
            return 1.0
        return 0.5 if 12.5 <= local_hour(s.t0) < 18.5 else 1.0

    def _arrivals(self, t0: float, t1: float, per_min: float) -> list[float]:
        if per_min <= 0 or t1 <= t0:
            return []
        n = _poisson(self.rng, per_min * (t1 - t0) / MIN)
        return [self.rng.uniform(t0, t1) for _ in range(n)]

    # -- the door

    def _door(self) -> list[Record]:
        door = self.home.door
        assert door is not None
        actions = sorted(self._door_actions())
        self.trace.door_actions = actions
        rng, out = self.rng, []
        is_open, temporary = False, False
        for t, act in actions:
            if act == "pass" and not is_open:
                if rng.random() >= door.miss:
                    out += [(t, "door_open"), (t + rng.uniform(4, 15), "door_close")]
                    out += self._chatter(t + 16)
            elif act in ("open", "open_tmp") and not is_open:
                is_open, temporary = True, act == "open_tmp"
                if rng.random() >= door.miss * 0.3:
                    out.append((t, "door_open"))
            elif (act == "close" and is_open) or (act == "close_tmp" and is_open and temporary):
                is_open = False
                if rng.random() >= door.miss * 0.3:
                    out.append((t, "door_close"))
                    out += self._chatter(t + 1)
        self.trace.door_reports = out
        return [(t, door.device, "event", kind) for t, kind in out]

    def _chatter(self, t: float) -> list[tuple[float, str]]:
        """A misaligned magnet: the reed flickers as the door settles."""
        door = self.home.door
        if door is None or self.rng.random() >= door.chatter:
            return []
        out = []
        for _ in range(self.rng.randint(1, 3)):
            t += self.rng.uniform(0.3, 3)
            out += [(t, "door_open"), (t + self.rng.uniform(0.2, 1.5), "door_close")]
            t += 2
        return out

    def _door_actions(self) -> list[tuple[float, str]]:
        """What people do with the wooden door: pass through it, prop it open for the breeze, shut it."""
        plan, rng, out = self.plan, self.rng, []
        for tr in plan.trips:
            out.append((tr.t0, "close" if tr.close_door else "pass"))
            if tr.close_door:
                out.append((tr.t0 + 0.5, "pass"))
            out.append((tr.t1, "pass"))
            out += self._after_return(tr.t1)
        for v in plan.visits:
            if v.who != "paramedics":
                out += [(v.t0, "pass"), (v.t1, "pass")]
        for s in plan.segs:
            if s.act == "door_chat":
                out += [(s.t0, "open_tmp"), (s.t1, "close_tmp")]
        for d, prop in enumerate(plan.prop_days):
            m = self.start + d * DAY
            if prop:
                t_open = m + rng.uniform(7.0, 9.5) * HOUR
                if plan.home_awake(t_open):
                    out.append((t_open, "open"))
                t_close = m + rng.uniform(20.0, 23.0) * HOUR
                if plan.home_awake(t_close):
                    out.append((t_close, "close"))
        for s in plan.segs:  # locks up for the night
            if (s.act == "sleep" and local_hour(s.t0) >= 19) or (s.act == "sleep" and local_hour(s.t0) < 4):
                out.append((s.t0 - 12 * MIN, "close"))
        return [(t, a) for t, a in out if not any(x < t < y for x, y in plan.lying)]

    def _after_return(self, t: float) -> list[tuple[float, str]]:
        d = self.day_of(t)
        if d >= len(self.plan.prop_days) or not self.plan.prop_days[d]:
            return []
        h = local_hour(t)
        later = t + self.rng.uniform(1, 10) * MIN
        return [(later, "open")] if 7 <= h < 20.5 else []

    # -- water meter

    def _water(self) -> list[Record]:
        """A flow event when a draw starts (after the meter's threshold); the meter debounces 2 min."""
        rng, did = self.rng, self.home.water
        if did is None:
            return []
        draws: list[float] = []
        per = {"wash": 0.9, "cook": 2.0, "shower": 1.0}
        for s in self.plan.segs:
            if s.room == OUT:
                continue
            n = per.get(s.act, 0.5 if s.act == "chores" and s.room == KITCHEN else 0.0)
            while n > 0:
                if rng.random() < n:
                    draws.append(rng.uniform(s.t0, max(s.t0 + 1, s.t1 - 30)))
                n -= 1
        for v in self.plan.visits:
            if v.who in ("carer", "child"):
                draws += [rng.uniform(v.t0, v.t1) for _ in range(2)]
        out, last = [], -math.inf
        for t in sorted(draws):
            if t - last >= 120 and rng.random() < 0.93:
                out.append((t, did, "event", "water_flow"))
                last = t
        return out

    # -- buttons

    def _buttons(self) -> list[Record]:
        home, out = self.home, []
        cat = home.units[0].device
        for t, role, kind in self.plan.buttons:
            did = cat if role == "cat" or home.tag is None else home.tag.device
            out.append((t, did, "event", kind))
        return out

    def _heartbeats(self, dev: _Dev) -> list[Record]:
        d = dev.device
        loss = 0.003 + (0.03 if d.rssi < -82 else 0.0)
        out, t = [], self.start + dev.rng.uniform(5, d.heartbeat_s)
        while t < self.end:
            if dev.rng.random() >= loss:
                out.append((t, d.id, "heartbeat", None))
            t += d.heartbeat_s + dev.rng.uniform(-2, 2)
        return out

    # -- the GPS tag

    def _tag_battery(self) -> None:
        """Its charge every 5 min: idle drain, more while it tracks a walk, the charger on nights she thinks of it."""
        tag, rng, plan = self.home.tag, self.rng, self.plan
        assert tag is not None
        step = 5 * MIN
        nights = list(plan.charging)
        moving = sorted((tr.t0, tr.t1) for tr in plan.trips if tr.tag)
        level, levels, t, i, j = tag.level0, [], self.start, 0, 0
        charging_until = -math.inf
        while t < self.end + step:
            while i < len(nights) and nights[i][0] <= t:
                c0, c1 = nights[i]
                if (level < tag.charge_below or level <= 2) and rng.random() < tag.diligence:
                    charging_until = c1
                    self.trace.tag_charged.append((c0, c1))
                elif level < 25:
                    self.fact(c0, "tag_not_charged", device=tag.device, level=f"{level:.0f}")
                i += 1
            while j < len(moving) and moving[j][1] < t:
                j += 1
            if t < charging_until:
                level = min(100.0, level + 40 * step / HOUR)
            else:
                extra = 2.5 if j < len(moving) and moving[j][0] <= t else 0.0
                level = max(0.0, level - (tag.drain_h + extra) * step / HOUR)
            levels.append(level)
            t += step
        self.trace.tag_levels = levels

    def tag_level(self, t: float) -> float:
        levels = self.trace.tag_levels
        return levels[min(max(int((t - self.start) // (5 * MIN)), 0), len(levels) - 1)]

    def _tag_dead(self) -> list[Span]:
        """Flat: off at 2 %, back once charged past 5 %."""
        out, dead_since = [], None
        for k, level in enumerate(self.trace.tag_levels):
            t = self.start + k * 5 * MIN
            if dead_since is None and level <= 2:
                dead_since = t
            elif dead_since is not None and level >= 5:
                out.append(Span(dead_since, t, "off", "tag_flat"))
                dead_since = None
        if dead_since is not None:
            out.append(Span(dead_since, self.end + DAY, "off", "tag_flat"))
        return out

    def _tag(self) -> list[Record]:
        """Fixes: every 5 min when still (10 at ≤ 15 %), every 30 s when moving; SOS on it is in _buttons."""
        tag, rng = self.home.tag, self.rng
        assert tag is not None
        home_at = self.home.resident.home
        trips = [tr for tr in self.plan.trips if tr.tag or tr.wander]
        out: list[Record] = []
        t, k = self.start + rng.uniform(0, 300), 0
        while t < self.end:
            if k < len(trips) and trips[k].t0 <= t:
                out += self._trip_fixes(trips[k], tag.device, home_at)
                t = max(t, trips[k].t1) + rng.uniform(5, 60)
                k += 1
                continue
            out.append((t, tag.device, "gps", self._indoor_fix(home_at)))
            t += (600 if self.tag_level(t) <= 15 else 300) + rng.uniform(-3, 3)
            if k < len(trips) and trips[k].t0 < t:
                t = trips[k].t0
        return out

    def _indoor_fix(self, at: LatLon) -> tuple[float, float, float, float]:
        """Indoors: a weak fix through the window (tens of metres, now and then 150), or the
        cell-tower fallback (hundreds of metres, honest accuracy)."""
        rng = self.rng
        if rng.random() < 0.2:
            err = rng.uniform(150, 900)
            acc = err * rng.uniform(1.0, 2.0)
        else:
            err = rng.uniform(60, 160) if rng.random() < 0.1 else abs(rng.gauss(0, 35))
            acc = min(150.0, max(15.0, err * rng.uniform(0.6, 1.5)))
        speed = rng.uniform(0.5, 1.2) if rng.random() < 0.03 else rng.uniform(0, 0.3)
        return self._fix(polar(at, rng.uniform(0, 2 * math.pi), err), acc, speed)

    def _street_fix(self, at: LatLon, speed: float) -> tuple[float, float, float, float]:
        """Outdoors between the arcade buildings: good fixes, and multipath that under-reports its error."""
        rng = self.rng
        if rng.random() < 0.06:
            err, acc = rng.uniform(40, 200), rng.uniform(15, 60)
        else:
            err = abs(rng.gauss(0, 12))
            acc = max(5.0, err * rng.uniform(0.8, 2.0))
        return self._fix(polar(at, rng.uniform(0, 2 * math.pi), err), acc, speed * rng.uniform(0.8, 1.2))

    @staticmethod
    def _fix(p: LatLon, acc: float, speed: float) -> tuple[float, float, float, float]:
        return round(p[0], 6), round(p[1], 6), round(acc, 1), round(speed, 2)

    def _trip_fixes(self, tr: Trip, did: str, home_at: LatLon) -> list[Record]:
        if tr.wander:
            return self._wander_fixes(tr, did, home_at)
        rng = self.rng
        dest = polar(home_at, tr.bearing, tr.dist_m)
        ride = tr.dist_m > 1200
        speed = rng.uniform(4, 8) if ride else rng.uniform(0.7, 1.05)
        travel = min(tr.dist_m / speed, (tr.t1 - tr.t0) / 2)
        metro = ride and rng.random() < 0.5
        out: list[Record] = []
        t = tr.t0
        for a, b, src, dst in ((tr.t0, tr.t0 + travel, home_at, dest), (tr.t1 - travel, tr.t1, dest, home_at)):
            t = max(t, a)
            while t < b:
                if not (metro and a + 0.15 * (b - a) < t < b - 0.15 * (b - a)):  # underground: no fix
                    f = (t - a) / (b - a)
                    p = (src[0] + (dst[0] - src[0]) * f, src[1] + (dst[1] - src[1]) * f)
                    out.append((t, did, "gps", self._street_fix(p, speed)))
                t += 30 * rng.uniform(0.8, 1.2)
            if src == home_at:
                out += self._stay_fixes(tr, did, dest, t, tr.t1 - travel)
                t = tr.t1 - travel
        return out

    def _stay_fixes(self, tr: Trip, did: str, at: LatLon, t0: float, t1: float) -> list[Record]:
        rng, out, t = self.rng, [], t0
        indoor = tr.kind in INDOOR_PLACES
        while t < t1:
            if indoor:
                out.append((t, did, "gps", self._indoor_fix(at)))
                t += 300 + rng.uniform(-3, 3)
            else:  # tai chi, the market lanes, square dancing: slow about a spot
                p = polar(at, rng.uniform(0, 2 * math.pi), rng.uniform(0, 60))
                out.append((t, did, "gps", self._street_fix(p, rng.uniform(0.1, 0.9))))
                t += 60 * rng.uniform(0.8, 1.2)
        return out

    def _wander_fixes(self, tr: Trip, did: str, home_at: LatLon) -> list[Record]:
        """She walks on, turning a little, until found; then a car brings her home. The truth line
        is where her path crosses the zone edge."""
        rng, out = self.rng, []
        pos, bearing, speed = home_at, tr.bearing, rng.uniform(0.55, 0.9)
        walk_end = tr.t0 + (tr.t1 - tr.t0) * 0.8
        t, next_fix = tr.t0, tr.t0
        crossed = False
        while t < walk_end:
            bearing += rng.gauss(0, 0.04)
            pos = polar(pos, bearing, speed * 10)
            t += 10
            if not crossed and distance_m(home_at, pos) > ZONE_RADIUS_M:
                crossed = True
                self.truths.append((t, {"kind": "geofence_exit", "resident": self.rid, "tag_on_her": str(tr.tag).lower()}))
            if tr.tag and t >= next_fix:
                out.append((t, did, "gps", self._street_fix(pos, speed)))
                next_fix = t + 30 * rng.uniform(0.8, 1.2)
        if not crossed:
            self.fact(tr.t0, "wander_inside_zone")
        found = pos
        t = walk_end + rng.uniform(5, 15) * MIN
        while tr.tag and t < tr.t1:  # in the car home
            f = (t - walk_end) / (tr.t1 - walk_end)
            p = (found[0] + (home_at[0] - found[0]) * f, found[1] + (home_at[1] - found[1]) * f)
            out.append((t, did, "gps", self._street_fix(p, rng.uniform(4, 9))))
            t += 30 * rng.uniform(0.8, 1.2)
        return out

    # -- batteries

    def battery(self, did: str, t: float) -> int | None:
        dev = self.devs[did]
        d = dev.device
        if self.home.tag is not None and did == self.home.tag.device:
            return round(self.tag_level(t))
        unit = next((u for u in self.home.units if u.device == did), None)
        if unit is not None and unit.mains:
            return self._backup_level(dev, t) if unit.backup else None
        level = d.battery0 - d.drain_per_day * (t - self.start) / DAY
        return round(min(100.0, max(0.0, level)))

    def _backup_level(self, dev: _Dev, t: float) -> int:
        """The backup cell runs the unit through a power cut (4 %/h) and recharges after (25 %/h)."""
        level = 100.0
        for s in dev.spans:
            if s.cause in ("breaker", "typhoon_cut") and s.t0 < t:
                used = 4.0 * (min(t, s.t1) - s.t0) / HOUR
                level = min(level, 100.0 - used + 25.0 * max(0.0, t - s.t1) / HOUR)
        return round(max(0.0, min(100.0, level)))


def _merge(spans: list[Span]) -> list[Span]:
    """Overlapping outages as one; "off" wins (nothing was kept)."""
    out: list[Span] = []
    for s in sorted(spans, key=lambda x: x.t0):
        if out and s.t0 <= out[-1].t1:
            last = out[-1]
            mode = "off" if "off" in (last.mode, s.mode) else "link"
            cause = last.cause if last.cause == s.cause else f"{last.cause}+{s.cause}"
            out[-1] = Span(last.t0, max(last.t1, s.t1), mode, cause)
        else:
            out.append(replace(s))
    return out


# ---------------------------------------------------------------- the simulation


class LingnanSimulation:
    """Iterate to get `Message`s and `Truth`s in time order (what `write_recording` needs).

    `plans` (resident id → Plan) is the world's own account of every resident; `emitter(h)` rebuilds
    one home's device physics (door use and reports, outages, tag charge) for a reader."""

    def __init__(self, residents: int = 60, days: float = 14, seed: int = 1, start: str | None = None,
                 topic_root: str = DEFAULT_ROOT) -> None:
        self.seed = seed
        self.days = math.ceil(days)
        self.start = parse_start(start or START)
        self.end = self.start + days * DAY
        self.root = topic_root
        self.community, self.homes = build_homes(residents, seed)
        self.weather = Weather.draw(self.days, self.start, seed)
        self.incidents = draw_incidents(self.homes, self.days, seed)
        self.plans: dict[str, Plan] = {}
        for h, home in enumerate(self.homes):
            mine = [i for i in self.incidents if i.home == h]
            self.plans[home.resident.id] = Planner(home, self.start, self.days, seed, self.weather, mine).run()
        self.owner = {d.id: d.resident for d in self.community.devices}
        self._topics: dict[tuple[str, Channel], str] = {}

    def emitter(self, h: int) -> Emitter:
        home = self.homes[h]
        return Emitter(home, self.plans[home.resident.id], self.start, self.end, self.weather, self.seed)

    def __iter__(self) -> Iterator[Message | Truth]:
        emitters = [self.emitter(h) for h in range(len(self.homes))]
        streams = [[(t, h * 10_000_000 + i, did, ch, data, ts) for t, i, did, ch, data, ts in em.run()]
                   for h, em in enumerate(emitters)]
        by_device = {did: em for em in emitters for did in em.devs}
        last = self.start
        for t, _order, did, channel, data, ts in heapq.merge(*streams):
            if t < self.start or t >= self.end:
                continue
            t = max(round(t, 3), last)
            last = t
            if channel == "truth":
                yield Truth(t, data)
                continue
            em = by_device[did]
            if channel == "status":
                yield Message(t, self._topic(did, Channel.STATUS), Status(state=data), True)
                continue
            payload, seq = data
            if channel == "event":
                yield Message(t, self._topic(did, Channel.EVENT), Event(payload, ts, seq))
                continue
            battery = em.battery(did, t)
            low = self._low_battery(em, did, t, battery)
            if low is not None:
                yield low
            dev = em.devs[did]
            if channel == "heartbeat":
                hb = Heartbeat(ts, seq, battery, dev.device.rssi + dev.rng.randint(-4, 4), dev.device.fw)
                yield Message(t, self._topic(did, Channel.HEARTBEAT), hb)
            else:
                lat, lon, acc, speed = payload
                yield Message(t, self._topic(did, Channel.GPS), Gps(lat, lon, ts, seq, acc, speed, battery))

    def _topic(self, did: str, channel: Channel) -> str:
        key = (did, channel)
        if key not in self._topics:
            self._topics[key] = str(DeviceTopic(did, channel, self.root))
        return self._topics[key]

    def _low_battery(self, em: Emitter, did: str, t: float, battery: int | None) -> Truth | None:
        """The contract's low_battery: a report at or under 20 % opens it, over 30 % clears it."""
        if battery is None:
            return None
        dev = em.devs[did]
        if battery > 30:
            dev.low = False
        if battery <= 20 and not dev.low:
            dev.low = True
            return Truth(t, {"kind": "low_battery", "resident": self.owner[did], "device": did})
        return None
