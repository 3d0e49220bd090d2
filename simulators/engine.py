"""The simulation engine: community + routines + incidents → one time-ordered message stream.

Deterministic for a seed: every random choice comes from `random.Random` streams seeded from
the seed and the resident or device id; no wall clock is read. The stream is produced a local
day at a time: each resident's routine for the day, each device's heartbeats, merged by a
stable sort and emitted up to the day's end (records that spill past midnight wait for the next
day). Only then are per-device `seq` numbers, batteries and payload structs (the `devices`
models) made, so a 30-day, 200-home run streams without holding more than a day in memory.

Times: `t` is the simulated receive time (epoch seconds, ms precision); the payload `ts` is the
device clock, whole seconds (`int(t)`). Devices send a retained `{"state": "online"}` at start.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from operator import itemgetter
from pathlib import Path
from typing import NamedTuple, Protocol

import msgspec

from devices.kinds import DeviceKind
from devices.payloads import Event, Gps, Heartbeat, Payload, Status, encode
from devices.topics import DEFAULT_ROOT, Channel, DeviceTopic
from simulators.community import DEFAULT_CENTRE, Community, Device, Resident, build_community
from simulators.geo import LatLon
from simulators.incidents import Incident, Scenario, random_incidents
from simulators.recording import RecordingWriter
from simulators.routines import DAY, HOUR, Record, ResidentSim

LOCAL_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")  # no DST in China
DEFAULT_START = "2025-11-26"
UINT32 = 2**32
_NULL_ID = b',"device_id":null}'


class Message(NamedTuple):
    t: float  # simulated receive time, epoch seconds
    topic: str
    payload: Payload  # a devices.payloads struct; `payload_bytes` encodes it
    retain: bool = False


class Truth(NamedTuple):
    t: float
    truth: dict[str, str]  # {"kind", "resident", "device"?}


@dataclass
class SimConfig:
    residents: int = 20
    days: float = 1.0
    seed: int = 1
    start: str | None = None  # local date "2025-11-26" or ISO datetime; default DEFAULT_START
    centre: LatLon = DEFAULT_CENTRE
    incidents: list[Incident] = field(default_factory=list)
    random_incidents: bool = True
    topic_root: str = DEFAULT_ROOT


def parse_start(start: str | None) -> float:
    """Epoch seconds of a local date (midnight, Asia/Shanghai) or an ISO datetime."""
    text = start or DEFAULT_START
    if len(text) == 10:
        d = date.fromisoformat(text)
        return datetime(d.year, d.month, d.day, tzinfo=LOCAL_TZ).timestamp()
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LOCAL_TZ)
    return moment.timestamp()


def local_midnight(t: float) -> float:
    moment = datetime.fromtimestamp(t, UTC).astimezone(LOCAL_TZ)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def payload_bytes(payload: Payload) -> bytes:
    """The payload as a device sends it: compact JSON, absent fields left out."""
    raw = encode(payload)
    if raw.endswith(_NULL_ID):
        raw = raw[: -len(_NULL_ID)] + b"}"
    if b":null" in raw:
        fields = msgspec.structs.asdict(payload)
        raw = msgspec.json.encode({k: v for k, v in fields.items() if v is not None})
    return raw


class _DeviceState:
    """Per-device counters and battery model during a run."""

    def __init__(self, device: Device, root: str, start: float, midnight0: float) -> None:
        self.device = device
        self.rng = random.Random(f"device:{device.id}")
        self.topics = {c: str(DeviceTopic(device.id, c, root)) for c in Channel}
        self.seq = self.rng.randrange(1, 5000)
        self.next_hb = start + self.rng.uniform(5, device.heartbeat_s)
        self.dead_at = math.inf
        self.low = False
        self.start = start
        self.charge_phase = midnight0 + 22 * HOUR - self.rng.randrange(max(device.charge_every_days, 1)) * DAY
        self.forced: tuple[float, float] | None = None  # battery incident: (level at start, %/s)

    def battery(self, t: float) -> int:
        d = self.device
        if self.forced is not None:
            level = self.forced[0] - self.forced[1] * (t - self.start)
        elif d.charge_every_days:
            period = d.charge_every_days * DAY
            level = 100 - d.drain_per_day * ((t - self.charge_phase) % period) / DAY
        else:
            level = d.battery0 - d.drain_per_day * (t - self.start) / DAY
        battery = int(min(100.0, max(3.0, level)) + 0.5)
        if battery > 30:
            self.low = False
        return battery

    def force_low_at(self, t: float) -> None:
        """Drain so that the battery reaches 20 % at t."""
        span = max(t - self.start, 1.0)
        level0 = 20 + min(25.0, max(13.0, 2.0 * span / HOUR)) * self.rng.uniform(0.85, 1.0)  # starts above 30 %
        self.forced = (level0, (level0 - 20) / span)

    def heartbeats(self, until: float) -> list[Record]:
        out: list[Record] = []
        did, period = self.device.id, self.device.heartbeat_s
        t = self.next_hb
        while t < until:
            out.append((t, did, "heartbeat", None))
            t += period + self.rng.uniform(-2, 2)
        self.next_hb = t
        return out

    def next_seq(self) -> int:
        seq = self.seq
        self.seq = (seq + 1) % UINT32
        return seq


class Simulation:
    """Iterate to get `Message`s and `Truth`s in time order."""

    resident_sim: type[ResidentSim] = ResidentSim  # simulators.field swaps in its residents

    def __init__(self, config: SimConfig, community: Community | None = None) -> None:
        self.config = config
        self.community = community or build_community(config.residents, config.seed, config.centre)
        self.start = parse_start(config.start)
        self.end = self.start + config.days * DAY
        self.midnight0 = local_midnight(self.start)
        self.incidents = self._incidents()
        self.devices = {
            d.id: _DeviceState(d, config.topic_root, self.start, self.midnight0) for d in self.community.devices
        }
        self.truths: list[Record] = []
        self._last_t = self.start
        self._arm_device_incidents()

    def _incidents(self) -> list[Incident]:
        incidents = list(self.config.incidents)
        if self.config.random_incidents:
            roster = [(r.id, tuple(d.kind for d in r.devices)) for r in self.community.residents]
            offset_days = (self.start - self.midnight0) / DAY
            drawn = random_incidents(roster, self.config.days, self.config.seed)
            incidents += [_shift(i, offset_days * DAY) for i in drawn]
        known = {r.id: r for r in self.community.residents}
        for inc in incidents:
            if inc.resident not in known:
                raise ValueError(f"incident {inc.kind} names resident {inc.resident!r}, not in the community")
            if inc.kind == "wandering" and known[inc.resident].device(DeviceKind.GPS_TAG) is None:
                raise ValueError(f"incident wandering: resident {inc.resident} has no gps_tag to show it")
        return incidents

    def _arm_device_incidents(self) -> None:
        for inc in self.incidents:
            if inc.kind not in ("dead_device", "battery"):
                continue
            resident = self.community.resident(inc.resident)
            device = _pick_device(resident, inc)
            state = self.devices[device.id]
            t = self.midnight0 + inc.at
            if inc.kind == "dead_device":
                state.dead_at = min(state.dead_at, t)
                self.truths.append((t, None, "truth", {"kind": "device_offline", "resident": resident.id, "device": device.id}))
            else:
                state.force_low_at(t)

    # ------------------------------------------------------------ stream

    def __iter__(self) -> Iterator[Message | Truth]:
        sims = [
            self.resident_sim(r, self.midnight0, self.config.seed, [i for i in self.incidents if i.resident == r.id])
            for r in self.community.residents
        ]
        pending: list[Record] = self._status_records() + self.truths
        days = math.ceil((self.end - self.midnight0) / DAY)
        for d in range(days):
            chunk_end = min(self.midnight0 + (d + 1) * DAY, self.end)
            for sim in sims:
                pending += sim.day(d)
            for state in self.devices.values():
                pending += state.heartbeats(chunk_end)
            pending.sort(key=itemgetter(0))
            cut = bisect_left(pending, chunk_end, key=itemgetter(0))
            yield from self._emit(pending[:cut])
            pending = pending[cut:]

    def _status_records(self) -> list[Record]:
        return [(self.start + state.rng.uniform(0, 5), did, "status", "online") for did, state in self.devices.items()]

    def _emit(self, records: list[Record]) -> Iterator[Message | Truth]:
        start, devices, event, heartbeat, gps = self.start, self.devices, Channel.EVENT, Channel.HEARTBEAT, Channel.GPS
        for t, did, channel, data in records:
            if t < start:
                continue
            t = max(round(t, 3), self._last_t)  # a record generated just before its day: never go back
            self._last_t = t
            if did is None:
                yield Truth(t, data)
                continue
            state = devices[did]
            if t >= state.dead_at:
                continue
            ts = int(t)
            if channel == "event":
                yield Message(t, state.topics[event], Event(data, ts, state.next_seq()))
            elif channel == "heartbeat":
                battery = state.battery(t)
                if battery <= 20 and not state.low:
                    yield self._battery_truth(t, state)
                rssi = state.device.rssi + int(state.rng.random() * 9) - 4
                yield Message(t, state.topics[heartbeat], Heartbeat(ts, state.next_seq(), battery, rssi, state.device.fw))
            elif channel == "gps":
                battery = state.battery(t)
                if battery <= 20 and not state.low:
                    yield self._battery_truth(t, state)
                lat, lon, acc, speed = data
                yield Message(t, state.topics[gps], Gps(lat, lon, ts, state.next_seq(), acc, speed, battery))
            else:
                yield Message(t, state.topics[Channel.STATUS], Status(state=data), True)

    def _battery_truth(self, t: float, state: _DeviceState) -> Truth:
        state.low = True
        d = state.device
        return Truth(t, {"kind": "low_battery", "resident": d.resident, "device": d.id})


def from_scenario(scenario: Scenario, **overrides: object) -> SimConfig:
    """A SimConfig from a scenario; keyword overrides that are not None win."""
    config = SimConfig(
        residents=scenario.residents,
        days=scenario.days,
        seed=scenario.seed,
        start=scenario.start,
        incidents=list(scenario.incidents),
        random_incidents=scenario.random_incidents,
    )
    for key, value in overrides.items():
        if value is not None:
            setattr(config, key, value)
    return config


def _shift(incident: Incident, by: float) -> Incident:
    return Incident(incident.kind, incident.resident, incident.at + by, incident.duration_s, incident.device)


def _pick_device(resident: Resident, incident: Incident) -> Device:
    wanted = incident.device
    if wanted is None:
        order = [DeviceKind.PINGAN_CAT] if incident.kind == "dead_device" else [DeviceKind.GPS_TAG, DeviceKind.DOOR_SENSOR]
        found = next((d for k in order if (d := resident.device(k))), None)
    else:
        found = resident.device(wanted) or next((d for d in resident.devices if d.id == wanted), None)
    if found is None:
        raise ValueError(f"incident {incident.kind}: resident {resident.id} has no device {wanted!r}")
    return found


class Stream(Protocol):
    """What `write_recording` needs of a world: its span and its messages and truths in time order
    (a `Simulation`, or a world of its own such as simulators.harbin)."""

    start: float
    end: float

    def __iter__(self) -> Iterator[Message | Truth]: ...


def write_recording(sim: Stream, path: Path, on_progress: Callable[[float], None] | None = None) -> int:
    """Write the whole simulation to a recording file, truth lines included; returns lines written."""
    last = sim.start
    topics: dict[str, bytes] = {}
    with RecordingWriter(path) as writer:
        for item in sim:
            if type(item) is Truth:
                writer.truth(item.t, item.truth)
                continue
            raw = payload_bytes(item.payload)  # type: ignore[union-attr]
            if raw.isascii() and b"\\" not in raw:  # our own payloads: a cheap, exact JSON escape
                topic = topics.get(item.topic) or topics.setdefault(item.topic, item.topic.encode())  # type: ignore[union-attr]
                writer.add_line(b'{"t":%r,"topic":"%s","payload":"%s"}\n' % (item.t, topic, raw.replace(b'"', b'\\"')))
            else:
                writer.message(item.t, item.topic, raw)  # type: ignore[union-attr]
            if on_progress is not None and item.t - last >= 3600:
                on_progress(item.t - last)
                last = item.t
        if on_progress is not None:
            on_progress(sim.end - last)
        return writer.count


