"""Convert public recordings of real people living alone into protocol v1 recordings.

    .venv/bin/python scripts/real_homes.py casas    DATA --home aruba     --out /tmp/aruba.jsonl
    .venv/bin/python scripts/real_homes.py kasteren DATA --home kasteren-a --door 12 --out /tmp/ka.jsonl
    .venv/bin/python scripts/real_homes.py ordonez  DATA --home ordonez-a --out /tmp/oa.jsonl
    .venv/bin/pingan replay --offline /tmp/aruba.jsonl --json | tail -1

Writes OUT (the recording) and OUT.registry.yaml (one community, one resident, her home unit
and her door sensor), so `pingan replay --offline OUT` finds the registry beside it. The data
is not ours to redistribute: nothing it produces is committed (docs/DETECTION.md "Real
recordings" says where the data come from and the figures they give).

Input formats
- `casas`: the WSU CASAS smart-home logs, one sensor event a line, whitespace separated:
  `2010-11-04 00:03:50.209589 M003 ON [activity begin|end]` (aruba, milan, cairo, tulum, ...)
  or the hh1xx/csh1xx layout `DATE TIME SENSOR ROOM ROOM VALUE Control4-TYPE`. Motion sensors
  (ids starting with M, or type Control4-Motion/MotionArea) turned ON are the home unit's
  motion; door sensors (D, Control4-Door) OPEN/CLOSE are the door sensor's events; every other
  sensor (temperature, light, items) is dropped: a Ping'an home has no such device.
- `kasteren`: the van Kasteren datasets (houses A, B, C: one person living alone each), one
  activation a line, `START<TAB>END<TAB>ID` with times like `25-Feb-2008 09:33:41`. The front
  door (`--door ID`) opens at START and closes at END; every other sensor (reed switches on
  cupboards and inner doors, pressure mats, flush and PIR sensors) is a movement of the
  resident, so both edges count as home-unit motion (a PIR's END is only the end of motion
  and is dropped: `--pir ID,...`). Where the door switch behaves like a latch (active for
  hours, overnight and through each absence: house C), `--door-latch` makes each edge one
  passage (door_open, door_close 5 s later). The MIT "Activity Recognition in the Home Setting"
  homes (Tapia 2003; houses D and E of the same collection) come in this layout too.
- `ordonez`: the UCI "ADLs Recognition Using Binary Sensors" homes (Ordóñez, houses A and B:
  one person living alone each), one activation a line, whitespace separated:
  `2011-11-28 02:27:59  2011-11-28 10:18:11  Bed  Pressure  Bedroom` (start, end, location,
  type, place). `Maindoor` is the front door (open at start, close at end). A PIR active from
  start to end saw movement all along: a home unit would report it every debounce interval,
  so it becomes motion every 60 s through the interval. Magnetic switches, pressure mats and
  electric appliances are a movement at both edges; a flush only at its start (the end is the
  cistern refilling).
- `hourly`: hourly motion counts of one home (a CSV with `timestamp` and `movement`, as the
  UCI "Single Elder Home Monitoring: Gas and Position" home is kept in aggregated form): n
  motions spread evenly over the hour. A home whose data hold no door event gets no door
  sensor (registry and heartbeats).

How a device would have sent it
- Motion goes through the home unit's 60 s debounce (firmware_stubs/pingan_cat_micropython:
  one event per `motion_debounce_s`), as `{"ts","seq","type":"motion"}` on cat-HOME/event.
- Door events are sent as they happen on door-HOME/event.
- Both devices send heartbeats (`{"ts","seq","battery","rssi","fw"}`) every `heartbeat_s`
  (300 s home unit, 900 s door sensor, as the registry says) from the first to the last
  event of the data; one seq counter per device across heartbeats and events.
- Times keep the resident's local wall clock (sleep at 23:00 stays 23:00) and weekday, moved
  by whole weeks to start on the first same weekday on or after `--start`, in the community's
  time zone (`--timezone`, default Asia/Shanghai). Receive time = device ts (no clock skew).

One unit a room (`--units rooms`): a big home has a Ping'an Cat in each room, so each room's
sensors become the motion of that room's unit `cat-HOME-ROOM` (its own 60 s debounce, seq and
heartbeats from the first to the last event of the data, as a PIR beats whether or not anybody
is in its room), all in the registry. The room is the place column of `ordonez`; `kasteren`
takes the source's sensor map (`--rooms sensorMapX-ids.txt`, `ID,NAME,CATEGORY`): the room of
the category for van Kasteren A-C (KASTEREN_ROOMS; an inner door's switch is in the room it
opens into), the prefix of the name for the MIT homes (`--room-from prefix`: `Kitchen-Drawer
A-houseD`). A home whose motion sensors cannot all be given a room is refused (exit 2).

Gaps: any silence of the whole data longer than `--gap-hours` (default 12) is printed with the
sensor that spoke last before it, so a real long absence (last event the front door) can be
told from a sensor-network outage (last event anything else) when reading the alerts.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simulators.recording import RecordingWriter  # noqa: E402

MOTION_DEBOUNCE_S = 60.0
CAT_HEARTBEAT_S = 300
DOOR_HEARTBEAT_S = 900
DEFAULT_START = "2026-10-05"
LATCH_PASSAGE = timedelta(seconds=5)  # --door-latch: the door stands open this long per passage
TOPIC = "pingan/v1/dev/{device}/{channel}"


class InputError(ValueError):
    """A line the chosen format cannot read; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class Reading:
    """One sensor event of the source data, on its own local wall clock."""

    at: datetime  # naive local time as logged
    sensor: str
    kind: str  # "motion", "door_open", "door_close"
    room: str = ""  # the room the sensor is in, where the data say it ("" when unknown)


# --- readers -----------------------------------------------------------------------------


def _local(text: str, where: str) -> datetime:
    for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%d-%b-%Y %H:%M:%S"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise InputError(f"{where}: cannot read the time {text!r}")


def read_casas(lines: Iterable[str], name: str = "<casas>") -> Iterator[Reading]:
    for number, line in enumerate(lines, start=1):
        parts = line.split()
        if not parts:
            continue
        where = f"{name}:{number}"
        if len(parts) < 4:
            raise InputError(f"{where}: expected DATE TIME SENSOR VALUE, got {line.strip()!r}")
        at = _local(f"{parts[0]} {parts[1]}", where)
        sensor = parts[2]
        typed = [x for x in parts[3:] if x.startswith(("Control4-", "Control4_"))]
        if typed:  # hh1xx/csh1xx: ... ROOM ROOM VALUE Control4-TYPE (columns vary between copies)
            kind = typed[0][len("Control4-"):]
            value = next((x.upper() for x in parts[3:] if x.upper() in ("ON", "OFF", "OPEN", "CLOSE")), "")
            is_motion, is_door = kind.startswith("Motion"), kind == "Door"
        else:
            value = parts[3].upper()
            is_motion, is_door = sensor.startswith("M"), sensor.startswith("D")
        if is_motion and value == "ON":
            yield Reading(at, sensor, "motion")
        elif is_door and value in ("OPEN", "CLOSE"):
            yield Reading(at, sensor, "door_open" if value == "OPEN" else "door_close")


def read_kasteren(lines: Iterable[str], door: set[str], pir: set[str], name: str = "<kasteren>",
                  door_latch: bool = False, rooms: dict[str, str] | None = None) -> Iterator[Reading]:
    for number, line in enumerate(lines, start=1):
        parts = [p.strip() for p in line.split("\t") if p.strip()]
        if not parts or not parts[0][:1].isdigit():
            continue  # header or blank
        where = f"{name}:{number}"
        if len(parts) < 3:
            raise InputError(f"{where}: expected START<TAB>END<TAB>ID, got {line.strip()!r}")
        start, end, sensor = _local(parts[0], where), _local(parts[1], where), parts[2]
        if sensor in door and door_latch:  # a latch: each edge is one passage through the door
            for edge in (start, end):
                yield Reading(edge, sensor, "door_open")
                yield Reading(edge + LATCH_PASSAGE, sensor, "door_close")
        elif sensor in door:
            yield Reading(start, sensor, "door_open")
            yield Reading(end, sensor, "door_close")
        else:
            room = _room_of(rooms, sensor, where)
            yield Reading(start, sensor, "motion", room)
            if sensor not in pir:
                yield Reading(end, sensor, "motion", room)


def _room_of(rooms: dict[str, str] | None, sensor: str, where: str) -> str:
    if rooms is None:
        return ""
    if sensor not in rooms:
        raise InputError(f"{where}: the sensor {sensor} has no room in the rooms map")
    return rooms[sensor]


# The van Kasteren sensor maps (`sensorMapX-ids.txt`: `ID,NAME,CATEGORY`) name no room, only a
# category; the room a category lies in. An inner door's switch is read in the room it opens
# into (the Hall-Bedroom door: the bedroom). `Outside` holds the front door and the hall.
KASTEREN_ROOMS = {"Kitchen": "kitchen", "KitchHeat": "kitchen", "KitchStor": "kitchen", "Toilet": "toilet",
                  "Bathroom": "bathroom", "BathroomDoor": "bathroom", "Sleep": "bedroom", "SleepDoor": "bedroom",
                  "Other": "living", "Outside": "hall"}
HALLS = {"foyer", "hallway"}


def read_rooms_map(lines: Iterable[str], by: str) -> dict[str, str]:
    """Sensor id -> room from a sensor map `ID,NAME,CATEGORY`. `by="category"` (van Kasteren
    A-C) reads KASTEREN_ROOMS; `by="prefix"` (the MIT homes: `Kitchen-Cabinet A-houseD`) takes
    the room the name begins with (Foyer and Hallway are the hall). A sensor without a room is
    left out: the reader refuses it only if it is a motion sensor (the front door needs none)."""
    rooms: dict[str, str] = {}
    for line in lines:
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 3 or not parts[0]:
            continue
        if by == "category":
            room = KASTEREN_ROOMS.get(parts[2], "")
        else:
            room = parts[1].split("-", 1)[0].strip().lower() if "-" in parts[1] else ""
            room = "hall" if room in HALLS else room
        if room:
            rooms[parts[0]] = _slug(room)
    return rooms


def _slug(text: str) -> str:
    return "-".join(x for x in "".join(c if c.isalnum() else " " for c in text.lower()).split())


ORDONEZ_DOOR = "Maindoor"


def read_ordonez(lines: Iterable[str], name: str = "<ordonez>") -> Iterator[Reading]:
    for number, line in enumerate(lines, start=1):
        parts = line.split()
        if not parts or not parts[0][:1].isdigit():
            continue  # header, rule or blank
        where = f"{name}:{number}"
        if len(parts) < 6:
            raise InputError(f"{where}: expected START END LOCATION TYPE [PLACE], got {line.strip()!r}")
        start, end = _local(f"{parts[0]} {parts[1]}", where), _local(f"{parts[2]} {parts[3]}", where)
        sensor, kind = parts[4], parts[5].lower()
        room = _slug(parts[6]) if len(parts) > 6 else ""  # the place: Bedroom, Kitchen, Bathroom, Living, Entrance
        if end < start:
            raise InputError(f"{where}: the end {end} is before the start {start}")
        if sensor == ORDONEZ_DOOR:
            yield Reading(start, sensor, "door_open")
            yield Reading(end, sensor, "door_close")
        elif kind == "pir":  # movement seen all along: one motion per debounce interval
            at = start
            while at <= end:
                yield Reading(at, sensor, "motion", room)
                at += timedelta(seconds=MOTION_DEBOUNCE_S)
        else:
            yield Reading(start, sensor, "motion", room)
            if kind != "flush":
                yield Reading(end, sensor, "motion", room)


def read_hourly(lines: Iterable[str], name: str = "<hourly>", column: str = "movement") -> Iterator[Reading]:
    """Hourly motion counts (CSV with `timestamp` and a count column): n motions spread evenly
    over the hour, at most one a debounce interval. When in the hour they came is not in the
    data: the even spread is the shortest silence the counts allow."""
    rows = csv.reader(lines)
    header = next(rows, [])
    if "timestamp" not in header or column not in header:
        raise InputError(f"{name}:1: expected a CSV header with 'timestamp' and {column!r}, got {header!r}")
    at_col, count_col = header.index("timestamp"), header.index(column)
    for number, row in enumerate(rows, start=2):
        where = f"{name}:{number}"
        try:
            hour = datetime.fromisoformat(row[at_col]).replace(tzinfo=None)  # the wall clock as written
            count = min(int(float(row[count_col])), int(3600 // MOTION_DEBOUNCE_S))
        except (IndexError, ValueError) as exc:
            raise InputError(f"{where}: cannot read the time or the count ({exc})") from None
        for k in range(max(count, 0)):
            yield Reading(hour + timedelta(seconds=(k + 0.5) * 3600 / count), column, "motion")


# --- the devices -------------------------------------------------------------------------


def week_shift(first: date, start: date) -> timedelta:
    """Whole weeks that move `first` to the first same weekday on or after `start`."""
    weeks = -(-(start - first).days // 7)
    return timedelta(weeks=weeks)


@dataclass
class _Device:
    id: str
    heartbeat_s: int
    fw: str
    seq: int = 0

    def payload(self, ts: float, **fields: object) -> str:
        self.seq += 1
        return json.dumps({"ts": round(ts, 3), "seq": self.seq, **fields}, separators=(",", ":"))


def has_door(readings: list[Reading]) -> bool:
    """A home whose data hold no front-door event had no door sensor (the hourly homes)."""
    return any(r.kind != "motion" for r in readings)


def unit_ids(readings: list[Reading], home: str, per_room: bool) -> dict[str, str]:
    """Room -> home unit id: one unit `cat-HOME` for all (room ""), or `cat-HOME-ROOM` a room."""
    if not per_room:
        return {"": f"cat-{home}"}
    rooms = sorted({r.room for r in readings if r.kind == "motion"})
    if "" in rooms:
        raise InputError("--units rooms: some motion has no room (this format or map gives none)")
    return {room: f"cat-{home}-{room}" for room in rooms}


def device_messages(readings: list[Reading], home: str, tz: ZoneInfo, start: date,
                    per_room: bool = False) -> Iterator[tuple[float, str, str]]:
    """(t, topic, payload) of the home unit(s) and the door sensor, in time order. With
    `per_room` each room has its own unit: its own debounce, seq and heartbeats (a PIR
    beats whether or not anybody is in its room)."""
    if not readings:
        return
    shift = week_shift(readings[0].at.date(), start)

    def epoch(local: datetime) -> float:
        return (local + shift).replace(tzinfo=tz).timestamp()

    cats = {room: _Device(dev, CAT_HEARTBEAT_S, "1.4.2") for room, dev in unit_ids(readings, home, per_room).items()}
    door = _Device(f"door-{home}", DOOR_HEARTBEAT_S, "2.0.1")
    events: list[tuple[float, _Device, str]] = []
    last_motion: dict[str, float] = {}
    for r in readings:
        t = epoch(r.at)
        if r.kind == "motion":
            room = r.room if per_room else ""
            if t - last_motion.get(room, -1e18) < MOTION_DEBOUNCE_S:
                continue
            last_motion[room] = t
            events.append((t, cats[room], "motion"))
        else:
            events.append((t, door, r.kind))
    first, last = events[0][0], events[-1][0]
    # phases: the first unit as before (7 s), the others a few seconds apart
    devices = [(cat, 7.0 + 17.0 * k) for k, cat in enumerate(cats.values())]
    if has_door(readings):
        devices.append((door, 11.0))
    beats = [(first + k * d.heartbeat_s + phase, d, "") for d, phase in devices
             for k in range(int((last - first) // d.heartbeat_s) + 1)]
    # heartbeat before an event at the same instant; stable order otherwise
    for t, dev, kind in sorted(events + beats, key=lambda x: (x[0], x[2] != "", x[1].id)):
        if kind:
            yield t, TOPIC.format(device=dev.id, channel="event"), dev.payload(t, type=kind)
        else:
            yield t, TOPIC.format(device=dev.id, channel="heartbeat"), dev.payload(t, battery=90, rssi=-60, fw=dev.fw)


def registry_yaml(home: str, timezone: str, source: str, door: bool = True, cats: list[str] | None = None) -> str:
    door_line = f"\n  - {{id: door-{home}, kind: door_sensor, resident: r-{home}, heartbeat_s: {DOOR_HEARTBEAT_S}}}" if door else ""
    cat_lines = "\n".join(f"  - {{id: {cat}, kind: pingan_cat, resident: r-{home}, heartbeat_s: {CAT_HEARTBEAT_S}}}"
                           for cat in (cats or [f"cat-{home}"]))
    return f"""\
# Registry for the real recording {home} ({source}), written by scripts/real_homes.py.
communities: [{{id: real, name: Real homes, timezone: {timezone}}}]
grids: [{{id: real-g1, community: real, name: Grid 1}}]
responders:
  - {{id: gw-1, name: Grid worker, phone: "+8613800000001", role: grid_worker, grids: [real-g1]}}
residents:
  - id: r-{home}
    name: {home}
    grid: real-g1
    address: {home}
    home: {{lat: 45.7512, lon: 126.6421}}
devices:
{cat_lines}{door_line}
"""


def gaps(readings: list[Reading], hours: float) -> list[tuple[datetime, datetime, Reading]]:
    """Silences of all sensors longer than `hours`: (from, to, the reading before)."""
    out = []
    for before, after in pairwise(readings):
        if (after.at - before.at).total_seconds() > hours * 3600:
            out.append((before.at, after.at, before))
    return out


# --- command line ------------------------------------------------------------------------


def convert(readings: list[Reading], home: str, out: Path, timezone: str, start: date, source: str,
            per_room: bool = False) -> int:
    tz = ZoneInfo(timezone)
    cats = list(unit_ids(readings, home, per_room).values())  # before writing: a home without rooms fails here
    out.parent.mkdir(parents=True, exist_ok=True)
    with RecordingWriter(out) as writer:
        for t, topic, payload in device_messages(readings, home, tz, start, per_room):
            writer.message(t, topic, payload.encode("utf-8"))
        count = writer.count
    registry = registry_yaml(home, timezone, source, has_door(readings), cats)
    out.with_name(out.name + ".registry.yaml").write_text(registry, encoding="utf-8")
    return count


def _ids(text: str) -> set[str]:
    return {x.strip() for x in text.split(",") if x.strip()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("format", choices=("casas", "kasteren", "ordonez", "hourly"))
    ap.add_argument("data", type=Path, help="the source data file")
    ap.add_argument("--home", required=True, help="short name of the home: ids become r-HOME, cat-HOME, door-HOME")
    ap.add_argument("--out", type=Path, required=True, help="recording to write (.jsonl or .jsonl.gz)")
    ap.add_argument("--timezone", default="Asia/Shanghai", help="the community's IANA time zone")
    ap.add_argument("--start", default=DEFAULT_START, help="move the data by whole weeks to start on or after this date")
    ap.add_argument("--door", default="", help="kasteren: id(s) of the front door sensor")
    ap.add_argument("--door-latch", action="store_true",
                    help="kasteren: the door switch is a latch (active for hours: overnight, while out); each edge is a passage")
    ap.add_argument("--pir", default="", help="kasteren: ids of PIR sensors (their END is not a movement)")
    ap.add_argument("--units", choices=("one", "rooms"), default="one",
                    help="one home unit for every sensor, or one a room (ordonez: its place column; kasteren: --rooms)")
    ap.add_argument("--rooms", type=Path, help="kasteren: the sensor map `ID,NAME,CATEGORY` (sensorMapX-ids.txt)")
    ap.add_argument("--room-from", choices=("category", "prefix"), default="category",
                    help="kasteren --rooms: the room from the category (van Kasteren A-C) or the name's prefix (MIT)")
    ap.add_argument("--gap-hours", type=float, default=12.0, help="report silences of the whole data longer than this")
    args = ap.parse_args(argv)
    try:
        with args.data.open(encoding="utf-8", errors="replace") as fh:
            if args.format == "casas":
                readings = list(read_casas(fh, str(args.data)))
            elif args.format == "ordonez":
                readings = list(read_ordonez(fh, str(args.data)))
            elif args.format == "hourly":
                readings = list(read_hourly(fh, str(args.data)))
            else:
                rooms = None
                if args.units == "rooms" and args.rooms is not None:
                    with args.rooms.open(encoding="utf-8", errors="replace") as mf:
                        rooms = read_rooms_map(mf, args.room_from)
                readings = list(read_kasteren(fh, _ids(args.door), _ids(args.pir), str(args.data), args.door_latch, rooms))
        start = date.fromisoformat(args.start)
        ZoneInfo(args.timezone)
    except (OSError, InputError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    readings.sort(key=lambda r: r.at)
    if not readings:
        print(f"error: {args.data}: no motion or door events", file=sys.stderr)
        return 2
    try:
        lines = convert(readings, args.home, args.out, args.timezone, start, f"{args.format}:{args.data.name}",
                        args.units == "rooms")
    except InputError as exc:
        print(f"error: {args.home}: {exc}", file=sys.stderr)
        return 2
    days = (readings[-1].at - readings[0].at).total_seconds() / 86400
    shift = week_shift(readings[0].at.date(), start)
    print(f"{args.home}: {len(readings)} readings, {days:.1f} days from {readings[0].at:%Y-%m-%d} "
          f"(moved to {readings[0].at + shift:%Y-%m-%d %a}); wrote {lines} lines to {args.out}")
    for since, until, before in gaps(readings, args.gap_hours):
        print(f"  gap {(until - since).total_seconds() / 3600:.1f} h from {since + shift:%Y-%m-%d %H:%M} "
              f"(last: {before.sensor} {before.kind})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
