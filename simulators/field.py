"""A harsher simulated world: devices that behave like field hardware, people with looser habits,
and a truth line for every incident and every fault (issue 15).

`FieldSimulation(profile, residents, days, seed)` is a `Simulation` (same stream, same recording
format) whose residents and devices follow a `Profile`:

Devices
- **A still GPS tag** (lying on the table, in a coat pocket, on the person sitting or lying on
  the floor) reports every `still_fix_s` a fix scattered by up to ~150 m, accuracy 25–160 m,
  speed 0, and now and then a multipath jump 150–700 m off with an optimistic 15–45 m accuracy.
  The tag goes along on an outing only sometimes (`takes_tag`); left at home it goes on
  scattering there. A fallen resident carrying the tag: the tag scatters beside them.
- **Wi-Fi outages** silence every mains/Wi-Fi device of a home at once (home unit, door
  sensor, water meter, smoke alarm; the tag is cellular): heartbeats are lost, events are kept
  and flushed, with their own time stamps, when the link returns.
- **A dead or unplugged home unit** next to a live door sensor: the unit stops for good.
- **Clock drift**: each device clock is off by up to `clock_off_s` seconds at the start and
  drifts by up to `drift_s` a day more; the payload `ts` follows the device clock.
- **A clock hours behind** (`clock_behind`: set by hand, a time zone off; `clock_behind_h`)
  and **a clock reset** (`clock_reset`: a power cut on some day restarts it at 2000-01-01 00:00
  UTC), on the mains/Wi-Fi devices only (a GPS tag takes its time from the satellites).
- **A device replaced** by a new unit under the same id: a few minutes of silence, then the
  new unit starts its `seq` again at 1 and says `online`.
- Homes **without a door sensor** (`door_share`) or **without a tag** (`tag_share`).

People
- sleep-ins (`sleep_in`: up 1–2.5 h later), naps of up to 2.5 h, nights with and without
  bathroom visits (`quiet_nights`), long outings (3–7 h) without the tag (`long_outing`),
  visitors (a neighbour or a child: door, talk and motion for 20–90 min; sometimes while the
  resident is out — a child checking the flat), falls by day and at night on the way to the
  bathroom (`night_falls`), found 10–14 h later.

Harsher homes and habits (issue 15, second round; each has a `fault` truth line per home):
- **One home unit, not a PIR in every room** (`coverage`): the unit sees only the share of the
  resident's movements made in its field of view (a bedroom, a bathroom out of sight).
- **A pet** (`pets`) sets the PIR off at random, day and night, also while the resident is out
  or lies on the floor.
- **A running cistern** (`leaks`): from some day the water meter reports a refill every
  10-30 min, day and night, whatever the resident does.
- **A door sensor that misses openings** (`door_miss`): a weak magnet or a door left ajar; the
  passage (open and close) is lost, each one with a `door_missed` truth line.
- **Night owls** (`owls`: to bed 1.5–3.5 h late every night, up later) and **irregular nights**
  (`irregular`: on 40 % of nights up 2–6 h past bedtime, often past midnight, up later next day);
  naps of up to `nap_minutes` (3 h and more).
- **Two home units** (`units=2`, session 16): a Ping'an Cat in the bedroom and one in the
  living room. Asleep, napping or in bed she is in the bedroom; sitting (quiet spells, TV
  evenings), at meals, with visitors and on her way out or in, in the living room; up and
  about she stays `room_stay_min` (mean) in one of the two before the other. Each unit sees
  only the movements made in its room; both send heartbeats all along.
- **A balcony door sensor** (`balcony`): a second door sensor, opened and closed again 2–20
  min later 1–3 times a day while she stays home (laundry, plants), with movement before and after.
- **Bedridden part of the day** (`bedridden`): 3–6 h a day lying in bed awake, one small
  movement the unit sees every 20–90 min.
- **Falls at any hour** (`fall_hours`), **right after coming home** (`after_return`: 4–15 min
  after the door closes, the tag still in the pocket), and from a given day on
  (`falls_from_day`: a 28-day world whose falls come after the learned routine settled).

Truth lines: every incident as in `simulators.incidents` (inactivity, geofence_exit, sos, ...),
plus `device_offline` for every device a Wi-Fi outage silences for longer than
`offline_after_missed` (3) heartbeat intervals; faults that should raise nothing get a line of
kind `fault` with `fault` = `wifi_outage`, `clock_drift`, `clock_behind`, `clock_reset`, `device_replaced`, `no_door_sensor`,
`no_tag`, `tag_left_home` (the tag stays home on an outing). Scorers count only alert kinds as
incidents and read `fault` lines as context.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, fields, replace
from typing import cast

from devices.kinds import DeviceKind
from devices.payloads import Event, Gps, Heartbeat, Status
from devices.topics import Channel
from simulators.community import Community, Resident, build_community
from simulators.engine import Message as SimMessage
from simulators.engine import SimConfig, Simulation, Truth, _DeviceState
from simulators.geo import LatLon, offset, polar
from simulators.incidents import Incident
from simulators.routines import (
    ACTIVE,
    DAY,
    HOME_KINDS,
    HOUR,
    MEAL,
    MIN,
    NAP,
    OUT,
    QUIET,
    SLEEP,
    Record,
    ResidentSim,
    Seg,
)

OFFLINE_AFTER_MISSED = 3  # config.yaml rules.offline_after_missed: a silence this many heartbeats long is an outage the hub must report
Y2000 = 946684800.0  # where a cheap real-time clock restarts after a power cut
WIFI_KINDS = frozenset({DeviceKind.PINGAN_CAT, DeviceKind.DOOR_SENSOR, DeviceKind.WATER_METER, DeviceKind.SMOKE_ALARM})
LONG_OUT = "long_out"
VISIT = "visit"
IN_BED = "in_bed"  # a bedridden spell: awake in bed, barely moving
IRREGULAR_LATE = 0.4  # an irregular sleeper stays up late on this share of nights


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    tag_share: float = 0.85  # homes with a GPS tag
    door_share: float = 1.0  # homes with a door sensor
    takes_tag: tuple[float, float] = (0.55, 0.95)  # per resident: probability the tag goes along
    still_fix_s: float = 600.0  # a still tag reports about this often
    scatter_m: float = 150.0  # how far a still tag's fixes land
    indoor_jump: float = 0.01  # share of still fixes that are multipath jumps
    tag_every_s: tuple[float, float] = (0.0, 0.0)  # per tag: it reports one fix this often at most (0: every fix)
    phantom_speed: float = 0.0  # share of still fixes claiming 10-30 m accuracy and a 0.5-2 m/s speed (weak-signal drift)
    sleep_in: float = 0.1  # share of mornings slept in ...
    sleep_in_hours: tuple[float, float] = (1.0, 2.5)  # ... this much later than usual
    quiet_nights: float = 0.3  # share of nights without a bathroom visit
    long_nap: float = 0.2  # share of naps that last 1.5-2.5 h
    long_outing: float = 0.08  # per day: a long outing without the tag ...
    long_outing_hours: tuple[float, float] = (3.0, 7.0)  # ... this long
    visitor: float = 0.12  # per day: a visitor while the resident is at home
    empty_visit: float = 0.01  # per day: someone checks the flat while the resident is out
    dead_cat: float = 0.0  # share of homes whose home unit dies (or is unplugged) on some day
    outages_per_week: float = 0.0  # Wi-Fi outages per home and week, 10 min - 4 h
    clock_off_s: float = 0.0  # device clocks start off by up to this (seconds) ...
    drift_s: float = 0.0  # ... and drift by up to this a day (a cheap RTC: 20-100 ppm, 2-9 s/day)
    clock_behind: float = 0.0  # share of mains/Wi-Fi devices whose clock is set hours behind ...
    clock_behind_h: tuple[float, float] = (0.25, 9.0)  # ... by this much (a time zone off: whole hours)
    clock_reset: float = 0.0  # share of mains/Wi-Fi devices whose clock restarts at 2000-01-01 on some day
    replaced: float = 0.0  # share of homes where one device is replaced by a new unit
    falls: float = 0.25  # share of homes with a fall during the run
    night_falls: float = 0.3  # share of the falls that happen on a night bathroom visit
    wanderings: float = 0.06  # share of homes with a tag whose resident wanders off
    sos: float = 0.06
    sos_cancelled: float = 0.06
    nap_minutes: tuple[float, float] = (90.0, 150.0)  # how long a long nap lasts
    coverage: tuple[float, float] = (1.0, 1.0)  # per home: share of movements the one home unit sees
    pets: float = 0.0  # share of homes with a pet that sets the PIR off ...
    pet_per_hour: tuple[float, float] = (0.3, 2.0)  # ... this often (per home)
    leaks: float = 0.0  # share of homes with a running cistern from some day (the water meter reports each refill)
    door_miss: float = 0.0  # share of homes whose door sensor misses passages ...
    door_miss_rate: tuple[float, float] = (0.05, 0.3)  # ... this share of them (per home)
    owls: float = 0.0  # share of residents who go to bed 1.5-3.5 h late every night
    irregular: float = 0.0  # share of residents whose nights start 2-6 h late on some days
    bedridden: float = 0.0  # share of residents in bed (awake, barely moving) 3-6 h a day
    fall_hours: tuple[float, float] = (8.0, 20.0)  # local hours of the falls that are not night falls
    after_return: float = 0.0  # share of day falls that happen 4-15 min after coming home
    falls_from_day: int = 0  # falls happen on this day of the run or later
    # a fall drawn inside an outing (or a visit, a spell in bed) happens 4-15 min after it ends,
    # past the return's last movement; the first-round profiles keep their recorded worlds, where
    # such a fall is stamped at the returning door, up to 200 s before the return's last motion
    exact_falls: bool = True
    days: float | None = None  # the profile's own length (benchmarks/detection.py uses it over --days)
    # habits past the ranges above (session 10, benchmarks/detection.py --set); all off by default and
    # drawn from their own random streams, so a world without them is byte-identical to before
    tv_evening: float = 0.0  # per day: a long still evening in the armchair (TV, dozing) after dinner ...
    tv_hours: tuple[float, float] = (2.0, 4.0)  # ... this long, into the bedtime ...
    tv_gap_min: tuple[float, float] = (30.0, 90.0)  # ... the PIR seeing a movement this often (mean minutes, per resident)
    early_bed: float = 0.0  # share of residents to bed 1-3 h before the usual (19:00-20:30) and up as much earlier
    overnight_visitor: float = 0.0  # per day: a child stays the night (in the evening until the next morning)
    # the habits world's own ranges (simulators/habits.py; the field world does not read them)
    elder_nap_h: tuple[float, float] = (0.5, 2.5)  # the noon nap's length
    elder_sit_h: tuple[float, float] = (1.0, 3.0)  # a TV sitting's length
    elder_sit_gap_min: tuple[float, float] = (8.0, 30.0)  # mean minutes between PIR triggers while sitting (per resident)
    # field-device physics beyond the first rounds (off by default: the recorded worlds stay as they were;
    # each draws from its own random stream, so turning one on changes nothing else in the world)
    fix_acc: tuple[float, float] = (25.0, 160.0)  # a still tag's reported accuracy (m) ...
    fix_reach: float = 1.3  # ... and how far a fix lands, up to this many times that accuracy (capped by scatter_m)
    jump_m: tuple[float, float] = (150.0, 700.0)  # how far a multipath jump lands
    lossy: float = 0.0  # share of homes on a flaky link / QoS 0: every device drops messages ...
    loss_rate: tuple[float, float] = (0.01, 0.2)  # ... this share of them (per home): heartbeats, events, fixes
    long_outages_per_week: float = 0.0  # long Wi-Fi outages per home and week ...
    long_outage_h: tuple[float, float] = (4.0, 24.0)  # ... this long
    outage_flush: float = 1.0  # share of Wi-Fi outages after which the device flushes the events it kept (else lost)
    pir_false: float = 0.0  # share of homes whose PIR fires by itself in daylight (sun, heat, curtains) ...
    pir_false_per_hour: tuple[float, float] = (1.0, 4.0)  # ... this often, 08:00-18:00 local, also with nobody moving
    duplicates: float = 0.0  # share of messages delivered twice (QoS 1 redelivery, same seq and ts)
    # homes with several devices (session 16; off by default, own random streams: the worlds stay byte for byte)
    units: int = 1  # home units a home: 2 = one in the bedroom (the registry's first) and one in the living room
    room_stay_min: float = 15.0  # up and about, she stays this long (mean minutes) in one of the two before the other
    balcony: float = 0.0  # share of homes with a second door sensor on the balcony door ...
    balcony_per_day: tuple[float, float] = (1.0, 3.0)  # ... opened this often a day (per home), 2-20 min out, then closed


PROFILES: dict[str, Profile] = {p.name: p for p in (
    Profile("field", "the mix of the issue's field community: every fault and habit at moderate rates",
            door_share=0.9, dead_cat=0.04, outages_per_week=0.3, clock_off_s=60, drift_s=5, replaced=0.05, exact_falls=False),
    Profile("gps", "a tag in every home, often left at home or carried indoors, heavy scatter and multipath; falls with the tag",
            tag_share=1.0, takes_tag=(0.3, 0.9), still_fix_s=300, indoor_jump=0.03, falls=0.35, wanderings=0.1, exact_falls=False),
    Profile("devices", "dead and unplugged home units next to live door sensors, Wi-Fi outages, drifting clocks, replaced units",
            dead_cat=0.15, outages_per_week=1.0, clock_off_s=240, drift_s=10, replaced=0.2, exact_falls=False),
    Profile("nights", "sleep-ins, long naps, nights with and without bathroom visits, falls at night",
            sleep_in=0.3, quiet_nights=0.5, long_nap=0.5, night_falls=0.5, falls=0.35, exact_falls=False),
    Profile("sparse", "homes without a door sensor or a tag, long outings without the tag, many visitors",
            tag_share=0.5, door_share=0.6, takes_tag=(0.2, 0.7), long_outing=0.2, visitor=0.3, empty_visit=0.03, exact_falls=False),
    Profile("rooms", "one home unit in one room: it sees 30-70 % of the resident's movements, not a PIR in every room",
            door_share=0.9, coverage=(0.3, 0.7), falls=0.35),
    Profile("irregular", "night owls, irregular nights past midnight, 2.5-3.3 h naps, residents bedridden part of the day",
            owls=0.25, irregular=0.25, long_nap=0.5, nap_minutes=(150.0, 200.0), bedridden=0.15, falls=0.35,
            fall_hours=(6.0, 23.5)),
    Profile("pets", "pets setting the PIR off day and night, door sensors that miss openings",
            pets=0.4, door_miss=0.3, falls=0.35),
    Profile("falls", "falls at any hour, often right after coming home with the tag still on the person",
            tag_share=1.0, takes_tag=(0.7, 1.0), falls=0.6, night_falls=0.2, fall_hours=(0.0, 24.0), after_return=0.4),
    Profile("long", "the field mix over 28 days, falls only from day 14 on: the learned routine's settled regime",
            door_share=0.9, dead_cat=0.04, outages_per_week=0.3, clock_off_s=60, drift_s=5, replaced=0.05,
            falls=0.35, falls_from_day=14, days=28),
    Profile("clocks", "the field mix with device clocks hours behind or reset to 2000 by a power cut",
            door_share=0.9, dead_cat=0.04, outages_per_week=0.3, clock_off_s=60, drift_s=5, replaced=0.05,
            clock_behind=0.15, clock_reset=0.1, falls=0.35),
    Profile("leaks", "the field mix with a running cistern in 40 % of homes from some day: the water meter flows day and night",
            door_share=0.9, dead_cat=0.04, outages_per_week=0.3, clock_off_s=60, drift_s=5, replaced=0.05,
            leaks=0.4, falls=0.35),
    Profile("seldom", "the gps mix with tags that report one fix every 10-30 min, on the move too (a tracker saving its battery)",
            tag_share=1.0, takes_tag=(0.3, 0.9), still_fix_s=300, indoor_jump=0.03, tag_every_s=(600.0, 1800.0), falls=0.35,
            wanderings=0.15),
    Profile("doppler", "the gps mix with tags whose still fixes now and then claim a speed and a good accuracy",
            tag_share=1.0, takes_tag=(0.3, 0.9), still_fix_s=300, indoor_jump=0.03, phantom_speed=0.02, falls=0.35,
            wanderings=0.1),
)}


@dataclass(frozen=True)
class HomeTraits:
    """What one home and its resident are like beyond the profile's rates (drawn per home)."""

    coverage: float = 1.0
    pet_per_hour: float = 0.0
    door_miss: float = 0.0
    owl_hours: float = 0.0
    irregular: bool = False
    bedridden: bool = False
    leak_from_day: int = -1  # a running cistern from this day of the run (-1: none)
    early_hours: float = 0.0  # to bed (and up) this much earlier than the usual
    tv_gap_min: float = 0.0  # mean minutes between PIR triggers in a long TV evening

    def faults(self) -> dict[str, str]:
        """The `fault` truth lines this home gets at the start: {fault: value}."""
        out = {"partial_coverage": f"{self.coverage:.2f}" if self.coverage < 1 else "",
               "pet": f"{self.pet_per_hour:.2f}/h" if self.pet_per_hour else "",
               "door_misses": f"{self.door_miss:.2f}" if self.door_miss else "",
               "night_owl": f"{self.owl_hours:.1f} h" if self.owl_hours else "",
               "irregular_sleep": "yes" if self.irregular else "", "bedridden": "yes" if self.bedridden else "",
               "leaking_cistern": f"from day {self.leak_from_day}" if self.leak_from_day >= 0 else "",
               "early_bed": f"{self.early_hours:.1f} h" if self.early_hours else ""}
        return {k: v for k, v in out.items() if v}


def draw_traits(profile: Profile, residents: list[str], seed: int) -> dict[str, HomeTraits]:
    """Per-home traits from their own random stream: the earlier profiles' worlds stay as they were."""
    p, rng = profile, random.Random(f"field-traits:{profile.name}:{seed}")
    out = {}
    for rid in residents:
        out[rid] = HomeTraits(
            coverage=rng.uniform(*p.coverage),
            pet_per_hour=rng.uniform(*p.pet_per_hour) if rng.random() < p.pets else 0.0,
            door_miss=rng.uniform(*p.door_miss_rate) if rng.random() < p.door_miss else 0.0,
            owl_hours=rng.uniform(1.5, 3.5) if rng.random() < p.owls else 0.0,
            irregular=rng.random() < p.irregular,
            bedridden=rng.random() < p.bedridden,
            leak_from_day=rng.randrange(0, 10) if p.leaks and rng.random() < p.leaks else -1)
    if p.early_bed or p.tv_evening:  # session 10's habits: their own stream, drawn only when asked for
        hrng = random.Random(f"field-habit-traits:{profile.name}:{seed}")
        for rid in residents:
            early = hrng.uniform(1.0, 3.0) if hrng.random() < p.early_bed else 0.0
            out[rid] = replace(out[rid], early_hours=early, tv_gap_min=hrng.uniform(*p.tv_gap_min))
    return out


# ---------------------------------------------------------------- community


def field_community(profile: Profile, residents: int, seed: int) -> Community:
    """The ordinary community with the profile's equipment: some homes lose the door sensor or the tag."""
    base = build_community(residents, seed)
    rng = random.Random(f"field-community:{profile.name}:{seed}")
    people = []
    for r in base.residents:
        drop = set()
        if rng.random() >= profile.door_share:
            drop.add(DeviceKind.DOOR_SENSOR)
        if rng.random() >= profile.tag_share:
            drop.add(DeviceKind.GPS_TAG)
        habits = replace(r.habits, takes_tag=rng.uniform(*profile.takes_tag), night_visits=rng.uniform(0.3, 2.5))
        people.append(replace(r, devices=tuple(d for d in r.devices if d.kind not in drop), habits=habits))
    if profile.units > 1 or profile.balcony:
        people = [_more_devices(profile, r, seed) for r in people]
    return Community(base.id, base.name, base.timezone, base.centre, base.grids, base.responders, tuple(people))


EXTRA_SUFFIXES = ("-lr", "-bal")  # the devices `_more_devices` adds: cat-NNNN-lr, door-NNNN-bal


def _extra(device_id: str) -> bool:
    return device_id.endswith(EXTRA_SUFFIXES)


def _more_devices(profile: Profile, r: Resident, seed: int) -> Resident:
    """A living-room unit (`units`) and a balcony door sensor (`balcony`), from their own stream."""
    rng = random.Random(f"field-units:{profile.name}:{seed}:{r.id}")
    cat, door = r.device(DeviceKind.PINGAN_CAT), r.device(DeviceKind.DOOR_SENSOR)
    extra = []
    if cat is not None and profile.units > 1:
        extra.append(replace(cat, id=f"{cat.id}-lr", rssi=rng.randint(-85, -55), battery0=rng.uniform(92, 100)))
    if door is not None and rng.random() < profile.balcony:
        extra.append(replace(door, id=f"{door.id}-bal", rssi=rng.randint(-85, -55), battery0=rng.uniform(62, 100)))
    return replace(r, devices=r.devices + tuple(extra))


# ---------------------------------------------------------------- people


class FieldResidentSim(ResidentSim):
    """A resident of the field world: looser habits, a tag that scatters while it lies still."""

    profile: Profile = PROFILES["field"]
    homes: dict[str, HomeTraits] = {}  # set per simulation on its own subclass
    after_return: frozenset[tuple[str, float]] = frozenset()  # (resident, incident at) of falls after coming home

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.frng = random.Random(f"field:{self.profile.name}:{self.r.id}:{self.midnight0}")
        # the harsher traits draw from their own stream, so the earlier profiles stay as they were
        self.xrng = random.Random(f"field-x:{self.profile.name}:{self.r.id}:{self.midnight0}")
        # session 10's habits (TV evenings, early nights, overnight visitors): a stream of their own
        self.hab_rng = random.Random(f"field-habit:{self.profile.name}:{self.r.id}:{self.midnight0}")
        self._tv_at: set[float] = set()  # starts of the quiet spells that are long TV evenings
        self.traits = self.homes.get(self.r.id, HomeTraits())
        self.usual = self.r.habits
        self.tag_away: list[tuple[float, float]] = []  # when the tag is out of the flat
        self._took = False
        self._jumped = False
        self._late_h = 0.0  # how late the resident went to bed last night (hours past the usual)
        self._awake_past_midnight = 0.0  # seconds of last night's waking spent after midnight
        self._door_missing = False
        self._fall_spans: list[tuple[float, float]] = []  # (fall, found) of this resident
        self._tag_every = 0.0  # a seldom tag's interval (drawn on its first day), and its last fix sent
        self._tag_sent = -math.inf
        self._pir_rate = 0.0  # spurious PIR triggers an hour in daylight (own stream: drawn only when the profile has them)
        # session 16: a second unit in the living room, a balcony door (their own stream)
        self._rooms = {d.id: d for d in self.r.devices}
        self.living = f"{self.cat}-lr" if f"{self.cat}-lr" in self._rooms else None
        self.balcony = f"{self.door}-bal" if f"{self.door}-bal" in self._rooms else None
        self._seg_kind = ""  # the kind of the segment being rendered (where she is)
        self._room, self._room_until = self.cat, -math.inf
        if self.living or self.balcony:
            self.urng = random.Random(f"field-units:{self.profile.name}:{self.r.id}:{self.midnight0}")
            self._balcony_rate = self.urng.uniform(*self.profile.balcony_per_day) if self.balcony else 0.0
        if self.profile.pir_false:
            self.prng = random.Random(f"field-pir:{self.profile.name}:{self.r.id}:{self.midnight0}")
            if self.prng.random() < self.profile.pir_false:
                self._pir_rate = self.prng.uniform(*self.profile.pir_false_per_hour)

    def day(self, d: int) -> list[Record]:
        p, rng = self.profile, self.frng
        wake = self.usual.wake_h + (rng.uniform(*p.sleep_in_hours) if rng.random() < p.sleep_in else 0.0)
        wake -= self.traits.early_hours * 0.8
        wake += self._late_h * self.xrng.uniform(0.6, 1.0) if self._late_h else 0.0  # a late night, a late morning
        visits = 0.0 if rng.random() < p.quiet_nights else self.usual.night_visits
        self.h = replace(self.usual, wake_h=wake, night_visits=visits)
        out = super().day(d)
        if self.profile.exact_falls:
            out = self.out = [rec for rec in out if not self._moves_while_fallen(rec)]
        self._still_tag(self.midnight0 + d * DAY)
        self._pet(self.midnight0 + d * DAY)
        self._pir_by_itself(self.midnight0 + d * DAY, d)
        self._leak(self.midnight0 + d * DAY, d)
        if p.tag_every_s[1] and self.gps is not None:
            out[:] = self._seldom_fixes(out)
        return out

    def _seldom_fixes(self, out: list[Record]) -> list[Record]:
        """A tag that reports at most one fix every `tag_every` seconds: the others never sent."""
        if not self._tag_every:
            self._tag_every = self.xrng.uniform(*self.profile.tag_every_s)
        assert self.gps is not None
        keep: list[Record] = []
        for rec in sorted(out, key=lambda r: r[0]):
            if rec[1] == self.gps.device and rec[2] == "gps":
                if rec[0] - self._tag_sent < self._tag_every:
                    continue
                self._tag_sent = rec[0]
            keep.append(rec)
        return keep

    def _moves_while_fallen(self, rec: Record) -> bool:
        """A movement stamped inside a fall (a night's getting-up motion rendered after a fall
        from bed): the fallen resident cannot make it. An SOS press she still can."""
        t, device, channel, data = rec
        return (device is not None and channel == "event" and data != "sos"
                and any(start < t < end for start, end in self._fall_spans))

    # planning ---------------------------------------------------------------
    def _fixed_blocks(self, ds: float, wake: float) -> list[Seg]:
        p, rng = self.profile, self.frng
        blocks = []
        for b in super()._fixed_blocks(ds, wake):
            if b.kind == NAP and rng.random() < p.long_nap:
                b = Seg(b.start, b.start + rng.uniform(*p.nap_minutes) * MIN, NAP)
            blocks.append(b)
        if self.traits.bedridden:
            start = ds + self.xrng.uniform(9.0, 14.0) * HOUR
            end = start + self.xrng.uniform(3, 6) * HOUR
            blocks = [b for b in blocks if b.end <= start or b.start >= end]
            blocks.append(Seg(start, end, IN_BED))
        if rng.random() < p.long_outing:
            start = ds + rng.uniform(8.5, 13.0) * HOUR
            end = start + rng.uniform(*p.long_outing_hours) * HOUR
            blocks = [b for b in blocks if b.end <= start or b.start >= end or b.kind not in (OUT, NAP)]
            blocks = [b for b in blocks if not (b.start < end and b.end > start)]
            blocks.append(Seg(start, end, LONG_OUT))
        if rng.random() < p.visitor:
            start = ds + rng.uniform(9.5, 19.5) * HOUR
            if not any(b.start < start + 2 * HOUR and b.end > start for b in blocks):
                blocks.append(Seg(start, start + rng.uniform(20, 90) * MIN, VISIT))
        return blocks

    def _plan(self, ds: float) -> list[Seg]:
        return self._evening_habits(self._late_night(super()._plan(ds), ds), ds)

    def _evening_habits(self, segs: list[Seg], ds: float) -> list[Seg]:
        """Session 10's evening habits: an early night, a long TV evening, a child staying the night."""
        p, rng, t = self.profile, self.hab_rng, self.traits
        if not (p.tv_evening or p.early_bed or p.overnight_visitor):
            return segs
        last = segs[-1] if segs else None
        at_home_tonight = last is not None and last.kind == SLEEP and last.end == ds + DAY and last.start > ds
        tv = rng.random() < p.tv_evening
        tv_h, tv_from = rng.uniform(*p.tv_hours), rng.uniform(10, 30) * MIN
        stay = rng.random() < p.overnight_visitor
        if not at_home_tonight or last is None:
            return segs
        bed = last.start
        if t.early_hours:  # to bed early, unless out this evening
            early = max(bed - t.early_hours * HOUR, ds + 19.0 * HOUR)
            if not any(s.kind not in HOME_KINDS and s.end > early for s in segs[:-1]):
                bed = early
        if tv:  # after dinner, a long sitting: to bed when it ends if that is later
            dinner = next((s.end for s in reversed(segs[:-1]) if s.kind == MEAL and s.start > ds + 16 * HOUR), ds + 18.5 * HOUR)
            start = dinner + tv_from
            if start < bed - 30 * MIN and all(s.kind in HOME_KINDS or s.end <= start for s in segs[:-1]):
                end = min(start + tv_h * HOUR, ds + DAY - 30 * MIN)
                segs = [*(Seg(s.start, min(s.end, start), s.kind) for s in segs[:-1] if s.start < start),
                        Seg(start, end, QUIET), last]
                self._tv_at.add(start)
                bed = max(bed, end)
        if bed != last.start or tv:
            keep = [Seg(s.start, min(s.end, bed), s.kind) for s in segs[:-1] if s.start < bed]
            until = keep[-1].end if keep else last.start
            segs = [*keep, *(self._evening_blocks(until, bed) if until < bed else []), Seg(bed, ds + DAY, SLEEP)]
        if stay:
            self._overnight(bed, ds)
        return segs

    def _evening_blocks(self, t: float, end: float) -> list[Seg]:
        """At home, active and quiet by turns (as `_home_blocks`, from the habits' own stream)."""
        out, quiet = [], self.hab_rng.random() < 0.5
        while t < end:
            n = min(end, t + self.hab_rng.uniform(20, 70) * MIN)
            out.append(Seg(t, n, QUIET if quiet else ACTIVE))
            quiet, t = not quiet, n
        return out

    def _overnight(self, bed: float, ds: float) -> None:
        """A child stays the night: in by the door in the evening, moving about until late and at
        night (the guest room, the bathroom), out the next morning."""
        rng = self.hab_rng
        arrive = max(ds + rng.uniform(17.0, 19.5) * HOUR, bed - 3 * HOUR)
        leave = ds + DAY + rng.uniform(7.5, 10.0) * HOUR
        self._emit(arrive, self.door, "event", "door_open")
        self._emit(arrive + 10, self.door, "event", "door_close")
        t = arrive + rng.uniform(1, 10) * MIN
        late = bed + rng.uniform(0.5, 2.0) * HOUR
        while t < late:
            self.out.append((t, self.cat, "event", "motion"))
            t += 60 + rng.expovariate(1 / (6 * MIN))
        for _ in range(rng.randint(0, 2)):
            self.out.append((rng.uniform(late, ds + DAY + 6 * HOUR), self.cat, "event", "motion"))
        self._emit(leave, self.door, "event", "door_open")
        self._emit(leave + 10, self.door, "event", "door_close")
        self._truth(arrive, "fault", fault="overnight_visitor")

    def _late_night(self, segs: list[Seg], ds: float) -> list[Seg]:
        """A night owl or an irregular sleeper: awake past the usual bedtime, often past midnight."""
        if self._awake_past_midnight and segs and segs[0].kind == SLEEP and segs[0].start == ds:
            first = segs[0]
            up_until = min(ds + self._awake_past_midnight, first.end - 30 * MIN)
            if up_until > ds:
                segs = [*self._home_blocks(ds, up_until), Seg(up_until, first.end, SLEEP), *segs[1:]]
        self._awake_past_midnight, self._late_h = 0.0, self._lateness()
        last = segs[-1] if segs else None
        if last is None or last.kind != SLEEP or last.end != ds + DAY or last.start <= ds:
            self._late_h = 0.0  # no bedtime at home tonight (away overnight): nothing to shift
        if not self._late_h or last is None:
            return segs
        bed = last.start + self._late_h * HOUR
        if bed < ds + DAY:
            return [*segs[:-1], *self._home_blocks(last.start, bed), Seg(bed, ds + DAY, SLEEP)]
        self._awake_past_midnight = bed - (ds + DAY)
        return [*segs[:-1], *self._home_blocks(last.start, ds + DAY)]

    def _lateness(self) -> float:
        """Hours past the usual bedtime tonight."""
        t, rng = self.traits, self.xrng
        late = max(0.0, t.owl_hours + rng.gauss(0, 0.3)) if t.owl_hours else 0.0
        if t.irregular and rng.random() < IRREGULAR_LATE:
            late = max(late, rng.uniform(2, 6))
        return late

    def _render(self, seg: Seg) -> None:
        self._seg_kind = seg.kind
        if self.balcony and seg.kind == ACTIVE:
            self._balcony(seg)
        if seg.kind == QUIET and seg.start in self._tv_at:
            self._tv(seg)
            return
        if seg.kind == IN_BED:
            self._in_bed(seg)
            return
        if seg.kind == LONG_OUT:
            self._leave_home(seg.start)
            self._return_home(seg.end)
            if self.gps:
                self._truth(seg.start, "fault", fault="tag_left_home")
            return
        if seg.kind == VISIT:
            self._visit(seg)
            return
        if seg.kind == OUT and self.frng.random() < self.profile.empty_visit:
            self._empty_visit(seg)
        super()._render(seg)

    def _tv(self, seg: Seg) -> None:
        """A long still evening in the armchair: the PIR sees a movement only now and then."""
        rng, gap = self.hab_rng, self.traits.tv_gap_min * MIN
        t = seg.start + rng.uniform(0, 120)
        while t < seg.end:
            self._motion(t)
            t += 90 + rng.expovariate(1 / gap)

    def _in_bed(self, seg: Seg) -> None:
        """Awake in bed: a small movement the unit sees now and then."""
        self._motion(seg.start + self.xrng.uniform(0, 120))
        t = seg.start + self.xrng.uniform(20, 90) * MIN
        while t < seg.end:
            self._motion(t)
            t += self.xrng.uniform(20, 90) * MIN
        self._motion(seg.end + self.xrng.uniform(0, 120))  # up again

    def _motion(self, t: float) -> None:
        """A movement of the resident: the one home unit sees it only in its own field of view."""
        if self.traits.coverage >= 1.0 or self.xrng.random() < self.traits.coverage:
            if self.living is None:
                super()._motion(t)
            else:
                self.out.append((t, self._unit_at(t), "event", "motion"))

    def _unit_at(self, t: float) -> str | None:
        """The unit of the room she is in: the bedroom asleep or in bed, the living room sitting,
        eating, with visitors and by the front door; up and about, one then the other."""
        kind = self._seg_kind
        if kind in (SLEEP, NAP, IN_BED, ""):  # "": before any segment (last night's sleep)
            return self.cat
        if kind != ACTIVE:
            return self.living
        if t >= self._room_until:  # a new stay: in the other room
            self._room = self.living if self._room == self.cat else self.cat
            self._room_until = t + self.urng.expovariate(1 / (self.profile.room_stay_min * MIN))
        return self._room

    def _balcony(self, seg: Seg) -> None:
        """Out on the balcony and back (laundry, plants): its door opens and closes while she stays home."""
        rate = self._balcony_rate * (seg.end - seg.start) / (16 * HOUR)  # her waking day: about 16 h
        for _ in range(_poisson(self.urng, rate)):
            t = self.urng.uniform(seg.start, max(seg.start, seg.end - 25 * MIN))
            back = t + self.urng.uniform(2, 20) * MIN
            self._motion(t - self.urng.uniform(10, 60))
            self._emit(t, self.balcony, "event", "door_open")
            self._emit(back, self.balcony, "event", "door_close")
            self._motion(back + self.urng.uniform(10, 60))

    def _emit(self, t: float, device: str | None, channel: str, data: object) -> None:
        """A door sensor with a weak magnet misses some passages (the opening and its closing)."""
        if device is not None and device == self.door and self.traits.door_miss:
            if data == "door_open":
                self._door_missing = self.xrng.random() < self.traits.door_miss
                if self._door_missing:
                    self._truth(t, "fault", fault="door_missed")
            if self._door_missing:
                return
        super()._emit(t, device, channel, data)

    def _pet(self, ds: float) -> None:
        """A pet sets the PIR off at random, day and night, whether or not the resident can move."""
        rate = self.traits.pet_per_hour
        t = ds + (self.xrng.expovariate(rate / HOUR) if rate else DAY)
        while t < ds + DAY:
            self.out.append((t, self.cat, "event", "motion"))
            t += MIN + self.xrng.expovariate(rate / HOUR)

    def _pir_by_itself(self, ds: float, d: int) -> None:
        """A PIR that fires by itself in daylight (sun on the floor, a heater, a curtain in the draught):
        a few triggers an hour 08:00-18:00, whether anyone moves or not (an empty flat, a fallen resident)."""
        rate = self._pir_rate
        if not rate or self.cat is None:
            return
        if d == 0:
            self._truth(ds, "fault", fault="pir_false", value=f"{rate:.2f}/h")
        t = ds + 8 * HOUR + self.prng.expovariate(rate / HOUR)
        while t < ds + 18 * HOUR:
            self.out.append((t, self.cat, "event", "motion"))
            t += self.prng.expovariate(rate / HOUR)

    def _leak(self, ds: float, d: int) -> None:
        """A running cistern refills on its own every 10-30 min, day and night; the meter reports each."""
        if self.water is None or not 0 <= self.traits.leak_from_day <= d:
            return
        t = ds + self.xrng.uniform(10, 30) * MIN
        while t < ds + DAY:
            self.out.append((t, self.water, "event", "water_flow"))
            t += self.xrng.uniform(10, 30) * MIN

    def _visit(self, seg: Seg) -> None:
        """A visitor: the door, then people moving about until they leave."""
        self._emit(seg.start, self.door, "event", "door_open")
        self._emit(seg.start + 10, self.door, "event", "door_close")
        self._motions(seg, 120)
        self._emit(seg.end, self.door, "event", "door_open")
        self._emit(seg.end + 10, self.door, "event", "door_close")

    def _empty_visit(self, seg: Seg) -> None:
        """A child checks the empty flat while the resident is out: door, motion, door."""
        t = seg.start + (seg.end - seg.start) * self.frng.uniform(0.3, 0.6)
        self._emit(t, self.door, "event", "door_open")
        self._motion(t + 30)
        self._motion(t + 200)
        self._emit(t + 400, self.door, "event", "door_open")
        self._emit(t + 410, self.door, "event", "door_close")
        self._truth(t, "fault", fault="visitor_while_out")

    def _cut(self, segs: list[Seg], inc: Incident, t: float, ds: float) -> list[Seg]:
        if inc.kind == "fall" and self.profile.exact_falls:
            t = self._fall_time(segs, inc, t, ds)
        out = super()._cut(segs, inc, t, ds)
        if inc.kind == "fall" and any(s.kind == "fallen" and s.start >= ds for s in out):
            fall = next(s for s in out if s.kind == "fallen")
            self._fall_spans.append((fall.start, fall.end))
            self._motion(fall.start - self.frng.uniform(20, 90))  # the last movement: up, then down
        return out

    def _fall_time(self, segs: list[Seg], inc: Incident, t: float, ds: float) -> float:
        """When the fall happens: minutes after a return when drawn so (or when drawn inside an
        outing, a visit or a spell in bed), past the return's last movement (≤ 200 s after the door)."""
        after = self.xrng.uniform(4, 15) * MIN
        if (self.r.id, inc.at) in self.after_return:
            back = next((s.end for s in segs if s.kind in (OUT, LONG_OUT) and t < s.end < ds + DAY - HOUR), None)
            if back is not None:
                return back + after
        busy = next((s for s in segs if s.start <= t < s.end and s.kind not in HOME_KINDS), None)
        return t if busy is None else busy.end + after

    def _truth(self, t: float, kind: str, device: str | None = None, **extra: str) -> None:
        truth = {"kind": kind, "resident": self.r.id, **extra}
        if device:
            truth["device"] = device
        self.out.append((t, None, "truth", truth))

    # the tag ---------------------------------------------------------------
    def _takes_tag(self) -> bool:
        self._took = super()._takes_tag()
        return self._took

    def _outing(self, seg: Seg) -> None:
        self._took = False
        super()._outing(seg)
        if self._took:
            self.tag_away.append((seg.start, seg.end + 20 * MIN))
        elif self.gps:
            self._truth(seg.start, "fault", fault="tag_left_home")

    def _stay_away(self, seg: Seg) -> None:
        self._took = False
        super()._stay_away(seg)
        if self._took:
            self.tag_away.append((seg.start, seg.end + 30 * MIN))

    def _wander(self, seg: Seg) -> None:
        super()._wander(seg)
        if self.gps:
            self.tag_away.append((seg.start, seg.end + 20 * MIN))

    def _still_tag(self, ds: float) -> None:
        """The tag lying still at home (or carried about the flat): scatter all day long."""
        if self.gps is None:
            return
        rng, p = self.frng, self.profile
        t = ds + rng.uniform(0, p.still_fix_s)
        while t < ds + DAY:
            if not any(a <= t < b for a, b in self.tag_away):
                self._still_fix(t)
            t += p.still_fix_s * rng.uniform(0.7, 1.3)
        self.tag_away = [(a, b) for a, b in self.tag_away if b > ds + DAY]

    def _still_fix(self, t: float) -> None:
        rng, p = self.frng, self.profile
        if not self._jumped and rng.random() < p.indoor_jump:
            pos = polar(self.r.home, rng.uniform(0, 2 * math.pi), rng.uniform(*p.jump_m))
            acc, self._jumped = rng.uniform(15, 45), True
        else:
            acc = rng.uniform(*p.fix_acc)
            reach = min(p.scatter_m, acc * rng.uniform(0.3, p.fix_reach))
            bearing = rng.uniform(0, 2 * math.pi)
            pos = offset(self.r.home, reach * math.sin(bearing), reach * math.cos(bearing))
            self._jumped = False
        speed = 0.0
        if p.phantom_speed and self.xrng.random() < p.phantom_speed:
            # a weak-signal fix: the receiver's filter drifts and reports a speed it trusts
            acc, speed = self.xrng.uniform(10, 30), self.xrng.uniform(0.5, 2.0)
        self._fix(t, pos, acc, speed)


# ---------------------------------------------------------------- devices and the world


@dataclass
class _Faults:
    """What happens to one device: outages (Wi-Fi), replacement, clock."""

    outages: list[tuple[float, float]]  # (link lost, device back: it reconnects and says `online`)
    replaced_at: float | None = None
    replaced_until: float | None = None
    clock0: float = 0.0  # seconds the device clock is ahead at the start
    drift: float = 0.0  # seconds a day it gains
    behind: float = 0.0  # seconds it is set behind
    reset_at: float | None = None  # when a power cut restarts it at 2000-01-01
    buffered: list[tuple[float, str]] | None = None
    unflushed: frozenset[float] = frozenset()  # starts of the outages after which the device flushes nothing
    flush: bool = True  # the current outage ends with a flush
    loss: float = 0.0  # share of heartbeats, events and fixes the link drops
    duplicates: float = 0.0  # share of messages delivered twice
    lrng: random.Random | None = None  # the link's own stream (loss, duplicates)


class FieldSimulation(Simulation):
    """The field world of a `Profile`: iterate for `Message`s and `Truth`s in time order."""

    resident_base: type[FieldResidentSim] = FieldResidentSim  # simulators.habits plans the day its own way

    def __init__(self, profile: Profile, residents: int, days: float, seed: int, start: str | None = None) -> None:
        self.profile = profile
        community = field_community(profile, residents, seed)
        config = SimConfig(residents=residents, days=days, seed=seed, start=start, random_incidents=False)
        traits = draw_traits(profile, [r.id for r in community.residents], seed)
        self.resident_sim = type("ProfileResident", (self.resident_base,), {"profile": profile, "homes": traits})
        super().__init__(config, community)
        self.config.incidents = []  # drawn below, after the clock is known
        self.incidents = self._field_incidents()
        self.resident_sim.after_return = self._after_return()  # type: ignore[attr-defined]
        for rid, home in traits.items():
            self.truths += [(self.start, None, "truth", {"kind": "fault", "fault": fault, "resident": rid, "value": value})
                            for fault, value in home.faults().items()]
        self._arm_device_incidents()
        self.faults = self._faults()

    def _field_incidents(self) -> list[Incident]:
        p, days = self.profile, self.config.days
        rng = random.Random(f"field-incidents:{p.name}:{self.config.seed}")
        out: list[Incident] = []
        last_day = max(0, int(days) - 2)
        for r in self.community.residents:
            kinds = {d.kind for d in r.devices}
            if rng.random() < p.falls:
                day = rng.randint(min(p.falls_from_day, last_day), last_day)
                hour = rng.uniform(1.0, 4.5) if rng.random() < p.night_falls else rng.uniform(*p.fall_hours)
                out.append(Incident("fall", r.id, day * DAY + hour * HOUR, rng.uniform(10, 14) * HOUR))
            if DeviceKind.GPS_TAG in kinds and rng.random() < p.wanderings:
                out.append(Incident("wandering", r.id, rng.randint(0, last_day) * DAY + rng.uniform(9, 17) * HOUR))
            press = rng.random()  # one press at most: a replay has nobody to resolve a real SOS before the next
            if press < p.sos + p.sos_cancelled:
                kind = "sos" if press < p.sos else "sos_cancelled"
                out.append(Incident(kind, r.id, rng.randint(0, last_day) * DAY + rng.uniform(7, 21) * HOUR))
            dies = rng.random() < p.dead_cat and DeviceKind.DOOR_SENSOR in kinds
            if dies and not any(i.resident == r.id for i in out):  # a fall or a press on a dead unit is nobody's to see
                out.append(Incident("dead_device", r.id, rng.uniform(1, days - 1) * DAY, device="pingan_cat"))
        return out

    def _after_return(self) -> frozenset[tuple[str, float]]:
        """The day falls (06:00-22:00) that come minutes after the resident's return from an outing."""
        rng = random.Random(f"field-after-return:{self.profile.name}:{self.config.seed}")
        return frozenset((i.resident, i.at) for i in self.incidents
                         if i.kind == "fall" and 6 <= (i.at % DAY) / HOUR < 22 and rng.random() < self.profile.after_return)

    def _faults(self) -> dict[str, _Faults]:
        p, rng = self.profile, random.Random(f"field-faults:{self.profile.name}:{self.config.seed}")
        faults: dict[str, _Faults] = {}
        weeks = self.config.days / 7
        for r in self.community.residents:
            outages = []
            for _ in range(_poisson(rng, p.outages_per_week * weeks)):
                a = self.start + rng.uniform(0.2, self.config.days - 0.3) * DAY
                outages.append((a, a + rng.choice([rng.uniform(10, 40) * MIN, rng.uniform(40, 240) * MIN])))
                self.truths.append((a, None, "truth", {"kind": "fault", "fault": "wifi_outage", "resident": r.id,
                                                         "until": f"{outages[-1][1]:.0f}"}))
            base = tuple(d for d in r.devices if not _extra(d.id))  # the one-unit world's devices, drawn as before
            replaced = rng.choice(base) if rng.random() < p.replaced else None
            for d in r.devices:
                # a second unit's or a balcony door's faults from a stream of its own (session 16): the
                # other devices' draws, and so their outages and clocks, stay the one-unit world's
                drng = random.Random(f"field-units-faults:{p.name}:{self.config.seed}:{d.id}") if _extra(d.id) else rng
                # times in ms, as the stream: a reconnect at b must not round back into the outage
                f = _Faults([(round(a, 3), round(b + drng.uniform(5, 60), 3)) for a, b in outages] if d.kind in WIFI_KINDS else [])
                if p.drift_s or p.clock_off_s:
                    f.clock0, f.drift = drng.uniform(-p.clock_off_s, p.clock_off_s), drng.uniform(-p.drift_s, p.drift_s)
                    self.truths.append((self.start, None, "truth", {"kind": "fault", "fault": "clock_drift", "resident": r.id,
                                                                     "device": d.id, "offset_s": f"{f.clock0:.0f}",
                                                                     "drift_s_per_day": f"{f.drift:.0f}"}))
                if d.kind in WIFI_KINDS and (p.clock_behind or p.clock_reset):
                    self._bad_clock(drng, r.id, d.id, f)
                if d is replaced:
                    f.replaced_at = round(self.start + rng.uniform(1, self.config.days - 1) * DAY, 3)
                    f.replaced_until = round(f.replaced_at + rng.uniform(2, 6) * MIN, 3)
                    self.truths.append((f.replaced_at, None, "truth", {"kind": "fault", "fault": "device_replaced",
                                                                        "resident": r.id, "device": d.id}))
                faults[d.id] = f
            for kind, what in ((DeviceKind.DOOR_SENSOR, "no_door_sensor"), (DeviceKind.GPS_TAG, "no_tag")):
                if r.device(kind) is None:
                    self.truths.append((self.start, None, "truth", {"kind": "fault", "fault": what, "resident": r.id}))
        self._link_faults(faults)
        self.truths.sort(key=lambda rec: rec[0])
        return faults

    def _link_faults(self, faults: dict[str, _Faults]) -> None:
        """Long outages, outages without a flush, lossy links and duplicated deliveries: their own
        random stream, drawn only when the profile has them (the earlier worlds stay byte for byte)."""
        p = self.profile
        if not (p.lossy or p.long_outages_per_week or p.outage_flush < 1 or p.duplicates):
            return
        rng = random.Random(f"field-link:{p.name}:{self.config.seed}")
        weeks = self.config.days / 7
        for r in self.community.residents:
            loss = rng.uniform(*p.loss_rate) if rng.random() < p.lossy else 0.0
            if loss:
                self.truths.append((self.start, None, "truth", {"kind": "fault", "fault": "message_loss", "resident": r.id,
                                                                 "value": f"{loss:.3f}"}))
            longs = []
            for _ in range(_poisson(rng, p.long_outages_per_week * weeks)):
                a = self.start + rng.uniform(0.2, self.config.days - 0.3) * DAY
                longs.append((a, a + rng.uniform(*p.long_outage_h) * HOUR))
                self.truths.append((a, None, "truth", {"kind": "fault", "fault": "wifi_outage", "resident": r.id,
                                                         "until": f"{longs[-1][1]:.0f}"}))
            jitter = [rng.uniform(5, 60) for _ in longs]
            for d in r.devices:
                f = faults[d.id]
                if d.kind in WIFI_KINDS and longs:
                    f.outages = sorted(f.outages + [(round(a, 3), round(b + j, 3)) for (a, b), j in zip(longs, jitter, strict=True)])
                if d.kind in WIFI_KINDS and p.outage_flush < 1:
                    drng = random.Random(f"field-units-link:{p.name}:{self.config.seed}:{d.id}") if _extra(d.id) else rng
                    f.unflushed = frozenset(a for a, _ in f.outages if drng.random() >= p.outage_flush)
                    self.truths += [(a, None, "truth", {"kind": "fault", "fault": "outage_not_flushed", "resident": r.id,
                                                         "device": d.id}) for a in sorted(f.unflushed)]
                f.loss, f.duplicates = loss, p.duplicates
                if loss or p.duplicates:
                    f.lrng = random.Random(f"field-link:{p.name}:{self.config.seed}:{d.id}")

    # the stream -------------------------------------------------------------
    def _status_records(self) -> list[Record]:
        """`online` at the start, and whenever a device is back: after an outage (it reconnects
        to the broker, flushes what it kept) or a new unit replacing an old one."""
        out = super()._status_records()
        for did, f in self.faults.items():
            out += [(b, did, "status", "online") for _, b in f.outages]
            if f.replaced_until is not None:
                out.append((f.replaced_until, did, "status", "online"))
        return out

    def _emit(self, records: list[Record]) -> Iterator[SimMessage | Truth]:
        for t, did, channel, data in records:
            if t < self.start:
                continue
            t = max(round(t, 3), self._last_t)
            self._last_t = t
            if did is None:
                yield Truth(t, data)
                continue
            state = self.devices[did]
            if t >= state.dead_at:
                continue
            yield from self._device_record(state, self.faults[did], t, channel, data)

    def _device_record(self, state: _DeviceState, f: _Faults, t: float, channel: str, data: object) -> Iterator[SimMessage | Truth]:
        outage = next(((a, b) for a, b in f.outages if a <= t < b), None)
        if f.buffered is not None and outage is None:  # the link is back: flush what the device kept
            yield from self._flush(state, f, t)
        if outage is not None:
            if f.buffered is None:
                f.buffered, f.flush = [], outage[0] not in f.unflushed
                yield from self._outage_truth(state, outage, t)
            if channel == "event":
                f.buffered.append((t, str(data)))
            return
        if f.replaced_at is not None and f.replaced_until is not None and t >= f.replaced_at:
            if t < f.replaced_until:
                return  # the old unit is gone, the new one not yet up
            state.seq, f.replaced_at = 1, None  # a new unit: seq starts again (its first word is `online`)
        yield from self._message(state, f, t, channel, data)

    def _outage_truth(self, state: _DeviceState, outage: tuple[float, float], t: float) -> Iterator[Truth]:
        """The hub should report the device offline when the outage outlasts its heartbeats."""
        d = state.device
        last = getattr(state, "last_sent", self.start)
        if outage[1] > last + OFFLINE_AFTER_MISSED * d.heartbeat_s:  # the hub is due then, and hears it only at reconnect
            yield Truth(t, {"kind": "device_offline", "resident": d.resident, "device": d.id, "cause": "wifi_outage"})

    def _flush(self, state: _DeviceState, f: _Faults, t: float) -> Iterator[SimMessage]:
        assert f.buffered is not None
        for at, kind in f.buffered if f.flush else ():
            yield SimMessage(t, state.topics[Channel.EVENT], Event(kind, self._ts(f, at), state.next_seq()))
        f.buffered = None

    def _message(self, state: _DeviceState, f: _Faults, t: float, channel: str, data: object) -> Iterator[SimMessage | Truth]:
        if f.lrng is None:
            yield from self._send(state, f, t, channel, data)
            return
        if channel != "status" and f.loss and f.lrng.random() < f.loss:
            state.next_seq()  # sent, never delivered: the hub sees a gap in seq
            return
        for m in self._send(state, f, t, channel, data):
            yield m
            if isinstance(m, SimMessage) and f.duplicates and f.lrng.random() < f.duplicates:
                yield m  # QoS 1: the broker delivers it again (same seq, same ts)

    def _send(self, state: _DeviceState, f: _Faults, t: float, channel: str, data: object) -> Iterator[SimMessage | Truth]:
        state.last_sent = t  # type: ignore[attr-defined]
        ts = self._ts(f, t)
        if channel == "event":
            yield SimMessage(t, state.topics[Channel.EVENT], Event(str(data), ts, state.next_seq()))
        elif channel in ("heartbeat", "gps"):
            battery = state.battery(t)
            if battery <= 20 and not state.low:
                yield self._battery_truth(t, state)
            if channel == "heartbeat":
                rssi = state.device.rssi + int(state.rng.random() * 9) - 4
                yield SimMessage(t, state.topics[Channel.HEARTBEAT], Heartbeat(ts, state.next_seq(), battery, rssi, state.device.fw))
            else:
                lat, lon, acc, speed = cast(tuple[float, float, float, float | None], data)
                yield SimMessage(t, state.topics[Channel.GPS], Gps(lat, lon, ts, state.next_seq(), acc, speed, battery))
        else:
            yield SimMessage(t, state.topics[Channel.STATUS], Status(state="offline" if data == "offline" else "online"), True)

    def _bad_clock(self, rng: random.Random, resident: str, device: str, f: _Faults) -> None:
        """A clock set hours behind, or reset to 2000-01-01 by a power cut on some day."""
        p = self.profile
        if rng.random() < p.clock_behind:
            f.behind = rng.choice([round(rng.uniform(*p.clock_behind_h)) * HOUR, rng.uniform(*p.clock_behind_h) * HOUR])
            self.truths.append((self.start, None, "truth", {"kind": "fault", "fault": "clock_behind", "resident": resident,
                                                             "device": device, "behind_s": f"{f.behind:.0f}"}))
        elif rng.random() < p.clock_reset:
            f.reset_at = round(self.start + rng.uniform(0.5, self.config.days - 0.5) * DAY, 3)
            self.truths.append((f.reset_at, None, "truth", {"kind": "fault", "fault": "clock_reset", "resident": resident,
                                                             "device": device}))

    def _ts(self, f: _Faults, t: float) -> int:
        if f.reset_at is not None and t >= f.reset_at:
            return int(Y2000 + t - f.reset_at)
        return int(t + f.clock0 - f.behind + f.drift * (t - self.start) / DAY)


def with_overrides(base: Profile, pairs: list[str]) -> Profile:
    """`base` with `key=value` overrides (a tuple as `low:high`, a bool as true/false). The name stays
    the base's: the world draws from the same random streams, only the overridden knobs differ."""
    types = {f.name: f.type for f in fields(Profile)}
    changes: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or key not in types or key in ("name", "description"):
            raise ValueError(f"{pair!r}: expected key=value, key a Profile field of simulators/field.py")
        kind = str(types[key])
        if kind.startswith("tuple"):
            changes[key] = tuple(float(x) for x in value.split(":"))
        elif kind == "bool":
            changes[key] = value.strip().lower() in ("1", "true", "yes")
        elif kind == "int":
            changes[key] = int(value)
        elif kind.startswith("float | None"):
            changes[key] = None if value in ("", "null", "none") else float(value)
        else:
            changes[key] = float(value)
    return replace(base, **changes)  # type: ignore[arg-type]


def _poisson(rng: random.Random, mean: float) -> int:
    n, p, limit = 0, 1.0, math.exp(-mean)
    while True:
        p *= rng.random()
        if p <= limit:
            return n
        n += 1


__all__ = ["PROFILES", "FieldSimulation", "HomeTraits", "LatLon", "Profile", "draw_traits", "field_community", "with_overrides"]
