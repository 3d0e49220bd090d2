"""The virtual community: residents, their homes, habits and devices, grids and responders.

`build_community(n, seed)` is deterministic for a seed. `registry_yaml(community)` renders it in
the registry format of PRODUCT.md ("Registry"), ready for `pingan import`.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

import yaml

from devices.kinds import DeviceKind
from simulators.geo import LatLon, polar

DEFAULT_CENTRE: LatLon = (45.7512, 126.6421)  # 宣信社区 area, 南岗区, Harbin
ZONE_RADIUS_M = 500.0
COMMUNITY_RADIUS_M = 900.0
RESIDENTS_PER_GRID = 40

HEARTBEAT_S: dict[DeviceKind, int] = {
    DeviceKind.PINGAN_CAT: 300,
    DeviceKind.GPS_TAG: 300,
    DeviceKind.DOOR_SENSOR: 900,
    DeviceKind.WATER_METER: 3600,
    DeviceKind.SMOKE_ALARM: 3600,
}
ID_PREFIX: dict[DeviceKind, str] = {
    DeviceKind.PINGAN_CAT: "cat",
    DeviceKind.DOOR_SENSOR: "door",
    DeviceKind.GPS_TAG: "tag",
    DeviceKind.WATER_METER: "water",
    DeviceKind.SMOKE_ALARM: "smoke",
}
FIRMWARE: dict[DeviceKind, str] = {
    DeviceKind.PINGAN_CAT: "1.4.2",
    DeviceKind.DOOR_SENSOR: "2.0.1",
    DeviceKind.GPS_TAG: "3.1.0",
    DeviceKind.WATER_METER: "1.1.7",
    DeviceKind.SMOKE_ALARM: "1.0.9",
}
#: Share of homes equipped with each optional kind (cat and door sensor are in every home).
OPTIONAL_KINDS = ((DeviceKind.GPS_TAG, 0.85), (DeviceKind.WATER_METER, 0.6), (DeviceKind.SMOKE_ALARM, 0.3))

SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
ELDER_F = ["秀英", "桂英", "秀兰", "玉兰", "桂兰", "凤英", "玉珍", "淑珍", "淑兰", "素珍", "玉梅", "秀珍", "凤兰", "淑芬"]
ELDER_M = ["建国", "国华", "志明", "德明", "文华", "永福", "振华", "树林", "宝山", "长海", "福生", "玉林", "连生", "广才"]
YOUNG = ["明", "伟", "丽", "静", "磊", "洋", "敏", "娜", "强", "军", "杰", "芳", "晓东", "海燕", "春雷", "丹", "鹏", "雪"]
STREETS = ["宣信街", "宣化街", "文昌街", "大成街", "宣庆街", "果戈里大街", "花园街", "红军街", "宣礼街", "海城街"]
GRID_NAMES = "一二三四五六七八九十"
PHONE_PREFIXES = ["138", "139", "135", "136", "137", "150", "151", "152", "158", "159", "186", "187", "188", "189"]


@dataclass(frozen=True, slots=True)
class Device:
    id: str
    kind: DeviceKind
    resident: str
    heartbeat_s: int
    fw: str
    rssi: int  # typical signal, dBm
    battery0: float  # percent at the start of the simulation
    drain_per_day: float  # percent per day (gps tag: the sawtooth between charges)
    charge_every_days: int = 0  # gps tag: recharged to 100 every N days at night; 0: never


@dataclass(frozen=True, slots=True)
class Habits:
    """A resident's daily routine, in local hours."""

    wake_h: float
    sleep_h: float
    walk_am: float  # probability of a morning walk
    walk_pm: float  # probability of an afternoon outing
    nap: float  # probability of an afternoon nap
    night_visits: float  # mean bathroom visits a night
    stay_away: float  # probability a day of leaving for an overnight stay
    takes_tag: float  # probability the tag goes along on an outing
    walk_radius_m: float  # how far walks go (always well inside the 500 m zone)


@dataclass(frozen=True, slots=True)
class Contact:
    name: str
    phone: str
    relation: str


@dataclass(frozen=True, slots=True)
class Resident:
    id: str
    name: str
    grid: str
    address: str
    home: LatLon
    relative_home: LatLon  # where overnight stays go (a child's flat nearby, inside the zone)
    contacts: tuple[Contact, ...]
    devices: tuple[Device, ...]
    habits: Habits

    def device(self, kind: DeviceKind | str) -> Device | None:
        return next((d for d in self.devices if d.kind == kind), None)


@dataclass(frozen=True, slots=True)
class Responder:
    id: str
    name: str
    phone: str
    role: str  # grid_secretary | grid_leader | grid_worker | volunteer | operator
    grids: tuple[str, ...]
    home: LatLon | None


@dataclass(frozen=True)
class Community:
    id: str
    name: str
    timezone: str
    centre: LatLon
    grids: tuple[tuple[str, str], ...]  # (id, name)
    responders: tuple[Responder, ...]
    residents: tuple[Resident, ...]
    devices: tuple[Device, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "devices", tuple(d for r in self.residents for d in r.devices))

    def resident(self, resident_id: str) -> Resident:
        for r in self.residents:
            if r.id == resident_id:
                return r
        raise KeyError(f"no resident {resident_id!r} in the community")


class _Namer:
    """Unique Chinese names and +86 mobile numbers from one random stream."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.phones: set[str] = set()

    def phone(self) -> str:
        while True:
            number = "+86" + self.rng.choice(PHONE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if number not in self.phones:
                self.phones.add(number)
                return number

    def elder(self, female: bool) -> str:
        return self.rng.choice(SURNAMES) + self.rng.choice(ELDER_F if female else ELDER_M)

    def young(self, surname: str | None = None) -> str:
        return (surname or self.rng.choice(SURNAMES)) + self.rng.choice(YOUNG)


def build_community(
    residents: int, seed: int, centre: LatLon = DEFAULT_CENTRE, community_id: str = "xuanxin", name: str = "宣信社区"
) -> Community:
    """A deterministic community of `residents` elderly people living alone around `centre`."""
    rng = random.Random(f"community:{seed}")
    namer = _Namer(rng)
    n_grids = max(1, math.ceil(residents / RESIDENTS_PER_GRID))
    grids = tuple((f"{community_id}-g{i + 1:02d}", f"第{_grid_name(i)}网格") for i in range(n_grids))
    people = tuple(_resident(i, grids[i % n_grids][0], centre, rng, namer) for i in range(residents))
    responders = _responders(community_id, grids, centre, rng, namer)
    return Community(community_id, name, "Asia/Shanghai", centre, grids, responders, people)


def _grid_name(i: int) -> str:
    if i < 10:
        return GRID_NAMES[i]
    return str(i + 1)


def _random_point(rng: random.Random, centre: LatLon, radius_m: float) -> LatLon:
    return polar(centre, rng.uniform(0, 2 * math.pi), radius_m * math.sqrt(rng.random()))


def _rounded(point: LatLon) -> LatLon:
    return round(point[0], 6), round(point[1], 6)


def _resident(i: int, grid: str, centre: LatLon, rng: random.Random, namer: _Namer) -> Resident:
    rid = f"r-{i + 1:04d}"
    female = rng.random() < 0.65
    name = namer.elder(female)
    home = _rounded(_random_point(rng, centre, COMMUNITY_RADIUS_M))
    relative = _rounded(polar(home, rng.uniform(0, 2 * math.pi), rng.uniform(150, 420)))
    address = f"{rng.choice(STREETS)}{rng.randint(1, 120)}号{rng.randint(1, 6)}单元{rng.randint(1, 7)}0{rng.randint(1, 4)}"
    contacts = _contacts(name[0], rng, namer)
    devices = _devices(i + 1, rid, rng)
    return Resident(rid, name, grid, address, home, relative, contacts, devices, _habits(rng))


def _contacts(surname: str, rng: random.Random, namer: _Namer) -> tuple[Contact, ...]:
    relations = rng.sample(["son", "daughter", "son", "daughter", "niece", "neighbour"], rng.randint(1, 2))
    out = []
    for relation in relations:
        family_name = surname if relation == "son" else None
        out.append(Contact(namer.young(family_name), namer.phone(), relation))
    return tuple(out)


def _devices(number: int, rid: str, rng: random.Random) -> tuple[Device, ...]:
    kinds = [DeviceKind.PINGAN_CAT, DeviceKind.DOOR_SENSOR]
    kinds += [kind for kind, share in OPTIONAL_KINDS if rng.random() < share]
    return tuple(_device(kind, number, rid, rng) for kind in kinds)


def _device(kind: DeviceKind, number: int, rid: str, rng: random.Random) -> Device:
    did = f"{ID_PREFIX[kind]}-{number:04d}"
    rssi = rng.randint(-85, -55)
    common = (did, kind, rid, HEARTBEAT_S[kind], FIRMWARE[kind], rssi)
    if kind is DeviceKind.GPS_TAG:
        every = rng.randint(8, 13)
        return Device(*common, battery0=100.0, drain_per_day=55.0 / every, charge_every_days=every)
    if kind is DeviceKind.PINGAN_CAT:  # mains powered, backup cell
        return Device(*common, battery0=rng.uniform(92, 100), drain_per_day=0.02)
    return Device(*common, battery0=rng.uniform(62, 100), drain_per_day=rng.uniform(0.03, 0.12))


def _habits(rng: random.Random) -> Habits:
    return Habits(
        wake_h=rng.uniform(5.3, 7.0),
        sleep_h=rng.uniform(21.2, 22.6),
        walk_am=rng.uniform(0.3, 0.8),
        walk_pm=rng.uniform(0.2, 0.6),
        nap=rng.uniform(0.3, 0.9),
        night_visits=rng.uniform(0.5, 2.5),
        stay_away=rng.uniform(0.0, 0.06),
        takes_tag=rng.uniform(0.8, 1.0),
        walk_radius_m=rng.uniform(120, 330),
    )


def _responders(
    cid: str, grids: tuple[tuple[str, str], ...], centre: LatLon, rng: random.Random, namer: _Namer
) -> tuple[Responder, ...]:
    all_grids = tuple(g for g, _ in grids)
    out = [Responder(f"{cid}-sec", namer.young(), namer.phone(), "grid_secretary", all_grids, centre)]
    for n, (gid, _) in enumerate(grids, start=1):
        out.append(Responder(f"gl-{n:02d}", namer.young(), namer.phone(), "grid_leader", (gid,), _home(rng, centre)))
        for k in (1, 2):
            out.append(Responder(f"gw-{n:02d}-{k}", namer.young(), namer.phone(), "grid_worker", (gid,), _home(rng, centre)))
        for k in range(1, rng.randint(3, 5) + 1):
            out.append(Responder(f"vol-{n:02d}-{k}", namer.young(), namer.phone(), "volunteer", (gid,), _home(rng, centre)))
    for k in (1, 2):
        out.append(Responder(f"op-{k}", namer.young(), namer.phone(), "operator", all_grids, None))
    return tuple(out)


def _home(rng: random.Random, centre: LatLon) -> LatLon:
    return _rounded(_random_point(rng, centre, COMMUNITY_RADIUS_M * 1.2))


# ---------------------------------------------------------------- registry


def registry_dict(community: Community) -> dict[str, Any]:
    """The community as a registry document (PRODUCT.md "Registry")."""
    return {
        "communities": [{"id": community.id, "name": community.name, "timezone": community.timezone}],
        "grids": [{"id": gid, "community": community.id, "name": name} for gid, name in community.grids],
        "responders": [_responder_entry(r) for r in community.responders],
        "residents": [_resident_entry(r) for r in community.residents],
        "devices": [
            {"id": d.id, "kind": d.kind.value, "resident": d.resident, "heartbeat_s": d.heartbeat_s}
            for d in community.devices
        ],
    }


def _point(p: LatLon) -> dict[str, float]:
    return {"lat": p[0], "lon": p[1]}


def _responder_entry(r: Responder) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": r.id, "name": r.name, "phone": r.phone, "role": r.role, "grids": list(r.grids)}
    if r.home is not None:
        entry["home"] = _point(r.home)
    return entry


def _resident_entry(r: Resident) -> dict[str, Any]:
    return {
        "id": r.id,
        "name": r.name,
        "grid": r.grid,
        "address": r.address,
        "home": _point(r.home),
        "contacts": [{"name": c.name, "phone": c.phone, "relation": c.relation} for c in r.contacts],
        "zones": [{"name": "小区周边", "circle": {**_point(r.home), "radius_m": ZONE_RADIUS_M}}],
    }


def registry_yaml(community: Community) -> str:
    header = f"# Registry of the simulated community {community.name} ({len(community.residents)} residents)\n"
    body = yaml.safe_dump(
        registry_dict(community), allow_unicode=True, sort_keys=False, width=120, default_flow_style=None
    )
    return header + body
