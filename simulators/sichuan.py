"""A blind world: 留守老人 in the hills of central Sichuan through a damp winter (January 2027).

Written from the contract (PRODUCT.md, docs/DEVICE_PROTOCOL.md) and from how old people in the
Sichuan countryside live, without reading how the rules detect anything. It reuses the registry
objects (simulators.community), the message structs and `write_recording` (simulators.engine); the
people, their days and the device physics are its own.

Place and season: 石桥镇 (a township of 蓬溪县, 遂宁, between 遂宁 and 南充): a 场镇 (market town) and
five villages (村) of scattered brick houses in 院子 (hamlets of a few families) on hillsides and
in valleys (沟), 1.5–5 km out. Their children work in 成都, 广东, 浙江 and come home for the
New Year. Damp cold of 3–10 °C indoors and out (no central heating), morning fog most days,
drizzle, a cold snap with sleet on the hills, now and then a sunny afternoon that everyone spends
sitting in the courtyard. The default start is Monday 4 January 2027 (腊月 begins on the 8th, 腊八
on the 15th, New Year on 6 February): a 14-day run sees a few children home early (site work stops
early for some; about one in ten is back by the 17th), a 28-day run sees most of them back; a
run started in December sees none. 赶场 (market day) in the 场镇 falls on dates ending in 2, 5 and 8.

People (`Person`): up at 05:30–06:30 (a quarter later), in bed by 19:30–21:00. She dresses in the
cold, goes to the latrine (or empties the chamber pot onto the vegetables), lets the hens out and
feeds them and the dog, lights the wood stove and cooks 稀饭, then sits for hours by the fire: a
charcoal 火盆 or an electric 烤火炉 in the 堂屋 (main room), or at the mouth of the kitchen stove.
Market days: by foot or the minibus, half a day, or the whole afternoon at mahjong or 川牌 in the
茶馆; some play cards at the village shop every afternoon; temple on the 1st and 15th of the lunar
month, a house-church meeting on Sunday for a few; work in the vegetable plot behind the house
(out of the unit's view, the door standing open); a nap, TV by the fire, feet soaked in hot water,
bed; 0–3 trips in the night (a chamber pot in the bedroom for many: no trip past the unit). Days in
bed with a cold (the village doctor comes), neighbours dropping in to sit by the fire, the grid
worker's visit every week or so, a child's phone call every few days, a few who go to stay with a
child in the city for days without telling anyone, hospital stays in the county town (winter
chests). People with dementia stay near home. Township residents live in flats in the 场镇.

Homes and devices (`House`): a Ping'an Cat in the 堂屋 (a fifth in the bedroom), mains powered,
some with a backup cell, on 4G/NB-IoT (weak in the hills) or on the family's Wi-Fi; cheap units
whose heartbeats come 5–20 % late and lose one now and then; PIR triggers from the dog, the cat
(through the 猫洞 in the door, day and night), hens that wander in through the open door, and an
electric heater's thermostat in view. Door sensors on the 堂屋's wooden door (which many prop open
from morning to dusk: one door_open and no close for hours; damp-swollen doors that stay ajar so
the sensor misses a close), on the courtyard gate, or on a flat's door; a third of village homes
have none. GPS tags (a keychain, a pendant, or an old-people's 4G phone): weak fixes indoors under
tile roofs and in valleys, cell-tower fixes (300–1500 m) that jump between towers, no fix at all
for a while, cold batteries that read low outdoors, charged when she remembers (sometimes left on
the charger when she goes out), flat when she does not; cells in door sensors and smoke alarms that
the cold reads lower at dawn. Smoke alarms by the 火盆 or the wood stove, LPG gas alarms (mains),
water meters in the 场镇 flats, NB-IoT sensors bridged to the broker (no Last Will). Village power cuts (planned line work all day, evening overloads when every heater is
on, ice in the cold snap): mains units die or run on their cell, Wi-Fi units lose the router, some
come back with the clock at 2000-01-01 until NTP; a long cut drains the cell tower's batteries and
takes the whole village's 4G off the air; 4G units at the edge of coverage drop out on foggy
nights; a unit unplugged to plug in the heater; rats chewing a power cable.

Safe zones (the village committee's rule, `_zone`): a resident with dementia who has a tag gets a
circle around home that covers her usual places (plot, hamlet, village shop; at least 500 m); a
few others whose families asked get one that also covers the 场镇 (distance to town + 800 m, at
least 1500 m); nobody else has a zone. A trip that carries a zoned tag beyond its circle is an exit.

Incidents (truth lines, PRODUCT.md "Recording format"; kinds as the contract names alerts): falls in
the courtyard on wet stones, getting up in the night, in the kitchen, out of the chair by the fire,
in the plot — after which nothing of hers reaches a device until the finder (a neighbour, the grid
worker, the doctor, a neighbour sent by a child whose call went unanswered) comes in 2–16 h later,
while the dog, the cat or the heater may still set off the PIR (`inactivity`; the world's account
of every event's cause is `SichuanSimulation.causes`); SOS presses (real, from the floor with a
pendant, mistaken and never cancelled, mistaken and cancelled within 30 s: `sos`, `sos_cancelled`);
wanderings and trips out of a zone (`geofence_exit`, where the path crosses the circle, when the
tag is on her and alive); devices unheard for three heartbeat intervals or more (`device_offline`,
one line per device and outage, with its `device`); a battery first reported at ≤ 20 %
(`low_battery`); smoke (lighting the 火盆, a stove smoking back on a foggy morning, 熏腊肉, a quilt
smouldering on the 烤火炉: `smoke`) and LPG leaks (`gas`). Context (`fault` lines): each household's
pets, fire and toilet, market days, temple and church, stays away, hospital stays, colds, children
home, doors left open, tags left at home or on the charger, power cuts, towers down, clock resets,
outages shorter than three heartbeats.

Deterministic for a seed: every random stream is seeded from the seed and a name.
"""

from __future__ import annotations

import heapq
import math
import random
from bisect import bisect_right
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import yaml

from devices.kinds import DeviceKind
from devices.payloads import Event, Gps, Heartbeat, Status
from devices.topics import DEFAULT_ROOT, Channel, DeviceTopic
from simulators.community import Community, Contact, Device, Habits, Resident, Responder, registry_dict
from simulators.engine import LOCAL_TZ, Message, Truth, local_midnight, parse_start
from simulators.geo import LatLon, distance_m, polar

NAME = "sichuan"
START = "2027-01-04"  # a Monday
CENTRE: LatLon = (30.6712, 105.8263)  # the 场镇 of 石桥镇, 蓬溪县 (WGS-84)
MIN, HOUR, DAY = 60.0, 3600.0, 86400.0
CLOCK_2000 = 946_684_800.0
LUNAR_1_15 = {date(2026, 12, 9), date(2026, 12, 23), date(2027, 1, 8), date(2027, 1, 22), date(2027, 2, 6),
              date(2027, 2, 20)}  # 初一 and 十五 of 冬月, 腊月, 正月
BUFFER = 64

TANG, BED, KITCHEN, TOILET, YARD, PLOT, OUT = "tangwu", "bedroom", "kitchen", "toilet", "yard", "plot", "out"
INDOOR = (TANG, BED, KITCHEN)
#: Movements a minute a PIR that sees her well would notice, by what she is doing (thick padded clothes).
RATE = {"sleep": 0.004, "ill": 0.02, "fire": 0.03, "tv": 0.04, "doze": 0.012, "nap": 0.008, "eat": 0.2,
        "cook": 0.8, "chores": 1.0, "wash": 0.7, "toilet": 0.5, "dress": 0.8, "pass": 2.0, "feed": 1.0,
        "dig": 1.0, "sun": 0.05, "rest": 0.08, "floor": 0.0}
WATER = {"cook": 0.1, "wash": 0.2, "toilet": 0.5, "chores": 0.05}  # water_flow reports a minute (flats)
SURNAMES = "王李张刘陈杨何罗唐蒋邓谢周吴胡杜彭曾苟蒲文任冯赵付黄余廖"
GRANNY = ["素琼", "德芬", "淑华", "碧珍", "秀英", "玉兰", "桂芳", "明秀", "正琼", "光碧", "大英", "素华", "德秀",
          "淑珍", "春兰", "碧秀"]
GRANDPA = ["德全", "光明", "永富", "清华", "树成", "国清", "朝富", "仕贵", "绍云", "长寿", "顺德", "良才", "天福", "兴国"]
YOUNG = ["强", "勇", "兵", "敏", "燕", "丽", "军", "涛", "娟", "静", "波", "霞", "刚", "红", "平", "林"]
VILLAGES = ["石板村", "桂花村", "龙井村", "白鹤村", "高峰村"]
WORK = ["成都", "东莞", "深圳", "宁波", "温州", "遂宁", "南充", "厦门"]
CITIES = {"成都": (158_000.0, 4.45), "遂宁": (44_000.0, 3.95), "南充": (72_000.0, 0.8)}  # m, bearing from CENTRE
FW = {"cat_wifi": "2.1.7", "cat_4g": "2.1.7-nb", DeviceKind.DOOR_SENSOR: "1.3.0", "keychain": "5.2.1",
      "pendant": "5.2.1", "phone": "K7-3.0.2", DeviceKind.SMOKE_ALARM: "0.9.4", DeviceKind.GAS_ALARM: "3.2",
      DeviceKind.WATER_METER: "1.0.8"}
BRIDGED = (DeviceKind.DOOR_SENSOR, DeviceKind.SMOKE_ALARM, DeviceKind.GAS_ALARM, DeviceKind.WATER_METER)
NOT_HERS = ("dog", "cat", "hen", "heater")  # PIR causes that are not her
Made = tuple[float, str, Any, str]  # what a device made: created t, channel, data, cause
Rec = tuple[float, int, str, str, Any, int, int]  # what reaches the hub: receive t, rank, device, channel, data, ts,
# seq (rank: 0 status at start, 1 messages, 3 truth lines)
TruthLine = tuple[float, dict[str, str]]
FALLS = ("fall_yard", "fall_night", "fall_kitchen", "fall_fire", "fall_plot")


@dataclass(frozen=True)
class SichuanWorld:
    """The world's name for benchmarks/detection.py; its length comes from --days."""

    name: str = NAME
    days: float | None = None


SICHUAN = SichuanWorld()


def hour_of(t: float) -> float:
    return ((t + 8 * HOUR) % DAY) / HOUR  # Asia/Shanghai, no DST


def hhmm(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).astimezone(LOCAL_TZ).strftime("%m-%d %H:%M")


def poisson(rng: random.Random, mean: float) -> int:
    n, limit, p = 0, math.exp(-mean), rng.random()
    while p > limit:
        n += 1
        p *= rng.random()
    return n


def arrivals(rng: random.Random, t0: float, t1: float, per_min: float) -> list[float]:
    if per_min <= 0 or t1 <= t0:
        return []
    return [rng.uniform(t0, t1) for _ in range(poisson(rng, per_min * (t1 - t0) / MIN))]


def _round(p: LatLon) -> LatLon:
    return round(p[0], 6), round(p[1], 6)


# ------------------------------------------------------------------ season


@dataclass(frozen=True)
class Weather:
    fog_until_h: float  # 0: a clear morning
    rain: bool  # drizzle most of the day
    cold: bool  # the cold snap (寒潮): 1–3 °C, sleet on the hills, ice on the lines
    sunny: bool  # the rare sunny afternoon


@dataclass
class Season:
    m0: float  # local midnight of day 0
    days: int
    weather: list[Weather]

    def midnight(self, d: int) -> float:
        return self.m0 + d * DAY

    def date(self, d: int) -> date:
        return datetime.fromtimestamp(self.m0 + 12 * HOUR, UTC).astimezone(LOCAL_TZ).date() + timedelta(days=d)

    def day_of(self, t: float) -> int:
        return int((t - self.m0) // DAY)

    def market(self, d: int) -> bool:
        return self.date(d).day % 10 in (2, 5, 8)  # 逢二五八赶场

    def temple(self, d: int) -> bool:
        return self.date(d) in LUNAR_1_15

    def sunday(self, d: int) -> bool:
        return self.date(d).weekday() == 6

    def w(self, d: int) -> Weather:
        return self.weather[min(max(d, 0), len(self.weather) - 1)]


def draw_weather(days: int, seed: int) -> list[Weather]:
    rng = random.Random(f"sichuan:weather:{seed}")
    snap = rng.randrange(days) if rng.random() < 0.7 else -10
    out = []
    for d in range(days + 2):
        cold = snap <= d < snap + 3
        rain = rng.random() < (0.55 if cold else 0.3)
        sunny = not rain and not cold and rng.random() < 0.18
        fog = 0.0 if sunny and rng.random() < 0.5 else rng.uniform(9.0, 13.0) if rng.random() < 0.6 else 0.0
        out.append(Weather(fog, rain, cold, sunny))
    return out


# ------------------------------------------------------------------ people and houses


@dataclass(frozen=True)
class Person:
    age: int
    wake_h: float
    bed_h: float
    fire: str  # "brazier" (charcoal 火盆), "heater" (electric 烤火炉), "stove" (at the kitchen stove's mouth)
    frail: bool
    dementia: bool
    market_p: float
    by_bus: bool
    teahouse: str  # "none", "market" (the 场镇 茶馆 after the market), "village" (cards at the shop), "town"
    faith: str  # "none", "temple", "church"
    plot_p: float
    nap_p: float
    night_trips: float
    sociable: float  # neighbours dropping in, a day
    call_every: int  # days between the child's calls
    call_h: float
    child_city: str
    child_back: date
    stays_away: bool  # goes to a child's flat for days without telling anyone
    copd: bool  # a winter chest: hospital stays
    cold_p: float  # a cold that keeps her in bed for days
    checkin: bool  # presses the unit's 平安 button in the morning
    fidget: float


@dataclass(frozen=True)
class Unit:
    device: str
    room: str
    net: str  # "4g" or "wifi"
    backup: bool  # a cell that keeps it up for hours without mains
    cheap: bool  # heartbeats 5–20 % late, one lost now and then
    rtc: bool  # keeps time through a power cut (else 2000-01-01 until NTP)
    sees: dict[str, float]
    blind_s: tuple[float, float]
    heater_in_view: bool
    cell_h: float  # hours the backup cell lasts in the cold


@dataclass(frozen=True)
class DoorSensor:
    device: str
    on: str  # "main" (the 堂屋's wooden door), "gate" (the courtyard gate), "flat"
    sticky: float  # closes it misses: the damp-swollen door stays a few mm ajar


@dataclass(frozen=True)
class TagDev:
    device: str
    form: str  # "keychain", "pendant", "phone"
    carry: float  # outings it goes along on
    hours: float  # what a charge lasts in the cold
    charge_at: float  # the level at which she notices and charges it
    diligence: float
    forgets_on_charger: float


@dataclass
class House:
    resident: Resident
    person: Person
    village: int  # -1: a flat in the 场镇
    tower: int
    unit: Unit
    door: DoorSensor | None
    tag: TagDev | None
    smoke: str | None
    smoke_near: str  # "brazier" or "stove"
    gas: str | None
    water: str | None
    dog: bool
    dog_inside: bool  # sleeps in the 堂屋 by the ashes
    cat: bool
    hens: bool
    toilet: str  # "pot" (chamber pot in the bedroom, latrine by day), "outside" (via the kitchen), "inside"
    prop_p: float  # days the main door (or gate) stands open from morning to dusk
    valley: bool
    neighbour_near: bool  # a neighbour's house within call in the 院子
    places: dict[str, LatLon]
    zone_m: float | None = None
    zone_why: str = ""

    @property
    def rid(self) -> str:
        return self.resident.id

    @property
    def flat(self) -> bool:
        return self.village < 0

    @property
    def fire_place(self) -> str:
        return KITCHEN if self.person.fire == "stove" else TANG

    def devices(self) -> dict[str, Device]:
        return {d.id: d for d in self.resident.devices}


class Namer:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.phones: set[str] = set()

    def phone(self) -> str:
        while True:
            prefix = self.rng.choice(["139", "138", "158", "187", "183", "152", "177", "199"])
            number = f"+86{prefix}{self.rng.randrange(10**8):08d}"
            if number not in self.phones:
                self.phones.add(number)
                return number

    def young(self, surname: str | None = None) -> str:
        return (surname or self.rng.choice(SURNAMES)) + self.rng.choice(YOUNG)


def build_world(n: int, seed: int) -> tuple[Community, list[House]]:
    """Villages, hamlets, towers, houses and their people; grids and responders per village."""
    rng = random.Random(f"sichuan:world:{seed}")
    namer = Namer(rng)
    vcentres = [polar(CENTRE, 2 * math.pi * k / 5 + rng.uniform(-0.4, 0.4), rng.uniform(1500, 5000)) for k in range(5)]
    hamlets = [[(polar(c, rng.uniform(0, 2 * math.pi), rng.uniform(50, 900)), rng.choice(SURNAMES), rng.random() < 0.4)
                for _ in range(4)] for c in vcentres]
    grids = tuple((f"shiqiao-g{k + 1:02d}", f"{name}网格") for k, name in enumerate([*VILLAGES, "场镇社区"]))
    houses: list[House] = []
    for i in range(n):
        v = -1 if i % 6 == 5 else i % 6
        houses.append(_house(i + 1, v, vcentres, hamlets, grids, rng, namer))
    residents = tuple(h.resident for h in houses)
    responders = _responders(grids, vcentres, rng, namer)
    return Community("shiqiao", "石桥镇", "Asia/Shanghai", CENTRE, grids, responders, residents), houses


def _house(number: int, v: int, vcentres: list[LatLon], hamlets: list[list[tuple[LatLon, str, bool]]],
           grids: tuple[tuple[str, str], ...], rng: random.Random, namer: Namer) -> House:
    flat = v < 0
    person = _person(rng, flat)
    female = rng.random() < 0.66
    surname = rng.choice(SURNAMES)
    name = surname + rng.choice(GRANNY if female else GRANDPA)
    if flat:
        home = _round(polar(CENTRE, rng.uniform(0, 2 * math.pi), rng.uniform(60, 450)))
        address = f"石桥镇场镇 新街安置小区{rng.randint(1, 6)}栋{rng.randint(1, 3)}单元{rng.randint(2, 6)}0{rng.randint(1, 4)}"
        valley, near, grid = False, True, grids[5][0]
    else:
        k = rng.randrange(4)
        centre, clan, valley = hamlets[v][k]
        home = _round(polar(centre, rng.uniform(0, 2 * math.pi), rng.uniform(15, 70)))
        address = f"石桥镇{VILLAGES[v]}{k + 1}组({clan}家院子){rng.randint(1, 40)}号"
        near, grid = rng.random() < 0.8, grids[v][0]
    places = _places(home, v, vcentres, rng)
    devices, unit, door, tag, smoke, gas, water = _devices(number, f"r-{number:04d}", person, flat, rng)
    contacts = _contacts(surname, person, rng, namer)
    habits = Habits(person.wake_h, person.bed_h, 0.0, person.market_p, person.nap_p, person.night_trips,
                    0.02 if person.stays_away else 0.0, tag.carry if tag else 0.0, 300.0)
    rid = f"r-{number:04d}"
    resident = Resident(rid, name, grid, address, home, _round(places["child"]), contacts, devices, habits)
    dog = not flat and rng.random() < 0.55
    house = House(resident, person, v, 0 if flat else (1 if v < 3 else 2), unit, door, tag, smoke,
                  "brazier" if person.fire == "brazier" and rng.random() < 0.5 else "stove", gas, water,
                  dog, dog and rng.random() < 0.3, rng.random() < (0.2 if flat else 0.4),
                  not flat and rng.random() < 0.7,
                  "inside" if flat else rng.choices(["pot", "outside", "inside"], [0.55, 0.3, 0.15])[0],
                  0.0 if flat else rng.uniform(0.4, 0.95), valley, near, places)
    house.zone_m, house.zone_why = _zone(house, rng)
    return house


def _person(rng: random.Random, flat: bool) -> Person:
    age = rng.randint(66, 93)
    frail = (age > 84 and rng.random() < 0.5) or rng.random() < 0.06
    dementia = rng.random() < 0.1
    early = rng.random() < 0.75
    early_back = rng.random() < 0.1  # site work stopped early
    back = date(2027, 1, rng.randint(9, 17)) if early_back else date(2027, 1, 19) + timedelta(days=rng.randint(0, 15))
    tea = "none" if dementia or rng.random() < 0.5 else "town" if flat else rng.choice(["market", "market", "village"])
    return Person(
        age=age,
        wake_h=rng.uniform(5.5, 6.5) if early else rng.uniform(6.5, 7.5),
        bed_h=rng.uniform(19.5, 20.6) if early else rng.uniform(20.4, 21.2),
        fire="heater" if flat else rng.choice(["brazier", "brazier", "heater", "heater", "stove"]),
        frail=frail,
        dementia=dementia,
        market_p=0.0 if dementia else 0.25 if frail else rng.uniform(0.4, 0.95),
        by_bus=rng.random() < 0.5,
        teahouse=tea,
        faith="none" if dementia else rng.choices(["none", "temple", "church"], [0.7, 0.2, 0.1])[0],
        plot_p=0.0 if flat else 0.1 if frail else rng.uniform(0.3, 0.8),
        nap_p=rng.uniform(0.3, 0.9),
        night_trips=rng.uniform(0.2, 2.8),
        sociable=rng.uniform(0.3, 2.0) * (0.5 if flat else 1.0),
        call_every=rng.randint(1, 4),
        call_h=rng.uniform(12.2, 13.0) if rng.random() < 0.4 else rng.uniform(18.4, 19.6),
        child_city=rng.choice(WORK),
        child_back=back,
        stays_away=not dementia and rng.random() < 0.07,
        copd=rng.random() < 0.15,
        cold_p=rng.uniform(0.1, 0.4),
        checkin=rng.random() < 0.15,
        fidget=rng.uniform(0.5, 1.3) * (0.6 if frail else 1.0),
    )


def _places(home: LatLon, v: int, vcentres: list[LatLon], rng: random.Random) -> dict[str, LatLon]:
    city = rng.choice(list(CITIES))
    dist, bearing = CITIES[city]
    village = CENTRE if v < 0 else vcentres[v]
    return {
        "home": home,
        "plot": polar(home, rng.uniform(0, 2 * math.pi), rng.uniform(20, 45)),
        "shop": polar(village, rng.uniform(0, 2 * math.pi), rng.uniform(0, 120)),
        "town": polar(CENTRE, rng.uniform(0, 2 * math.pi), rng.uniform(0, 150)),
        "temple": polar(CENTRE, 1.2, 2600.0),
        "church": polar(village, rng.uniform(0, 2 * math.pi), rng.uniform(200, 700)),
        "hospital": polar(CENTRE, 4.3, 18_500.0),
        "child": polar(CENTRE, bearing + rng.uniform(-0.02, 0.02), dist + rng.uniform(-3000, 3000)),
    }


def _devices(number: int, rid: str, person: Person, flat: bool, rng: random.Random) -> tuple[Any, ...]:
    def dev(kind: DeviceKind, did: str, hb: int, fw: str, rssi: int, battery0: float = 100.0,
            drain: float = 0.0) -> Device:
        return Device(did, kind, rid, hb, fw, rssi, battery0, drain)

    room = TANG if flat or rng.random() < 0.8 else BED
    net = "wifi" if rng.random() < (0.7 if flat else 0.25) else "4g"
    sees = ({TANG: 0.9, KITCHEN: 0.35, BED: 0.05} if flat else {TANG: 0.9, KITCHEN: 0.12, YARD: 0.25}) if room == TANG \
        else {BED: 0.85, TANG: 0.15}
    unit = Unit(f"cat-{number:04d}", room, net, rng.random() < 0.5, rng.random() < 0.3, rng.random() < 0.5, sees,
                (25.0, 50.0) if net == "wifi" else (60.0, 120.0),
                person.fire == "heater" and room == TANG and rng.random() < 0.6, rng.uniform(6.0, 10.0))
    rssi = rng.randint(-75, -50) if net == "wifi" else rng.randint(-112, -80)
    devices = [dev(DeviceKind.PINGAN_CAT, unit.device, 300 if net == "wifi" else 600, FW[f"cat_{net}"], rssi,
                   100.0 if unit.backup else 0.0)]
    door = None
    if rng.random() < (0.9 if flat else 0.65):
        on = "flat" if flat else ("main" if rng.random() < 0.75 else "gate")
        door = DoorSensor(f"door-{number:04d}", on, rng.uniform(0.0, 0.25) if on == "main" else 0.01)
        devices.append(dev(DeviceKind.DOOR_SENSOR, door.device, 3600, FW[DeviceKind.DOOR_SENSOR],
                           rng.randint(-115, -90), _cells(rng), rng.uniform(0.1, 0.4)))
    tag = None
    if person.dementia or rng.random() < (0.5 if flat else 0.4):
        form = rng.choice(["keychain", "pendant", "phone"])
        hours = {"keychain": (100, 160), "pendant": (72, 110), "phone": (55, 90)}[form]
        carry = {"keychain": 0.8, "pendant": 0.85, "phone": 0.9}[form] * (1.1 if person.dementia else 1.0)
        tag = TagDev(f"tag-{number:04d}", form, carry, rng.uniform(*hours), rng.uniform(15, 45), rng.uniform(0.3, 0.9),
                     rng.uniform(0.0, 0.25))
        devices.append(dev(DeviceKind.GPS_TAG, tag.device, 300 if form == "phone" else 600, FW[form],
                           rng.randint(-110, -85)))
    smoke = gas = water = None
    if rng.random() < 0.35:
        smoke = f"smoke-{number:04d}"
        devices.append(dev(DeviceKind.SMOKE_ALARM, smoke, 3600, FW[DeviceKind.SMOKE_ALARM], rng.randint(-115, -90),
                           _cells(rng), rng.uniform(0.15, 0.5)))
    if rng.random() < (0.6 if flat else 0.25):
        gas = f"gas-{number:04d}"
        devices.append(dev(DeviceKind.GAS_ALARM, gas, 1800, FW[DeviceKind.GAS_ALARM], rng.randint(-112, -88)))
    if flat and rng.random() < 0.85:
        water = f"water-{number:04d}"
        devices.append(dev(DeviceKind.WATER_METER, water, 3600, FW[DeviceKind.WATER_METER], rng.randint(-118, -95),
                           rng.uniform(55, 100), 0.02))
    return tuple(devices), unit, door, tag, smoke, gas, water


def _cells(rng: random.Random) -> float:
    """Cells at the start: most fresh enough, about one in eight nearly spent (and the cold reads them lower)."""
    return rng.uniform(22, 32) if rng.random() < 0.12 else rng.uniform(45, 100)


def _contacts(surname: str, person: Person, rng: random.Random, namer: Namer) -> tuple[Contact, ...]:
    out = []
    for relation in rng.sample(["son", "daughter", "son", "daughter"], rng.randint(1, 2)):
        out.append(Contact(namer.young(surname if relation == "son" else None), namer.phone(), relation))
    if rng.random() < 0.5:  # the neighbour the children asked to keep an eye on her
        out.append(Contact(namer.young(), namer.phone(), "neighbour"))
    return tuple(out)


def _zone(h: House, rng: random.Random) -> tuple[float | None, str]:
    """The village committee: dementia with a tag → a circle over her usual places; a family that asked →
    one that also covers the 场镇; nobody else has a zone."""
    if h.tag is None:
        return None, ""
    home = h.resident.home
    if h.person.dementia:
        usual = max(distance_m(home, h.places[p]) for p in ("plot", "shop"))
        return max(500.0, round(usual * 1.3 + 150, -1)), "dementia"
    if rng.random() < 0.2:
        return max(1500.0, round(distance_m(home, h.places["town"]) + 800, -2)), "family_asked"
    return None, ""


def _responders(grids: tuple[tuple[str, str], ...], vcentres: list[LatLon], rng: random.Random,
                namer: Namer) -> tuple[Responder, ...]:
    def near(c: LatLon) -> LatLon:
        return _round(polar(c, rng.uniform(0, 2 * math.pi), rng.uniform(50, 900)))

    all_grids = tuple(g for g, _ in grids)
    out = [Responder("shiqiao-sec", namer.young(), namer.phone(), "grid_secretary", all_grids, CENTRE)]
    for k, (gid, _) in enumerate(grids):
        centre = vcentres[k] if k < 5 else CENTRE
        out.append(Responder(f"gl-{k + 1:02d}", namer.young(), namer.phone(), "grid_leader", (gid,), near(centre)))
        for j in range(1, rng.randint(1, 2) + 1):
            out.append(Responder(f"gw-{k + 1:02d}-{j}", namer.young(), namer.phone(), "grid_worker", (gid,),
                                 near(centre)))
        for j in range(1, rng.randint(2, 4) + 1):  # neighbours, the village doctor
            out.append(Responder(f"vol-{k + 1:02d}-{j}", namer.young(), namer.phone(), "volunteer", (gid,),
                                 near(centre)))
    out += [Responder(f"op-{k}", namer.young(), namer.phone(), "operator", all_grids, None) for k in (1, 2)]
    return tuple(out)


# ------------------------------------------------------------------ the plan of her days


@dataclass
class Trip:
    kind: str
    t0: float
    t1: float
    dest: str  # a key of House.places, or "wander"
    tag: bool
    mode: str  # "foot", "bus", "car"
    locked: bool  # she shut and padlocked the door behind her


@dataclass
class Seg:
    t0: float
    t1: float
    place: str
    act: str
    trip: Trip | None = None
    heater: bool = False  # the electric heater is on beside her


@dataclass
class Visit:
    who: str
    t0: float
    t1: float
    places: tuple[str, ...]
    rate: float  # movements a minute
    water: float = 0.0


@dataclass
class Press:
    t: float
    device: str
    type: str
    truth: dict[str, str] | None = None  # the incident's truth line (a press that did nothing changes it)


@dataclass(frozen=True)
class Incident:
    house: int
    kind: str
    day: int


@dataclass
class Plan:
    segs: list[Seg] = field(default_factory=list)
    visits: list[Visit] = field(default_factory=list)
    presses: list[Press] = field(default_factory=list)
    alarms: list[tuple[float, str]] = field(default_factory=list)  # (t, "smoke" | "gas")
    props: dict[int, float] = field(default_factory=dict)  # day → hour she shuts the propped door
    calls: list[float] = field(default_factory=list)  # the child's phone calls
    truths: list[TruthLine] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)
    family_from: float = math.inf  # the child is home from then on

    def trips(self) -> list[Trip]:
        out: list[Trip] = []
        for s in self.segs:
            if s.trip is not None and (not out or out[-1] is not s.trip):
                out.append(s.trip)
        return out

    def at(self, t: float) -> Seg | None:
        i = bisect_right(self.segs, t, key=lambda s: s.t0) - 1
        return self.segs[i] if 0 <= i < len(self.segs) and self.segs[i].t1 > t else None

    def home(self, t0: float, t1: float) -> bool:
        i = max(0, bisect_right(self.segs, t0, key=lambda s: s.t0) - 1)
        while i < len(self.segs) and self.segs[i].t0 < t1:
            if self.segs[i].place == OUT and self.segs[i].t1 > t0:
                return False
            i += 1
        return True

    def replace(self, t0: float, t1: float, new: list[Seg]) -> None:
        """Put `new` over [t0, t1): what was there is cut away (a trip cut short ends where it was cut)."""
        out: list[Seg] = []
        for s in self.segs:
            if s.t1 <= t0 or s.t0 >= t1:
                out.append(s)
                continue
            if s.t0 < t0:
                out.append(Seg(s.t0, t0, s.place, s.act, s.trip, s.heater))
            if s.t1 > t1 and s.trip is None:
                out.append(Seg(t1, s.t1, s.place, s.act, None, s.heater))
            elif s.t1 > t1:
                out.append(Seg(t1, s.t1, TANG, "rest"))
        out += new
        out.sort(key=lambda s: s.t0)
        self.segs = out
        self.presses = [p for p in self.presses if not t0 <= p.t < t1]
        self.alarms = [a for a in self.alarms if not t0 <= a[0] < t1]


def _graph(toilet: str, flat: bool) -> dict[str, list[str]]:
    """The house as rooms and doors: the 堂屋 in the middle, bedroom and kitchen off it."""
    edges = [(BED, TANG), (KITCHEN, TANG)]
    if flat:
        edges += [(TOILET, TANG), (TANG, OUT)]
    else:
        edges += [(TANG, YARD), (YARD, PLOT), (YARD, OUT), (TOILET, TANG if toilet == "inside" else KITCHEN)]
    graph: dict[str, list[str]] = {}
    for a, b in edges:
        graph.setdefault(a, []).append(b)
        graph.setdefault(b, []).append(a)
    return graph


def _path(graph: dict[str, list[str]], a: str, b: str) -> list[str]:
    """The rooms she passes through from a to b (not a or b)."""
    if a == b or a not in graph or b not in graph:
        return []
    prev: dict[str, str] = {a: a}
    queue = deque([a])
    while queue:
        x = queue.popleft()
        for y in graph[x]:
            if y not in prev:
                prev[y] = x
                queue.append(y)
    out, x = [], prev.get(b, a)
    while x != a:
        out.append(x)
        x = prev[x]
    return out[::-1]


class Cursor:
    """Lays her day out segment by segment, walking through the rooms between."""

    def __init__(self, planner: Planner, t: float) -> None:
        self.pl, self.t = planner, t

    def go(self, place: str, act: str, minutes: float, heater: bool = False) -> None:
        pl = self.pl
        for via in _path(pl.graph, pl.segs[-1].place, place):
            self._seg(via, "pass", pl.rng.uniform(0.3, 0.9))
        self._seg(place, act, max(minutes, 0.5), heater)

    def till(self, place: str, act: str, t_end: float, heater: bool = False) -> None:
        if t_end - self.t > 2 * MIN:
            self.go(place, act, (t_end - self.t) / MIN, heater)

    def fire(self, t_end: float) -> None:
        """By the fire until t_end, in pieces: up for the toilet, the kettle, a look at the hens."""
        pl, rng = self.pl, self.pl.rng
        heater = pl.h.person.fire == "heater"
        while self.t < t_end - 10 * MIN:
            act = "tv" if hour_of(self.t) > 17.5 else "fire"
            self.go(pl.h.fire_place, act, min((t_end - self.t) / MIN, rng.uniform(30, 100)), heater)
            if self.t < t_end - 10 * MIN:
                choice = rng.random()
                if choice < 0.35:
                    self.go(TOILET, "toilet", rng.uniform(2, 5))
                elif choice < 0.6 or pl.h.flat:
                    self.go(KITCHEN, "chores", rng.uniform(3, 10))
                else:
                    self.go(YARD, "chores", rng.uniform(3, 12))

    def trip(self, kind: str, dest: str, minutes: float, tag: bool, mode: str, locked: bool) -> Trip:
        pl = self.pl
        for via in _path(pl.graph, pl.segs[-1].place, OUT):
            self._seg(via, "pass", pl.rng.uniform(0.3, 0.9))
        trip = Trip(kind, self.t, self.t + minutes * MIN, dest, tag, mode, locked)
        self._seg(OUT, kind, minutes, trip=trip)
        return trip

    def _seg(self, place: str, act: str, minutes: float, heater: bool = False, trip: Trip | None = None) -> None:
        t1 = self.t + minutes * MIN
        self.pl.segs.append(Seg(self.t, t1, place, act, trip, heater))
        self.t = t1


class Planner:
    """Her days from her habits (incidents are written over them afterwards)."""

    def __init__(self, house: House, season: Season, seed: int) -> None:
        self.h, self.p, self.s, self.seed = house, house.person, season, seed
        self.rng = random.Random(f"sichuan:plan:{seed}:{house.rid}")
        self.graph = _graph(house.toilet, house.flat)
        self.plan = Plan()
        self.segs = self.plan.segs
        days = season.days
        self.stay_day = self.rng.randrange(1, max(2, days - 2)) if self.p.stays_away else None
        chest = self.p.copd and self.rng.random() < days / 30
        self.chest_day = self.rng.randrange(0, max(1, days - 1)) if chest else None
        self.cold_days: set[int] = set()
        if self.rng.random() < self.p.cold_p * days / 14:
            first = self.rng.randrange(days)
            self.cold_days = set(range(first, first + self.rng.randint(2, 4)))
        back = (self.p.child_back - season.date(0)).days
        self.back_day = back if 0 <= back <= days else None

    def fact(self, t: float, what: str, **extra: str) -> None:
        self.plan.truths.append((t, {"kind": "fault", "resident": self.h.rid, "fault": what, **extra}))

    def carry(self, long: bool = False) -> bool:
        tag = self.h.tag
        return tag is not None and self.rng.random() < min(1.0, tag.carry * (1.05 if long else 1.0))

    def routine(self) -> Plan:
        s, p, h = self.s, self.p, self.h
        self.segs.append(Seg(s.m0 - 4 * HOUR, s.m0 + p.wake_h * HOUR, BED, "sleep"))
        self.fact(s.m0, "household", dog=str(h.dog).lower(), dog_sleeps_inside=str(h.dog_inside).lower(),
                  cat=str(h.cat).lower(), hens=str(h.hens).lower(), heater_in_view=str(h.unit.heater_in_view).lower(),
                  unit_in=h.unit.room, toilet=h.toilet, fire=p.fire)
        d = 0
        while d <= s.days:
            if d == self.stay_day:
                d = self._away(d, "stay_with_child", "child", self.rng.randint(3, 9))
            elif d == self.chest_day:
                d = self._away(d, "hospital_chest", "hospital", self.rng.randint(4, 8))
            else:
                if self.back_day is not None and d == self.back_day:
                    self.plan.family_from = s.midnight(d) + self.rng.uniform(15, 19) * HOUR
                    self.fact(self.plan.family_from, "child_home_for_new_year", city=p.child_city)
                self._day(d)
                d += 1
        self._calls()
        return self.plan

    # -- one day, from waking to waking

    def _day(self, d: int) -> None:
        p, rng, h = self.p, self.rng, self.h
        m, w = self.s.midnight(d), self.s.w(d)
        c = Cursor(self, self.segs[-1].t1)
        sick = d in self.cold_days
        c.go(BED, "dress", rng.uniform(4, 10))
        c.go(TOILET, "toilet", rng.uniform(3, 7))
        if not h.flat:
            if h.toilet == "pot":
                c.go(YARD, "chores", rng.uniform(2, 5))  # the chamber pot emptied onto the vegetables
            if h.hens or h.dog:
                c.go(YARD, "feed", rng.uniform(4, 8) if sick else rng.uniform(8, 20))
            if not sick and rng.random() < h.prop_p * (0.6 if w.rain or w.cold else 1.0):
                self.plan.props[d] = rng.uniform(17.3, 18.6) if rng.random() < 0.6 else p.bed_h - rng.uniform(0.3, 0.8)
        c.go(KITCHEN, "cook", rng.uniform(12, 20) if sick else rng.uniform(20, 40))
        c.go(KITCHEN if rng.random() < 0.5 else TANG, "eat", rng.uniform(12, 25))
        if p.checkin:
            c.go(h.unit.room, "chores", rng.uniform(1, 3))
            self.plan.presses.append(Press(c.t - rng.uniform(10, 50), h.unit.device, "button"))
        if sick:
            self._sick(c, d, m)
        else:
            late = self._morning(c, d, m)
            if not late:
                self._lunch(c, m)
                self._afternoon(c, d, m)
            self._evening(c, m)
        self._night(c, d, m)

    def _morning(self, c: Cursor, d: int, m: float) -> bool:
        """The morning out or at home; True when she stays out through the afternoon."""
        p, rng, h, w, s = self.p, self.rng, self.h, self.s.w(d), self.s
        put_off = (0.6 if w.rain else 1.0) * (0.6 if w.cold else 1.0)
        if s.market(d) and rng.random() < p.market_p * put_off:
            c.fire(m + (rng.uniform(7.5, 9.5) if h.flat else rng.uniform(6.8, 8.5)) * HOUR)
            tea = p.teahouse in ("market", "town") and rng.random() < 0.75
            back_h = rng.uniform(15.5, 17.3) if tea else rng.uniform(10.0, 11.5) if h.flat else rng.uniform(11.0, 12.6)
            far = distance_m(h.resident.home, h.places["town"]) > 2500
            mode = "bus" if far and p.by_bus else "foot"
            trip = c.trip("market", "town", (m + back_h * HOUR - c.t) / MIN, self.carry(), mode, True)
            self.fact(trip.t0, "market_day", back=hhmm(trip.t1), teahouse=str(tea).lower(), tag=str(trip.tag).lower())
            return tea
        if s.temple(d) and p.faith == "temple":
            c.fire(m + rng.uniform(6.5, 8.0) * HOUR)
            back = m + rng.uniform(11.5, 13.5) * HOUR
            trip = c.trip("temple", "temple", (back - c.t) / MIN, self.carry(), "bus" if p.by_bus else "foot", True)
            self.fact(trip.t0, "temple_incense", back=hhmm(trip.t1))
        elif s.sunday(d) and p.faith == "church":
            c.fire(m + rng.uniform(8.2, 8.8) * HOUR)
            trip = c.trip("church", "church", rng.uniform(150, 200), self.carry(), "foot", rng.random() < 0.5)
            self.fact(trip.t0, "house_church_meeting", back=hhmm(trip.t1))
        elif not h.flat and not w.rain and rng.random() < p.plot_p:
            c.fire(m + rng.uniform(8.6, 9.8) * HOUR)
            c.go(PLOT, "dig", rng.uniform(50, 120))  # 青菜, 莴笋, 蒜苗 behind the house
        c.fire(m + rng.uniform(10.9, 11.4) * HOUR)
        return False

    def _lunch(self, c: Cursor, m: float) -> None:
        p, rng = self.p, self.rng
        if c.t > m + 13.5 * HOUR:
            return
        c.go(KITCHEN, "cook", rng.uniform(20, 40))
        c.go(self.h.fire_place, "eat", rng.uniform(15, 25))
        if rng.random() < p.nap_p:
            if rng.random() < 0.4 or p.frail:
                c.go(self.h.fire_place, "doze", rng.uniform(30, 70), p.fire == "heater")
            else:
                c.go(BED, "nap", rng.uniform(40, 100))

    def _afternoon(self, c: Cursor, d: int, m: float) -> None:
        p, rng, h, w = self.p, self.rng, self.h, self.s.w(d)
        if c.t > m + 15.5 * HOUR:
            return
        cards = (p.teahouse == "village" and not h.flat) or (p.teahouse == "town" and h.flat)
        if cards and rng.random() < (0.35 if w.rain else 0.65):
            c.fire(m + rng.uniform(13.2, 14.3) * HOUR)
            back = m + rng.uniform(16.4, 17.6) * HOUR
            trip = c.trip("cards", "shop", (back - c.t) / MIN, self.carry(), "foot", rng.random() < 0.4)
            self.fact(trip.t0, "cards_at_the_teahouse", back=hhmm(trip.t1))
        elif w.sunny and not h.flat:
            c.go(YARD, "sun", rng.uniform(90, 180))  # 晒太阳: the whole hamlet out in the courtyards
        elif not h.flat and not w.rain and rng.random() < p.plot_p * 0.5:
            c.go(PLOT, "dig", rng.uniform(40, 90))
        c.fire(m + rng.uniform(16.7, 17.3) * HOUR)

    def _evening(self, c: Cursor, m: float) -> None:
        p, rng, h = self.p, self.rng, self.h
        if not h.flat and (h.hens or h.dog):
            c.go(YARD, "feed", rng.uniform(6, 12))  # the hens shut in for the night
        c.go(KITCHEN, "cook", rng.uniform(20, 40))
        c.go(h.fire_place, "eat", rng.uniform(12, 25))
        c.go(KITCHEN, "chores", rng.uniform(5, 12))
        c.fire(m + (p.bed_h + rng.uniform(-0.3, 0.3)) * HOUR - 25 * MIN)
        c.go(KITCHEN if not h.flat else TOILET, "wash", rng.uniform(10, 20))  # feet in hot water (烫脚)

    def _sick(self, c: Cursor, d: int, m: float) -> None:
        """A cold: back to bed, up only for the toilet and a bowl of porridge; the doctor on the second day."""
        rng = self.rng
        if d - 1 not in self.cold_days:
            self.fact(c.t, "cold_in_bed", days=str(len(self.cold_days)))
        for until_h in (11.5, 16.5):
            c.till(BED, "ill", m + (until_h + rng.uniform(-0.5, 0.5)) * HOUR)
            c.go(TOILET, "toilet", rng.uniform(3, 6))
            c.go(KITCHEN, "cook", rng.uniform(10, 20))
        if d - 1 in self.cold_days and d - 2 not in self.cold_days:
            t0 = m + rng.uniform(9.5, 11.0) * HOUR
            self.plan.visits.append(Visit("village_doctor", t0, t0 + rng.uniform(20, 40) * MIN, (BED, TANG), 0.8))
        c.till(BED, "ill", m + (self.p.bed_h - 0.5) * HOUR)

    def _night(self, c: Cursor, d: int, m: float) -> None:
        p, rng, h = self.p, self.rng, self.h
        wake = m + DAY + (p.wake_h + rng.uniform(-0.3, 0.3)) * HOUR
        n = min(3, poisson(rng, p.night_trips * (1.5 if d in self.cold_days else 1.0)))
        for v in sorted(rng.uniform(c.t + 40 * MIN, wake - 20 * MIN) for _ in range(n)):
            if v > c.t + MIN:
                c.till(BED, "sleep", v)
                if h.toilet == "pot":
                    c.go(BED, "toilet", rng.uniform(2, 4))
                else:
                    c.go(TOILET, "toilet", rng.uniform(3, 6))
        c.till(BED, "sleep", wake)
        if self.segs[-1].t1 < wake:
            self.segs.append(Seg(self.segs[-1].t1, wake, BED, "sleep"))

    def _away(self, d: int, kind: str, dest: str, nights: int) -> int:
        """Days away: at a child's flat in the city (nobody told) or in the county hospital with her chest."""
        rng, m = self.rng, self.s.midnight(d)
        c = Cursor(self, self.segs[-1].t1)
        c.go(BED, "dress", rng.uniform(5, 10))
        c.go(KITCHEN, "cook", rng.uniform(10, 20))
        c.fire(m + rng.uniform(8.5, 10.5) * HOUR)
        back = m + nights * DAY + rng.uniform(14.0, 17.0) * HOUR
        mode = "car" if rng.random() < 0.6 else "bus"
        trip = c.trip(kind, dest, (back - c.t) / MIN, self.carry(long=True), mode, True)
        self.fact(trip.t0, kind, back=hhmm(trip.t1), tag=str(trip.tag).lower())
        if not self.h.flat and (self.h.dog or self.h.hens):
            for k in range(nights + 1):
                t0 = self.s.midnight(d + k) + rng.uniform(8.0, 9.5) * HOUR
                if trip.t0 < t0 < trip.t1:
                    t1 = t0 + rng.uniform(5, 15) * MIN
                    self.plan.visits.append(Visit("neighbour_feeds_animals", t0, t1, (YARD,), 0.8))
        e = d + nights
        c.fire(self.s.midnight(e) + 17.2 * HOUR)
        self._evening(c, self.s.midnight(e))
        self._night(c, e, self.s.midnight(e))
        return e + 1

    # -- people who come, calls that come

    def visitors(self) -> None:
        """Neighbours dropping in to sit by the fire, the grid worker's round, the family home for the New Year."""
        p, rng, s = self.p, self.rng, self.s
        grid_next = rng.uniform(1, 8)
        for d in range(s.days + 1):
            m = s.midnight(d)
            for _ in range(poisson(rng, p.sociable)):
                self._drop_in("neighbour", m + rng.uniform(9.0, 19.0) * HOUR, rng.uniform(15, 60))
            if d >= grid_next and s.date(d).weekday() < 5:
                grid_next = d + rng.uniform(6, 10)
                if not self._drop_in("grid_worker", m + rng.uniform(9.5, 16.0) * HOUR, rng.uniform(20, 40)):
                    self.fact(m + 12 * HOUR, "grid_worker_found_nobody_home")
            if p.frail and d % 7 == 3:
                self._drop_in("village_doctor", m + rng.uniform(9.0, 11.0) * HOUR, rng.uniform(15, 30))
            if m + DAY > self.plan.family_from:
                t0 = max(m + rng.uniform(7.5, 8.5) * HOUR, self.plan.family_from)
                if self.plan.home(t0, t0 + 60):
                    self.plan.visits.append(Visit("family_home", t0, m + rng.uniform(21.0, 22.0) * HOUR,
                                                  (TANG, KITCHEN, YARD), 0.9, 0.1))

    def _drop_in(self, who: str, t0: float, minutes: float) -> bool:
        t1 = t0 + minutes * MIN
        seg = self.plan.at(t0)
        if seg is None or seg.act in ("sleep", "nap") or not self.plan.home(t0, t1):
            return False
        where = (seg.place,) if seg.place in (YARD, PLOT) else (TANG,) if seg.place != BED else (BED, TANG)
        self.plan.visits.append(Visit(who, t0, t1, where, 0.4 if who == "neighbour" else 0.7, 0.02))
        return True

    def _calls(self) -> None:
        rng, p = self.rng, self.p
        d = rng.randrange(p.call_every)
        while d <= self.s.days + 1:
            self.plan.calls.append(self.s.midnight(d) + (p.call_h + rng.uniform(-0.3, 0.3)) * HOUR)
            d += max(1, p.call_every + rng.randint(-1, 1))


# ------------------------------------------------------------------ outages


@dataclass
class Span:
    """A device unheard: `dead` (off: senses and keeps nothing) or `cut` (alive, no network: events and
    fixes buffered, heartbeats skipped)."""

    t0: float
    t1: float
    mode: str
    cause: str


@dataclass
class Outages:
    """Per device the spans it is down, per house the mains cuts its unit lives through, per village the cuts."""

    spans: dict[str, list[Span]] = field(default_factory=dict)
    #: unit → (t0, t1, cause, whether the router is off too)
    mains_off: dict[str, list[tuple[float, float, str, bool]]] = field(default_factory=dict)
    facts: list[TruthLine] = field(default_factory=list)

    def add(self, did: str, span: Span) -> None:
        self.spans.setdefault(did, []).append(span)

    def down(self, did: str, t0: float, t1: float) -> bool:
        return any(s.t0 < t1 and t0 < s.t1 for s in self.spans.get(did, []))


def draw_cuts(season: Season, seed: int) -> list[tuple[int, float, float, str]]:
    """Village power cuts (village −1 is the 场镇): planned line work all day, evening overloads, ice."""
    rng = random.Random(f"sichuan:cuts:{seed}")
    out = []
    scale = season.days / 14
    for v in range(-1, 5):
        if rng.random() < 0.35 * scale:
            m = season.midnight(rng.randrange(season.days))
            out.append((v, m + rng.uniform(7.9, 8.3) * HOUR, m + rng.uniform(16.5, 18.5) * HOUR, "planned_line_work"))
        for d in range(season.days):
            w = season.w(d)
            if rng.random() < (0.09 if w.cold else 0.025):
                t0 = season.midnight(d) + rng.uniform(17.5, 20.5) * HOUR
                out.append((v, t0, t0 + rng.uniform(0.4, 4.5) * HOUR, "evening_overload"))
            if w.cold and v >= 0 and rng.random() < 0.06:
                t0 = season.midnight(d) + rng.uniform(0.5, 5.0) * HOUR
                out.append((v, t0, t0 + rng.uniform(3, 10) * HOUR, "ice_on_the_line"))
    return sorted(out, key=lambda c: c[1])


def draw_outages(houses: list[House], season: Season, seed: int) -> Outages:
    """What the power cuts, the towers and the nights do to each house's devices."""
    rng = random.Random(f"sichuan:outages:{seed}")
    o = Outages()
    cuts = draw_cuts(season, seed)
    tower_host = {1: 1, 2: 3}  # the hill towers' power comes through these villages; the town's has a generator
    tower_down: dict[int, list[tuple[float, float, str]]] = {0: [], 1: [], 2: []}
    for tower, host in tower_host.items():
        backup_h = rng.uniform(3.0, 5.0)  # worn batteries
        for v, t0, t1, _ in cuts:
            if v == host and t1 - t0 > backup_h * HOUR:
                tower_down[tower].append((t0 + backup_h * HOUR, t1 + rng.uniform(5, 15) * MIN, "tower_batteries_flat"))
    for h in houses:
        hr = random.Random(f"sichuan:outages:{seed}:{h.rid}")
        for v, t0, t1, cause in cuts:
            if v == h.village:
                o.mains_off.setdefault(h.unit.device, []).append((t0, t1, cause, True))
                if h.gas:
                    o.add(h.gas, Span(t0, t1, "dead", cause))
                o.facts.append((t0, {"kind": "fault", "resident": h.rid, "fault": "power_cut", "cause": cause,
                                     "hours": f"{(t1 - t0) / HOUR:.1f}"}))
        radio = [d.id for d in h.resident.devices if d.kind in BRIDGED or d.kind is DeviceKind.GPS_TAG]
        radio += [h.unit.device] if h.unit.net == "4g" else []
        for t0, t1, cause in tower_down[h.tower]:
            for did in radio:
                o.add(did, Span(t0, t1, "cut", cause))
            o.facts.append((t0, {"kind": "fault", "resident": h.rid, "fault": "tower_down", "until": hhmm(t1)}))
        weak = h.unit.net == "4g" and h.resident.devices[0].rssi < -100
        for d in range(season.days):
            w = season.w(d)
            if weak and (w.fog_until_h or w.rain) and hr.random() < 0.08:
                t0 = season.midnight(d) + hr.uniform(-1.0, 3.5) * HOUR
                o.add(h.unit.device, Span(t0, t0 + hr.uniform(0.7, 5.0) * HOUR, "cut", "no_4g_signal_at_night"))
    return o


def home_outages(houses: list[House], plans: dict[str, Plan], o: Outages, season: Season, seed: int,
                 busy: dict[str, list[tuple[float, float]]]) -> None:
    """Outages she causes or suffers at home: the unit unplugged for the heater, rats at the cable (never over
    an incident: an incident's truth is what the devices could have shown)."""
    rng = random.Random(f"sichuan:home-outages:{seed}")
    scale = season.days / 14
    for h in houses:
        plan = plans[h.rid]

        def clear(t0: float, t1: float, rid: str = h.rid) -> bool:
            return all(t1 <= a or b <= t0 for a, b in busy[rid])

        if h.person.fire == "heater" and h.unit.room == TANG and rng.random() < 0.15 * scale:
            evenings = [s for s in plan.segs if s.act == "tv" and s.t1 - s.t0 > 30 * MIN]
            if evenings:
                s = rng.choice(evenings)
                t0 = s.t0 + rng.uniform(1, 5) * MIN
                back = _noticed(plan, t0, rng)
                if clear(t0, back):
                    o.mains_off.setdefault(h.unit.device, []).append((t0, back, "unplugged_for_the_heater", False))
        if not h.flat and rng.random() < 0.04 * scale:
            t0 = season.midnight(rng.randrange(season.days)) + rng.uniform(0, 5) * HOUR
            back = _noticed(plan, t0 + DAY, rng)
            if clear(t0, back):
                o.mains_off.setdefault(h.unit.device, []).append((t0, back, "rats_chewed_the_cable", False))


def _noticed(plan: Plan, t0: float, rng: random.Random) -> float:
    """She plugs it back the next morning, or when the grid worker or a caller asks about it."""
    if rng.random() < 0.4:
        return t0 + rng.uniform(11, 15) * HOUR
    later = [v.t0 + 10 * MIN for v in plan.visits if v.who == "grid_worker" and v.t0 > t0 + 6 * HOUR]
    later += [c + rng.uniform(14, 18) * HOUR for c in plan.calls if c > t0 + 12 * HOUR]
    return min(later, default=t0 + rng.uniform(2, 4) * DAY)


def unit_spans(h: House, o: Outages) -> None:
    """The unit through its mains cuts: dead at once, or on its cell until the cell is flat (a Wi-Fi unit
    loses the router with the village's power)."""
    for t0, t1, cause, router_off in o.mains_off.get(h.unit.device, []):
        if not h.unit.backup:
            o.add(h.unit.device, Span(t0, t1, "dead", cause))
            continue
        dies = t0 + h.unit.cell_h * HOUR
        if dies < t1:
            o.add(h.unit.device, Span(dies, t1, "dead", cause + "_cell_flat"))
        if h.unit.net == "wifi" and router_off:
            o.add(h.unit.device, Span(t0, min(t1, dies), "cut", cause + "_router_off"))


# ------------------------------------------------------------------ incidents


def draw_incidents(houses: list[House], season: Season, seed: int) -> list[Incident]:
    """About 14 silent falls, 2 falls with an SOS, 4 SOS, 3 mistaken, 5 cancelled, 4 smoke and 1–2 gas
    alarms per 60 homes × 14 days, and a wandering for about half of those with dementia and a zone."""
    rng = random.Random(f"sichuan:incidents:{seed}")
    n, days = len(houses), season.days
    scale = n * days / (60 * 14)
    weights = [3.0 if h.person.frail else 2.0 if h.person.age > 82 else 1.0 for h in houses]
    out = [Incident(rng.choices(range(n), weights)[0], rng.choice(FALLS), rng.randrange(days))
           for _ in range(poisson(rng, 14 * scale))]
    for kind, mean in (("sos", 4), ("sos_mistaken", 3), ("sos_cancelled", 5)):
        out += [Incident(rng.randrange(n), kind, rng.randrange(days)) for _ in range(poisson(rng, mean * scale))]
    tagged = [i for i, h in enumerate(houses) if h.tag is not None and h.tag.form != "keychain"]
    out += [Incident(rng.choice(tagged), "sos_fall", rng.randrange(days))
            for _ in range(poisson(rng, 2 * scale)) if tagged]
    smoky = [i for i, h in enumerate(houses) if h.smoke]
    out += [Incident(rng.choice(smoky), "smoke", rng.randrange(days)) for _ in range(poisson(rng, 4 * scale)) if smoky]
    lpg = [i for i, h in enumerate(houses) if h.gas]
    out += [Incident(rng.choice(lpg), "gas", rng.randrange(days)) for _ in range(poisson(rng, 1.5 * scale)) if lpg]
    for i, h in enumerate(houses):
        if h.person.dementia and h.zone_m and rng.random() < min(1.0, days / 28):
            out.append(Incident(i, "wander", rng.randrange(days)))
    return out


class IncidentWriter:
    """Writes one house's incidents over her plan, with their truth lines."""

    def __init__(self, planner: Planner, outages: Outages) -> None:
        self.pl, self.h, self.plan, self.o = planner, planner.h, planner.plan, outages
        self.rng = random.Random(f"sichuan:incident:{planner.seed}:{planner.h.rid}")
        self.busy: list[tuple[float, float]] = []

    def truth(self, t: float, kind: str, **extra: str) -> dict[str, str]:
        line = {"kind": kind, "resident": self.h.rid, **extra}
        self.plan.truths.append((t, line))
        return line

    def free(self, t0: float, t1: float) -> bool:
        return all(t1 <= a or b <= t0 for a, b in self.busy) and t1 < self.plan.family_from

    def quiet(self, t0: float, t1: float) -> bool:
        """No device of hers (but the tag) down then: nothing of hers buffered, the unit there to see."""
        return not any(self.o.down(d.id, t0, t1) for d in self.h.resident.devices if d.kind is not DeviceKind.GPS_TAG) \
            and not any(a < t1 and t0 < b for a, b, _, _ in self.o.mains_off.get(self.h.unit.device, []))

    def days(self, first: int) -> list[int]:
        n = self.pl.s.days
        return [first, *self.rng.sample(range(n), n)]

    def write(self, inc: Incident) -> bool:
        kind = inc.kind
        if kind in FALLS or kind == "sos_fall":
            return self.fall(inc)
        if kind == "wander":
            return self.wander(inc)
        if kind in ("smoke", "gas"):
            return self.alarm(inc)
        return self.press(inc)

    # -- falls

    def fall(self, inc: Incident) -> bool:
        """A fall of the kind drawn, or of another her days allow (no plot in winter for some)."""
        if inc.kind == "sos_fall":
            return self._fall_at(inc)
        kinds = [inc.kind, *self.rng.sample(FALLS, len(FALLS))]
        return any(self._fall_at(Incident(inc.house, kind, inc.day)) for kind in kinds)

    def _fall_at(self, inc: Incident) -> bool:
        for d in self.days(inc.day):
            spot = self._spot(inc.kind, d)
            if spot is None:
                continue
            tf, place = spot
            if inc.kind == "sos_fall":
                if self._fall_pressed(inc, d, tf, place):
                    return True
                continue
            found, finder = self._finder(tf)
            after, end = self._aftermath(found, place)
            company = any(tf < v.t0 < found or v.t0 <= tf < v.t1 for v in self.plan.visits)
            if company or found - tf < 2 * HOUR or not self.free(tf - HOUR, end + 2 * HOUR) \
                    or not self.quiet(tf - 30 * MIN, found + HOUR) or found > self.pl.s.midnight(self.pl.s.days + 1):
                continue
            self._lie(tf, found, place, finder, after, end)
            self.truth(tf, "inactivity", fall=inc.kind, place=place, finder=finder,
                       found_after_h=f"{(found - tf) / HOUR:.2f}")
            self.plan.incidents.append(Incident(inc.house, inc.kind, d))
            return True
        return False

    def _spot(self, kind: str, d: int) -> tuple[float, str] | None:
        """When and where she falls that day, if the day has the moment."""
        m, rng = self.pl.s.midnight(d), self.rng
        segs = [s for s in self.plan.segs if m <= s.t0 < m + DAY and s.trip is None]
        pick: list[Seg]
        if kind == "fall_yard":
            pick = [s for s in segs if s.place == YARD and s.act in ("feed", "chores")]
        elif kind == "fall_night":  # getting up: to the pot or the toilet in the night, or dressing in the dark
            pick = [s for s in segs if (s.act == "toilet" and not 5 < hour_of(s.t0) < 20.3)
                    or (s.act == "dress" and hour_of(s.t0) < 7)]
        elif kind == "fall_kitchen":
            pick = [s for s in segs if s.act == "cook" and s.t1 - s.t0 > 10 * MIN]
        elif kind == "fall_fire":
            pick = [s for s in segs if s.act in ("fire", "tv") and s.t1 - s.t0 > 20 * MIN]
        elif kind == "fall_plot":
            pick = [s for s in segs if s.place == PLOT]
        else:
            pick = [s for s in segs if s.place in (TANG, KITCHEN, YARD, BED) and s.act not in ("sleep", "nap")]
        if not pick:
            return None
        s = rng.choice(pick)
        tf = s.t1 - rng.uniform(0.2, 1.0) * MIN if kind == "fall_fire" else rng.uniform(s.t0, max(s.t0 + 1, s.t1 - 30))
        return tf, s.place

    def _finder(self, tf: float) -> tuple[float, str]:
        """Who comes in first: a neighbour or the grid worker dropping in, a neighbour sent by the child whose
        call went unanswered, a neighbour who sees no smoke from the chimney at dusk or the hens still shut
        in the next morning; at most 16 h."""
        rng, s = self.rng, self.pl.s
        cands = [(v.t0, v.who) for v in self.plan.visits if v.t0 > tf and v.who != "family_home"]
        cands += [(c + rng.uniform(0.7, 1.6) * HOUR, "neighbour_sent_by_child") for c in self.plan.calls if c > tf]
        d = s.day_of(tf)
        near = 0.0 if self.h.neighbour_near else rng.uniform(1, 3) * HOUR
        for when in (s.midnight(d) + rng.uniform(17.8, 19.5) * HOUR, s.midnight(d + 1) + rng.uniform(8.0, 10.5) * HOUR):
            if when > tf:
                cands.append((when + near, "neighbour_noticed"))
        cands.append((tf + rng.uniform(12, 16) * HOUR, "grid_worker"))
        t, who = min(cands)
        return min(t, tf + 16 * HOUR), who

    def _aftermath(self, found: float, place: str) -> tuple[list[Seg], float]:
        """After the finder: the ambulance to the county hospital for days, or rest at home."""
        rng = self.rng
        rest_at = TANG if place in (YARD, PLOT, KITCHEN) else place
        if rng.random() < 0.55:
            leave = found + rng.uniform(45, 100) * MIN  # the 120 from the county, up the hill roads
            back = self.pl.s.midnight(self.pl.s.day_of(leave) + rng.randint(3, 9)) + rng.uniform(14, 17) * HOUR
            trip = Trip("hospital_after_fall", leave, back, "hospital", False, "car", True)
            return [Seg(found, leave, rest_at, "rest"), Seg(leave, back, OUT, trip.kind, trip)], back
        end = found + rng.uniform(2, 4) * HOUR
        return [Seg(found, end, rest_at, "rest")], end

    def _lie(self, tf: float, found: float, place: str, finder: str, after: list[Seg], end: float) -> None:
        """On the floor until found (the heater left on beside her keeps running), then `after`."""
        seg = self.plan.at(tf)
        heater = seg is not None and seg.heater
        trip = after[-1].trip
        if trip is not None:
            self.pl.fact(trip.t0, "hospital_stay", back=hhmm(trip.t1))
        self.plan.replace(tf, end, [Seg(tf, found, place, "floor", None, heater), *after])
        self.plan.visits = [v for v in self.plan.visits if v.t1 <= tf or v.t0 >= end]
        stays = found + self.rng.uniform(45, 90) * MIN
        self.plan.visits.append(Visit(finder, found, stays, (place, TANG, after[0].place), 1.2))
        self.busy.append((tf - HOUR, end + 2 * HOUR))

    def _fall_pressed(self, inc: Incident, d: int, tf: float, place: str) -> bool:
        """She falls with the pendant or phone on her and presses SOS from the floor."""
        tag = self.h.tag
        seg = self.plan.at(tf)
        if tag is None or seg is None or not self.free(tf - HOUR, tf + 4 * HOUR) \
                or not self.quiet(tf - 30 * MIN, tf + 2 * HOUR):
            return False
        help_at = tf + self.rng.uniform(20, 50) * MIN
        press = tf + self.rng.uniform(20, 120)
        self.plan.replace(tf, help_at + 40 * MIN, [Seg(tf, help_at, place, "floor", None, seg.heater),
                                                    Seg(help_at, help_at + 40 * MIN, TANG, "rest")])
        stays = help_at + self.rng.uniform(30, 60) * MIN
        self.plan.visits.append(Visit("grid_worker", help_at, stays, (place, TANG), 1.0))
        line = self.truth(press, "sos", via=tag.device, why=f"fell ({place}), pressed the {tag.form}")
        self.plan.presses.append(Press(press, tag.device, "sos", line))
        self.busy.append((tf - HOUR, help_at + 3 * HOUR))
        self.plan.incidents.append(Incident(inc.house, inc.kind, d))
        return True

    # -- presses

    def press(self, inc: Incident) -> bool:
        """SOS: chest pain, breathless, dizzy (on the unit, or the pendant or phone she has on her); the phone's
        SOS key pressed in her pocket, the unit's button taken for the light switch and never cancelled;
        pressed by mistake and cancelled within seconds."""
        rng, h = self.rng, self.h
        for d in self.days(inc.day):
            m = self.pl.s.midnight(d)
            t = m + rng.uniform(7.5, 20.0) * HOUR
            if h.unit.room == BED and rng.random() < 0.5:  # the unit by the bed: pressed while lying down
                t = next((s.t0 for s in self.plan.segs if m + 18 * HOUR < s.t0 < m + DAY and s.act == "sleep"), t)
                t += rng.uniform(10, 90)
            seg = self.plan.at(t)
            if seg is None or seg.act in ("nap", "floor") or not self.free(t - HOUR, t + 3 * HOUR) \
                    or (seg.act == "sleep" and t - seg.t0 > 90):
                continue
            worn = h.tag is not None and h.tag.form != "keychain" and (seg.trip is None or seg.trip.tag)
            unit_ok = seg.place == h.unit.room and not self.o.down(h.unit.device, t - 60, t + 60) \
                and not any(a < t + 60 and t - 60 < b for a, b, _, _ in self.o.mains_off.get(h.unit.device, []))
            if inc.kind == "sos_mistaken" and worn and h.tag is not None and h.tag.form == "phone":
                device, why = h.tag.device, "the phone's SOS key pressed in her pocket"
            elif inc.kind == "sos" and worn and h.tag is not None and (not unit_ok or rng.random() < 0.4):
                device, why = h.tag.device, rng.choice(["chest pain", "breathless", "dizzy, could not stand"])
            elif unit_ok:
                device = h.unit.device
                why = rng.choice(["chest pain", "breathless", "dizzy, could not stand"]) if inc.kind == "sos" else \
                    rng.choice(["took it for the light switch", "wiping the unit", "the cat walked on it"])
            else:
                continue
            kind = "sos_cancelled" if inc.kind == "sos_cancelled" else "sos"
            line = self.truth(t, kind, via=device, why=why)
            self.plan.presses.append(Press(t, device, "sos", line))
            if inc.kind == "sos_cancelled":
                self.plan.presses.append(Press(t + rng.uniform(3, 25), device, "sos_cancel", line))
            elif seg.place != OUT:
                come = t + rng.uniform(20, 45) * MIN
                self.plan.visits.append(Visit("grid_worker", come, come + rng.uniform(20, 45) * MIN, (TANG,), 0.8))
            self.busy.append((t - HOUR, t + 2 * HOUR))
            self.plan.incidents.append(Incident(inc.house, inc.kind, d))
            return True
        return False

    # -- alarms

    def alarm(self, inc: Incident) -> bool:
        """Smoke: lighting the 火盆, the stove smoking back on a still foggy morning, 熏腊肉, the quilt on the
        烤火炉 smouldering. Gas: a cracked LPG hose, a pot boiling over onto the flame."""
        rng, h = self.rng, self.h
        for d in self.days(inc.day):
            m = self.pl.s.midnight(d)
            if inc.kind == "gas":
                options = [(s, rng.choice(["cracked_lpg_hose", "pot_boiled_over_the_flame"])) for s in self.plan.segs
                           if m <= s.t0 < m + DAY and s.act == "cook" and s.trip is None]
            elif h.smoke_near == "brazier":
                options = [(s, "lighting_the_brazier" if hour_of(s.t0) < 10 else "quilt_smouldering_on_the_heater")
                           for s in self.plan.segs if m <= s.t0 < m + DAY and s.act in ("fire", "tv")]
            else:  # a still, foggy morning pushes the smoke back down the flue
                fog = self.pl.s.w(d).fog_until_h
                options = [(s, "stove_smoking_back_in_fog" if hour_of(s.t0) < fog else "smoking_la_rou")
                           for s in self.plan.segs if m <= s.t0 < m + DAY and s.act == "cook"]
            dev = next(x for x in h.resident.devices if x.id == (h.gas if inc.kind == "gas" else h.smoke))
            alive = dev.kind is DeviceKind.GAS_ALARM or dev.battery0 - dev.drain_per_day * (d + 1) > 5  # cells not flat
            options = [(s, c) for s, c in options if alive and self.free(s.t0 - HOUR, s.t1 + HOUR)
                       and not self.o.down(dev.id, s.t0 - MIN, s.t1 + MIN)]  # a gas alarm dies with the power
            if not options:
                continue
            s, cause = rng.choice(options)
            t = rng.uniform(s.t0 + 2 * MIN, max(s.t0 + 3 * MIN, s.t1 - MIN))
            self.plan.alarms.append((t, inc.kind))
            if rng.random() < 0.3:
                self.plan.alarms.append((t + rng.uniform(120, 400), inc.kind))  # more wood on, more smoke
            self.truth(t, inc.kind, cause=cause)
            self.busy.append((t - HOUR, t + HOUR))
            self.plan.incidents.append(Incident(inc.house, inc.kind, d))
            return True
        return False

    # -- wandering

    def wander(self, inc: Incident) -> bool:
        """She sets off 'to her mother's' or 'to the fields' at dawn or in the afternoon and walks on along the
        road until somebody brings her back."""
        rng = self.rng
        for d in self.days(inc.day):
            m = self.pl.s.midnight(d)
            t0 = m + (rng.uniform(5.0, 6.5) if rng.random() < 0.4 else rng.uniform(14.0, 16.5)) * HOUR
            walk = rng.uniform(1.5, 4.0) * HOUR
            ride = rng.uniform(20, 40) * MIN
            seg = self.plan.at(t0)
            if seg is None or seg.act == "floor" or not self.plan.home(t0 - 10 * MIN, t0 + walk + ride) \
                    or not self.free(t0 - HOUR, t0 + walk + 3 * HOUR):
                continue
            speed = rng.uniform(0.5, 0.8)
            if speed * walk < (self.h.zone_m or 0) + 400:
                continue
            dawn = hour_of(t0) < 7
            tag = rng.random() < (0.5 if dawn else 0.85)  # at dawn the tag is often still on the table
            self.h.places["wander"] = polar(self.h.resident.home, rng.uniform(0, 2 * math.pi), speed * walk)
            trip = Trip("wander", t0, t0 + walk + ride, "wander", tag, "foot", False)
            self.plan.replace(t0, trip.t1, [Seg(t0, trip.t1, OUT, "wander", trip)])
            who = rng.choice(["villager_on_a_motorbike", "neighbour", "police_from_the_town"])
            self.plan.visits.append(Visit(who, trip.t1, trip.t1 + rng.uniform(15, 30) * MIN, (TANG,), 0.8))
            self.pl.fact(t0, "wandered_off", found_by=who, tag=str(tag).lower(), back=hhmm(trip.t1))
            self.busy.append((t0 - HOUR, trip.t1 + 3 * HOUR))
            self.plan.incidents.append(Incident(inc.house, inc.kind, d))
            return True
        return False


def _fill(plan: Plan, graph: dict[str, list[str]]) -> None:
    """After the incidents: gaps left by a cut-short trip (she is home again, resting by the fire), and the
    rooms she passes through between what an incident put next to each other (out to the ambulance)."""
    out: list[Seg] = []
    for s in plan.segs:
        if out and s.t0 > out[-1].t1 + 1:
            out.append(Seg(out[-1].t1, s.t0, TANG, "rest"))
        if out and s.t0 < out[-1].t1:
            if s.t1 <= out[-1].t1:
                continue
            s = Seg(out[-1].t1, s.t1, s.place, s.act, s.trip, s.heater)
        if out and s.act != "floor":
            t = s.t0
            for via in _path(graph, out[-1].place, s.place):
                out.append(Seg(t, min(t + 30, s.t1), via, "pass"))
                t = min(t + 30, s.t1)
            s = Seg(t, s.t1, s.place, s.act, s.trip, s.heater)
        out.append(s)
    plan.segs = [s for s in out if s.t1 > s.t0]


# ------------------------------------------------------------------ batteries


class Curve:
    """A battery over time: piecewise linear from (t, level %, slope %/h) points."""

    def __init__(self, points: list[tuple[float, float, float]]) -> None:
        self.points = sorted(points)
        self.ts = [p[0] for p in self.points]

    def level(self, t: float) -> float:
        i = max(0, bisect_right(self.ts, t) - 1)
        t0, level, slope = self.points[i]
        return min(100.0, max(0.0, level + slope * (t - t0) / HOUR))

    def empty(self, below: float, until: float) -> list[tuple[float, float]]:
        """Spans the level is under `below` (the device dead), up to `until`."""
        out = []
        for i, (t0, level, slope) in enumerate(self.points):
            nxt = self.points[i + 1][0] if i + 1 < len(self.points) else until
            if slope < 0 and level > below:
                dies = t0 + (level - below) / -slope * HOUR
                if dies < nxt:
                    out.append((dies, nxt))
            elif slope <= 0 and level <= below:
                out.append((t0, nxt))
        return out


def tag_curve(h: House, plan: Plan, season: Season, rng: random.Random) -> tuple[Curve, list[tuple[float, float]]]:
    """Charged in the evening when she notices it is low (or a caller reminds her once it is flat);
    some mornings it stays on the charger when she goes out."""
    tag = h.tag
    assert tag is not None
    drain = 100.0 / tag.hours
    level, t = rng.uniform(35, 100), season.m0
    points = [(t, level, -drain)]
    charging = []
    for d in range(season.days + 2):
        m = season.midnight(d)
        plug = m + (h.person.bed_h - rng.uniform(0.2, 0.8)) * HOUR
        if plug <= t or not plan.home(plug - 5 * MIN, plug + 5 * MIN):
            continue
        at_plug = max(0.0, level - drain * (plug - t) / HOUR)
        reminded = at_plug <= 0 and rng.random() < 0.35
        if not ((at_plug < tag.charge_at and rng.random() < tag.diligence) or reminded):
            continue
        forgot = rng.random() < tag.forgets_on_charger
        unplug = m + DAY + ((rng.uniform(16.5, 18.5)) if forgot else h.person.wake_h + rng.uniform(0.5, 2.0)) * HOUR
        points.append((plug, at_plug, 40.0))
        full = plug + (100 - at_plug) / 40 * HOUR
        if full < unplug:
            points.append((full, 100.0, 0.0))
        level, t = min(100.0, at_plug + 40 * (unplug - plug) / HOUR), unplug
        points.append((t, level, -drain))
        charging.append((plug, unplug))
    return Curve(points), charging


def prepare_tag(h: House, plan: Plan, o: Outages, season: Season, seed: int) -> Curve:
    """Her tag's battery over the run; flat spans; trips it stayed on the charger for; presses it could not send."""
    assert h.tag is not None
    curve, charging = tag_curve(h, plan, season, random.Random(f"sichuan:tag:{seed}:{h.rid}"))
    dead = curve.empty(1.0, season.midnight(season.days + 2))
    for a, b in dead:
        o.add(h.tag.device, Span(a, b, "dead", "tag_battery_flat"))

    def fact(t: float, what: str, **extra: str) -> None:
        plan.truths.append((t, {"kind": "fault", "resident": h.rid, "fault": what, **extra}))

    for tr in plan.trips():
        if tr.tag and any(a <= tr.t0 < b for a, b in charging):
            tr.tag = False
            fact(tr.t0, "tag_left_on_the_charger", trip=tr.kind)
        elif not tr.tag and tr.t1 - tr.t0 > 2 * HOUR:
            fact(tr.t0, "tag_left_at_home", trip=tr.kind)
    void = [p.truth for p in plan.presses if p.device == h.tag.device and p.truth is not None
            and any(a <= p.t < b for a, b in dead + charging)]
    for line in void:  # the button did nothing: the tag was flat or on the charger
        line.clear()
        line.update({"kind": "fault", "resident": h.rid, "fault": "sos_not_sent_tag_unavailable"})
    plan.presses = [p for p in plan.presses if not any(p.truth is line for line in void)]
    return curve


# ------------------------------------------------------------------ device physics



@dataclass
class Dev:
    device: Device
    rng: random.Random
    connected: bool  # holds its own MQTT session (Last Will); bridged NB-IoT sensors do not
    latency: tuple[float, float]
    curve: Curve | None = None
    sag: float = 0.0  # points the cold takes off a reading at dawn
    lag: float = 0.0  # heartbeats late by up to this share of the interval
    loss: float = 0.002
    offset: float = 0.0  # clock error, s
    resets: list[tuple[float, float]] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)

    def ts(self, t: float) -> int:
        for a, b in self.resets:
            if a <= t < b:
                return int(CLOCK_2000 + (t - a))
        return int(t + self.offset)


class Emitter:
    """One house's devices: what they see of her plan and the pets, their outages, what reaches the hub."""

    def __init__(self, h: House, plan: Plan, o: Outages, season: Season, start: float, end: float, seed: int,
                 tag_curve: Curve | None) -> None:
        self.h, self.plan, self.o, self.s, self.tag_curve = h, plan, o, season, tag_curve
        self.start, self.end = start, end
        self.rng = random.Random(f"sichuan:emit:{seed}:{h.rid}")
        self.truths: list[TruthLine] = []
        self.causes: dict[tuple[str, int], tuple[float, str]] = {}
        self.devs: dict[str, Dev] = {}
        for d in h.resident.devices:
            self.devs[d.id] = self._dev(d, random.Random(f"sichuan:dev:{seed}:{d.id}"))
        self.propped: list[tuple[float, float]] = []
        self.main_events: list[tuple[float, str, str]] = []

    def fact(self, t: float, what: str, **extra: str) -> None:
        self.truths.append((t, {"kind": "fault", "resident": self.h.rid, "fault": what, **extra}))

    def _dev(self, d: Device, rng: random.Random) -> Dev:
        h = self.h
        if d.kind is DeviceKind.PINGAN_CAT:
            dev = Dev(d, rng, True, (0.05, 0.6) if h.unit.net == "wifi" else (0.3, 2.5))
            if h.unit.cheap:
                dev.lag, dev.loss = 0.2, rng.uniform(0.03, 0.08)
            dev.offset = rng.uniform(-60, 40) if h.unit.net == "wifi" and rng.random() < 0.3 else 0.0
            return dev
        if d.kind is DeviceKind.GPS_TAG:
            return Dev(d, rng, True, (0.4, 3.0), lag=0.1, loss=0.01)
        dev = Dev(d, rng, False, (1.0, 8.0), lag=0.05, loss=0.01)
        if d.kind is not DeviceKind.GAS_ALARM:
            dev.curve = Curve([(self.start, d.battery0, -d.drain_per_day / 24)])
            dev.sag = rng.uniform(2, 7) if d.kind is not DeviceKind.WATER_METER else 0.0
        return dev

    # -- outages into device spans

    def _spans(self) -> None:
        h, o = self.h, self.o
        for did, dev in self.devs.items():
            dev.spans = sorted(o.spans.get(did, []), key=lambda s: s.t0)
            if dev.curve is not None and dev.device.kind is not DeviceKind.GPS_TAG:
                for t0, t1 in dev.curve.empty(3.0, self.end + DAY):
                    dev.spans.append(Span(t0, t1, "dead", "cells_flat"))
        unit = self.devs[h.unit.device]
        if h.unit.backup:
            unit.curve = self._backup_curve()
        if not h.unit.rtc and h.unit.net == "wifi":
            for s in unit.spans:
                if s.mode == "dead" and unit.rng.random() < 0.6:
                    unit.resets.append((s.t1, s.t1 + unit.rng.uniform(2, 20) * MIN))
                    self.fact(s.t1, "clock_reset_to_2000", device=unit.device.id)
        if h.tag is not None:
            tag = self.devs[h.tag.device]
            tag.curve = self.tag_curve
            tag.sag = tag.rng.uniform(4, 10)
        for dev in self.devs.values():
            dev.spans.sort(key=lambda s: s.t0)

    def _backup_curve(self) -> Curve:
        points = [(self.start, 100.0, 0.0)]
        for t0, t1, _, _ in sorted(self.o.mains_off.get(self.h.unit.device, [])):
            drain = 100.0 / self.h.unit.cell_h
            level = min(100.0, max(0.0, 100.0 - drain * (t1 - t0) / HOUR))
            points += [(t0, 100.0, -drain), (t1, level, 30.0), (t1 + (100 - level) / 30 * HOUR, 100.0, 0.0)]
        return Curve(points)

    # -- the run

    def run(self) -> list[Rec]:
        self._spans()
        created: dict[str, list[Made]] = {did: [] for did in self.devs}
        self._door_physics()
        created[self.h.unit.device] += [(t, "event", "motion", cause) for t, cause in self._pir()]
        for p in self.plan.presses:
            created[p.device].append((p.t, "event", p.type, "her"))
        if self.h.door is not None:
            created[self.h.door.device] += self._door_sensor()
        if self.h.water is not None:
            created[self.h.water] += [(t, "event", "water_flow", "her") for t in self._water()]
        for t, kind in self.plan.alarms:
            did = self.h.smoke if kind == "smoke" else self.h.gas
            if did is not None:
                created[did].append((t, "event", kind, "alarm"))
        if self.h.tag is not None:
            fixes, exits = TagPath(self.h, self.plan, self.devs[self.h.tag.device], self.s).run(self.start, self.end)
            created[self.h.tag.device] += fixes
            self.truths += exits
        out: list[Rec] = []
        for did, dev in self.devs.items():
            out += self._deliver(dev, created[did] + self._heartbeats(dev))
        out += [(t, 3, "", "truth", truth, 0, 0) for t, truth in self.plan.truths + self.truths]
        out.sort(key=lambda r: (r[0], r[1]))
        return out

    # -- what the devices see

    def _door_physics(self) -> None:
        """The main door (the PIR looks through it) and, for a gate sensor, the gate."""
        if self.h.flat:
            return
        events, self.propped = door_activity(self.plan, (TANG, YARD), self.s, self.rng)
        self.main_events = events
        self.propped = [(a, min(b, self.end + DAY)) for a, b in self.propped]
        for a, b in self.propped:
            if b - a > 3 * HOUR:
                self.fact(a, "door_left_open", until=hhmm(b) if b < self.end else "the end")

    def _door_sensor(self) -> list[Made]:
        door = self.h.door
        assert door is not None
        if door.on == "main":
            events = self.main_events
        else:
            events, _ = door_activity(self.plan, (YARD, OUT) if door.on == "gate" else (TANG, OUT), self.s, self.rng)
        out, reported_open = [], False
        for t, kind, who in events:
            if kind == "door_open" and not reported_open:
                out.append((t, "event", "door_open", who))
                reported_open = True
            elif kind == "door_close" and reported_open:
                if self.rng.random() < door.sticky:
                    continue  # swollen in the damp: a few mm ajar, the reed switch never closes
                out.append((t, "event", "door_close", who))
                reported_open = False
        return out

    def _open_at(self, t: float) -> bool:
        i = bisect_right(self.propped, (t, math.inf)) - 1
        return i >= 0 and self.propped[i][1] > t

    def _pir(self) -> list[tuple[float, str]]:
        """Candidate triggers from her, visitors, pets and the heater; then the unit's blind time."""
        h, rng, unit = self.h, self.rng, self.h.unit
        cand: list[tuple[float, str]] = []

        def sight(place: str, t: float) -> float:
            if place == YARD and not self._open_at(t):
                return 0.0
            return unit.sees.get(place, 0.0)

        for s in self.plan.segs:
            if s.place == OUT or s.t1 < self.start:
                continue
            see = sight(s.place, (s.t0 + s.t1) / 2)
            rate = RATE[s.act] * see * (h.person.fidget if s.act in ("fire", "tv", "sun", "rest") else 1.0)
            cand += [(t, "her") for t in arrivals(rng, s.t0, s.t1, rate)]
            if s.heater and unit.heater_in_view:
                cand += [(t, "heater") for t in arrivals(rng, s.t0, s.t1, 0.02)]
            if s.act == "sleep" and h.dog_inside:
                cand += [(t, "dog") for t in arrivals(rng, s.t0, s.t1, 0.004 * unit.sees.get(TANG, 0.0))]
        for v in self.plan.visits:
            see = max(sight(p, (v.t0 + v.t1) / 2) for p in v.places)
            cand += [(t, f"visitor:{v.who}") for t in arrivals(rng, v.t0, v.t1, v.rate * see)]
        tang = unit.sees.get(TANG, 0.0)
        for a, b in self.propped:
            if h.dog:
                cand += [(t, "dog") for t in arrivals(rng, a, b, 0.015 * tang)]
            if h.hens:
                cand += [(t, "hen") for t in arrivals(rng, a, b, 0.004 * tang)]
        if h.cat:
            cat_sees = max(tang, unit.sees.get(BED, 0.0) * 0.5)
            cand += [(t, "cat") for t in arrivals(rng, self.start, self.end, 0.005 * cat_sees)]
            for d in range(self.s.days + 1):
                m = self.s.midnight(d)
                cand += [(t, "cat") for t in arrivals(rng, m - 2 * HOUR, m + 5 * HOUR, 0.008 * cat_sees)]
        out, blind_until = [], -math.inf
        for t, cause in sorted(cand):
            if t >= blind_until:
                out.append((t, cause))
                blind_until = t + rng.uniform(*unit.blind_s)
        return out

    def _water(self) -> list[float]:
        rng, cand = self.rng, []
        for s in self.plan.segs:
            if s.place != OUT and s.act in WATER:
                cand += arrivals(rng, s.t0, s.t1, WATER[s.act])
                if s.act == "toilet":
                    cand.append(s.t1 - rng.uniform(5, 30))  # the flush
        for v in self.plan.visits:
            cand += arrivals(rng, v.t0, v.t1, v.water)
        out, last = [], -math.inf
        for t in sorted(cand):
            if t - last >= 60:
                out.append(t)
                last = t
        return out

    def _heartbeats(self, dev: Dev) -> list[Made]:
        """On the interval, `lag` late at most; a lost one is never followed by another (the radio re-attaches)."""
        period, rng = dev.device.heartbeat_s, dev.rng
        t = self.start + rng.uniform(5, period)
        out, lost = [], False
        while t < self.end:
            late = rng.uniform(0.05, dev.lag) * period if dev.lag > 0.05 else rng.uniform(-2, 2)
            if lost or rng.random() >= dev.loss:
                out.append((t + late, "heartbeat", None, ""))
                lost = False
            else:
                lost = True
            t += period
        for s in dev.spans:
            if s.mode == "dead" and self.start < s.t1 < self.end:
                out.append((s.t1 + rng.uniform(20, 60), "heartbeat", None, ""))  # the boot heartbeat
        return out

    def _battery(self, dev: Dev, t: float) -> int | None:
        if dev.curve is None:
            return None
        level = dev.curve.level(t)
        if dev.sag:
            hour = hour_of(t)
            if dev.device.kind is DeviceKind.GPS_TAG:
                seg = self.plan.at(t)
                outdoors = seg is not None and seg.place in (OUT, YARD, PLOT) and hour < 11
                level -= dev.sag if outdoors else 0.0
            else:
                level -= dev.sag * max(0.0, math.cos((hour - 5.5) / 24 * 2 * math.pi))
        return int(min(100.0, max(0.0, level)) + 0.5)

    # -- what reaches the hub

    def _deliver(self, dev: Dev, items: list[Made]) -> list[Rec]:
        """seq and ts at creation; dead: nothing; cut: events and fixes into the ring buffer, flushed on
        reconnection; Last Will and online for devices with their own session."""
        did, rng = dev.device.id, dev.rng
        items.sort(key=lambda x: x[0])
        episodes = _episodes(dev.spans)
        starts = [e[0] for e in episodes]
        seq = rng.randrange(1, 60_000)
        out: list[Rec] = [(self.start + rng.uniform(0, 5), 0, did, "status", "online", 0, 0)]
        buffers: dict[int, list[tuple[float, str, Any, int, int]]] = {}
        for t, channel, data, cause in items:
            if not self.start <= t < self.end:
                continue
            k = bisect_right(starts, t) - 1
            mode = _mode(episodes[k][2], t) if k >= 0 and t < episodes[k][1] else "ok"
            if mode == "dead":
                continue
            seq = (seq + 1) % 2**32
            if channel in ("heartbeat", "gps"):
                data = (data, self._battery(dev, t))
            elif cause:
                self.causes[(did, seq)] = (t, cause)
            if mode == "ok":
                out.append((t + rng.uniform(*dev.latency), 1, did, channel, data, dev.ts(t), seq))
            elif channel != "heartbeat":
                buffers.setdefault(k, []).append((t, channel, data, dev.ts(t), seq))
        for k, (t0, t1, _) in enumerate(episodes):
            if t0 >= self.end:
                continue
            back = t1 + rng.uniform(2, 20) if dev.connected else t1 + rng.uniform(5, 60)
            if dev.connected and t1 - t0 > 90:
                out.append((t0 + rng.uniform(90, 100), 1, did, "status", "offline", 0, 0))  # the Last Will
                if back < self.end:
                    out.append((back, 1, did, "status", "online", 0, 0))
            kept = _ring(buffers.get(k, []))
            if back < self.end:
                out += [(back + 0.1 * (i + 1), 1, did, ch, data, ts, sq)
                        for i, (_, ch, data, ts, sq) in enumerate(kept)]
        out = [r for r in out if r[0] < self.end]
        out.sort(key=lambda r: r[0])
        self._device_truths(dev, out, episodes)
        return out

    def _device_truths(self, dev: Dev, out: list[Rec], episodes: list[tuple[float, float, list[Span]]]) -> None:
        """low_battery at a first report ≤ 20 % (since one > 30 %); device_offline where it is unheard for
        more than three intervals, one line an outage; shorter outages are context."""
        did, period = dev.device.id, dev.device.heartbeat_s
        low = False
        for r in out:
            if r[3] in ("heartbeat", "gps") and r[4][1] is not None:
                battery = r[4][1]
                if battery > 30:
                    low = False
                elif battery <= 20 and not low:
                    low = True
                    self.truths.append((r[0], {"kind": "low_battery", "resident": self.h.rid, "device": did,
                                               "battery": str(battery)}))
        heard = [r[0] for r in out if r[3] != "status" or r[4] == "online"] + [self.end]
        prev = self.start
        for t in heard:
            gap = t - prev
            ep = next((e for e in episodes if e[0] < t and prev < e[1]), None)
            cause = "+".join(sorted({s.cause for s in ep[2]})) if ep else "heartbeats_lost"
            if gap > 3 * period:
                at = max(prev, ep[0]) if ep else prev
                self.truths.append((at, {"kind": "device_offline", "resident": self.h.rid, "device": did,
                                         "cause": cause, "hours": f"{gap / HOUR:.1f}"}))
            elif ep is not None and ep[1] - ep[0] > 60 and t < self.end:
                self.fact(ep[0], "short_outage", device=did, cause=cause, minutes=f"{(ep[1] - ep[0]) / MIN:.0f}")
            prev = t


def _episodes(spans: list[Span]) -> list[tuple[float, float, list[Span]]]:
    """Overlapping or touching spans merged: (start, end, the spans)."""
    out: list[tuple[float, float, list[Span]]] = []
    for s in sorted(spans, key=lambda s: s.t0):
        if s.t1 <= s.t0:
            continue
        if out and s.t0 <= out[-1][1] + 1:
            t0, t1, group = out[-1]
            out[-1] = (t0, max(t1, s.t1), [*group, s])
        else:
            out.append((s.t0, s.t1, [s]))
    return out


def _mode(spans: list[Span], t: float) -> str:
    modes = {s.mode for s in spans if s.t0 <= t < s.t1}
    return "dead" if "dead" in modes else "cut"


def _ring(buffered: list[tuple[float, str, Any, int, int]]) -> list[tuple[float, str, Any, int, int]]:
    """The device's ring buffer: the newest 64, with SOS, fall, smoke and gas kept over the rest."""
    if len(buffered) <= BUFFER:
        return buffered
    critical = [b for b in buffered if b[1] == "event" and b[2] in ("sos", "sos_cancel", "fall", "smoke", "gas")]
    rest = [b for b in buffered if b not in critical]
    return sorted(critical + rest[len(rest) - max(0, BUFFER - len(critical)):], key=lambda b: b[0])


def door_activity(plan: Plan, edge: tuple[str, str], season: Season,
                  rng: random.Random) -> tuple[list[tuple[float, str, str]], list[tuple[float, float]]]:
    """A door's openings and closings, and the spans it stands propped open. On a prop day she leaves it
    open at her first pass after waking and shuts it at dusk (or when she comes in after), or when she
    padlocks it to go out; shut, it is opened and pulled to behind whoever passes (it is cold)."""
    inner, outer = edge
    segs = plan.segs
    uses: list[tuple[float, int, str, str, Trip | None]] = []
    for i in range(1, len(segs)):
        a, b = segs[i - 1].place, segs[i].place
        if {a, b} == {inner, outer}:
            trip = next((s.trip for s in segs[i:i + 3] if s.trip is not None), None) if b == outer else None
            uses.append((segs[i].t0, 1, "her", "out" if b == outer else "in", trip))
    for v in plan.visits:
        if outer == OUT or any(p in INDOOR for p in v.places):
            uses += [(v.t0, 1, v.who, "in", None), (v.t1, 1, v.who, "out", None)]
    for d, close_h in plan.props.items():
        uses.append((season.midnight(d) + close_h * HOUR, 0, "her", "shut", None))
    uses.sort(key=lambda u: (u[0], u[1]))
    events: list[tuple[float, str, str]] = []
    spans: list[tuple[float, float]] = []
    since: float | None = None
    pending = False

    def close(t: float, who: str) -> None:
        nonlocal since, pending
        assert since is not None
        events.append((t, "door_close", who))
        spans.append((since, t))
        since, pending = None, False

    for t, _, who, kind, trip in uses:
        if kind == "shut":
            seg = plan.at(t)
            if since is not None and seg is not None and seg.place in INDOOR and seg.act != "floor":
                close(t, who)
            elif since is not None:
                pending = True
            continue
        if since is not None:
            if who == "her" and kind == "out" and trip is not None and trip.locked:
                close(t + rng.uniform(5, 20), who)
            elif pending and ((who == "her" and kind == "in") or (who != "her" and kind == "out")):
                close(t + rng.uniform(3, 10), who)
            continue
        d = season.day_of(t)
        shut_h = plan.props.get(d)
        late = shut_h is None or hour_of(t) > shut_h - 0.5 or hour_of(t) < 4.5
        if who == "her" and not late and not (trip is not None and trip.locked):
            events.append((t, "door_open", who))
            since = t
            continue
        events.append((t, "door_open", who))
        events.append((t + rng.uniform(3, 12), "door_close", who))
    if since is not None:
        spans.append((since, math.inf))
    events.sort()
    return events, spans


class TagPath:
    """Where the tag is and what it reports: with her on a trip (walking, the minibus, a car), in the
    house (weak GPS under the tiles, cell-tower fixes that jump, often nothing), in the yard or plot."""

    def __init__(self, h: House, plan: Plan, dev: Dev, season: Season) -> None:
        self.h, self.plan, self.dev, self.s = h, plan, dev, season
        self.rng = random.Random(f"sichuan:tagpath:{dev.device.id}")
        self.towers = [(self.rng.uniform(0, 2 * math.pi), self.rng.uniform(600, 2500), w) for w in (0.6, 0.3, 0.1)]

    def run(self, start: float, end: float) -> tuple[list[Made], list[TruthLine]]:
        out: list[Made] = []
        exits: list[TruthLine] = []
        still = 600.0 if self.h.tag is not None and self.h.tag.form == "phone" else 300.0
        t = start + self.rng.uniform(0, still)
        for tr in [tr for tr in self.plan.trips() if tr.tag and tr.t1 > start] + [None]:
            stop = tr.t0 if tr is not None else end
            while t < stop:
                out += self._at_home(t)
                t += still * (2 if self._battery(t) <= 15 else 1) * self.rng.uniform(0.9, 1.1)
            if tr is None:
                break
            fixes, exit_t = self._trip(tr)
            out += fixes
            if exit_t is not None:
                exits.append(self._exit(exit_t, tr))
            t = max(t, tr.t1 + 60)
        return [f for f in out if start <= f[0] < end], exits

    def _battery(self, t: float) -> float:
        return self.dev.curve.level(t) if self.dev.curve is not None else 100.0

    def _exit(self, t: float, tr: Trip) -> TruthLine:
        dead = any(s.t0 <= t < s.t1 and s.mode == "dead" for s in self.dev.spans)
        if dead:
            return t, {"kind": "fault", "resident": self.h.rid, "fault": "left_zone_tag_flat", "trip": tr.kind}
        return t, {"kind": "geofence_exit", "resident": self.h.rid, "zone_m": f"{self.h.zone_m:.0f}",
                   "why": tr.kind, "zone_for": self.h.zone_why, "tag_on_her": "true"}

    def _at_home(self, t: float) -> list[Made]:
        seg = self.plan.at(t)
        home = self.h.resident.home
        carried = self.h.tag is not None and self.h.tag.form != "keychain"
        if seg is not None and seg.place in (YARD, PLOT) and carried:
            at = self.h.places["plot"] if seg.place == PLOT else home
            return self._fix(t, at, 12.0 if not self.h.valley else 30.0, self.rng.uniform(0, 0.5))
        roll = self.rng.random()
        if roll < 0.4:
            return self._fix(t, home, 45.0 if not self.h.flat else 60.0, self.rng.uniform(0, 0.3))
        if roll < 0.75:
            return self._tower(t, home)
        return []  # nothing through the tiles and the hill

    def _tower(self, t: float, where: LatLon) -> list[Made]:
        """A cell-tower fix: the position of one of the towers around, its cell size as the accuracy."""
        rng = self.rng
        bearing, dist, _ = rng.choices(self.towers, [w for _, _, w in self.towers])[0]
        at = polar(where, bearing, dist)
        acc = min(1500.0, max(300.0, dist * rng.uniform(0.8, 1.3)))
        return [(t, "gps", (round(at[0], 6), round(at[1], 6), round(acc, 0), 0.0), "")]

    def _fix(self, t: float, at: LatLon, sigma: float, speed: float) -> list[Made]:
        rng = self.rng
        err, acc = abs(rng.gauss(0, sigma)), max(5.0, sigma * rng.uniform(1.2, 2.2))
        if self.h.valley and rng.random() < 0.05:  # multipath off the hillside: far, and too sure of itself
            err, acc = rng.uniform(80, 250), rng.uniform(20, 45)
        p = polar(at, rng.uniform(0, 2 * math.pi), err)
        return [(t, "gps", (round(p[0], 6), round(p[1], 6), round(acc, 1), round(speed, 2)), "")]

    def _trip(self, tr: Trip) -> tuple[list[Made], float | None]:
        """Out and back along a straight road; a fix a minute while moving, every 5 min at the place."""
        home, dest = self.h.resident.home, self.h.places[tr.dest]
        dist = distance_m(home, dest)
        speed = {"foot": 1.0, "bus": 7.0, "car": 11.0}[tr.mode]
        if tr.kind == "wander":
            go = tr.t1 - tr.t0 - 30 * MIN
            legs = [(tr.t0, tr.t0 + go, home, dest), (tr.t0 + go, tr.t1, dest, home)]
        else:
            leg = min(dist / speed + 10 * MIN, (tr.t1 - tr.t0) / 2)
            legs = [(tr.t0, tr.t0 + leg, home, dest), (tr.t1 - leg, tr.t1, dest, home)]
        out: list[Made] = []
        for t0, t1, a, b in legs:
            t = t0 + self.rng.uniform(20, 60)
            while t < t1:
                f = (t - t0) / (t1 - t0)
                if not (self.h.valley and 0.1 < f < 0.2):  # down in the 沟: no sky for a few minutes
                    p = (a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f)
                    out += self._fix(t, p, 8.0, distance_m(a, b) / (t1 - t0) * self.rng.uniform(0.8, 1.2))
                t += self.rng.uniform(55, 70)
            if t0 == legs[0][0]:
                t = t1 + 60
                while t < legs[1][0]:
                    outdoors = self.rng.random() < 0.5
                    out += self._fix(t, dest, 10.0, self.rng.uniform(0, 0.4)) if outdoors else self._tower(t, dest)
                    t += self.rng.uniform(280, 320)
        exit_t = None
        if self.h.zone_m and dist > self.h.zone_m:
            t0, t1 = legs[0][0], legs[0][1]
            exit_t = t0 + (t1 - t0) * self.h.zone_m / dist
        return out, exit_t


# ------------------------------------------------------------------ the simulation


class SichuanSimulation:
    """Iterate to get `Message`s and `Truth`s in time order (what `write_recording` needs).

    `plans` (resident id → Plan) is the world's account of every resident; `causes` ((device, seq) →
    (created t, cause)) says who or what made each event once the world has been iterated."""

    def __init__(self, residents: int = 60, days: float = 14, seed: int = 1, start: str | None = None,
                 topic_root: str = DEFAULT_ROOT) -> None:
        self.seed, self.root = seed, topic_root
        self.start = parse_start(start or START)
        self.end = self.start + days * DAY
        m0 = local_midnight(self.start)
        ndays = math.ceil((self.end - m0) / DAY)
        self.season = Season(m0, ndays, draw_weather(ndays, seed))
        self.community, self.houses = build_world(residents, seed)
        self.outages = draw_outages(self.houses, self.season, seed)
        planners = [Planner(h, self.season, seed) for h in self.houses]
        self.plans: dict[str, Plan] = {}
        for pl in planners:
            self.plans[pl.h.rid] = pl.routine()
            pl.visitors()
        self.incidents = draw_incidents(self.houses, self.season, seed)
        busy: dict[str, list[tuple[float, float]]] = {}
        for k, pl in enumerate(planners):
            writer = IncidentWriter(pl, self.outages)
            for inc in sorted((i for i in self.incidents if i.house == k), key=lambda i: (i.day, i.kind)):
                writer.write(inc)
            _fill(pl.plan, pl.graph)
            busy[pl.h.rid] = writer.busy
        home_outages(self.houses, self.plans, self.outages, self.season, seed, busy)
        self.tag_curves: dict[str, Curve] = {}
        for h in self.houses:
            unit_spans(h, self.outages)
            if h.tag is not None:
                self.tag_curves[h.rid] = prepare_tag(h, self.plans[h.rid], self.outages, self.season, seed)
        self.causes: dict[tuple[str, int], tuple[float, str]] = {}
        self._topics: dict[tuple[str, Channel], str] = {}

    def registry_yaml(self) -> str:
        """The registry with the village committee's zones (see `_zone`); no zone for the others."""
        doc = registry_dict(self.community)
        houses = {h.rid: h for h in self.houses}
        for entry in doc["residents"]:
            h = houses[entry["id"]]
            if h.zone_m is None:
                del entry["zones"]
            else:
                name = "院子周边" if h.zone_why == "dementia" else "镇上范围"
                entry["zones"] = [{"name": name, "circle": {**entry["home"], "radius_m": h.zone_m}}]
        header = f"# Registry of the simulated township {self.community.name} ({len(self.houses)} residents, winter)\n"
        return header + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=120, default_flow_style=None)

    def __iter__(self) -> Iterator[Message | Truth]:
        streams = []
        facts: dict[str, list[TruthLine]] = {}
        for t, truth in self.outages.facts:
            facts.setdefault(truth["resident"], []).append((t, truth))
        for k, h in enumerate(self.houses):
            em = Emitter(h, self.plans[h.rid], self.outages, self.season, self.start, self.end, self.seed,
                         self.tag_curves.get(h.rid))
            recs = em.run() + [(t, 3, "", "truth", truth, 0, 0) for t, truth in facts.get(h.rid, [])]
            recs.sort(key=lambda r: (r[0], r[1]))
            self.causes.update(em.causes)
            streams.append([(r[0], k, i, r) for i, r in enumerate(recs)])
        last = self.start
        for t, _k, _i, (_, _, did, channel, data, ts, seq) in heapq.merge(*streams):
            if t < self.start or t >= self.end:
                continue
            t = max(round(t, 3), last)
            last = t
            if channel == "truth":
                yield Truth(t, data)
            elif channel == "status":
                yield Message(t, self._topic(did, Channel.STATUS), Status(state=data), True)
            elif channel == "event":
                yield Message(t, self._topic(did, Channel.EVENT), Event(data, ts, seq))
            elif channel == "heartbeat":
                dev = self._device(did)
                rssi = max(-140, min(-30, dev.rssi + (seq % 9) - 4))
                yield Message(t, self._topic(did, Channel.HEARTBEAT), Heartbeat(ts, seq, data[1], rssi, dev.fw))
            else:
                (lat, lon, acc, speed), battery = data
                yield Message(t, self._topic(did, Channel.GPS), Gps(lat, lon, ts, seq, acc, speed, battery))

    def _device(self, did: str) -> Device:
        if not hasattr(self, "_by_id"):
            self._by_id = {d.id: d for d in self.community.devices}
        return self._by_id[did]

    def _topic(self, did: str, channel: Channel) -> str:
        key = (did, channel)
        if key not in self._topics:
            self._topics[key] = str(DeviceTopic(did, channel, self.root))
        return self._topics[key]
