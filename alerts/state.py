"""Per-device and per-resident state the rules keep between messages, and its JSON form.

Plain mutable records with slots (a million devices must fit in memory); the engine owns
them, the rules read and update them, `snapshot()`/`restore()` go through `to_dict`/`from_dict`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from alerts.actions import DeviceHealth, PersonState


@dataclass(slots=True)
class TagState:
    """A GPS tag's geofence state (alerts/rules/geofence.py): kept only once a tag has a fix, so
    the million home units and meters of a city carry none of its 20 fields."""

    fix_lat: float | None = None
    fix_lon: float | None = None
    fix_at: float | None = None
    outside_fixes: int = 0  # consecutive deciding fixes wholly outside every active zone
    outside_since: float | None = None  # device time of the first of them (the confirmation window)
    out_lat: float | None = None  # the last of them: the next must be where one trip could take the tag
    out_lon: float | None = None
    out_acc: float = 0.0
    out_at: float | None = None
    # where a still tag is, for telling movement from scatter
    anchor_lat: float | None = None
    anchor_lon: float | None = None
    anchor_acc: float = 0.0
    anchor_n: int = 0  # fixes averaged into the anchor
    moved_lat: float | None = None  # a fix displaced from the anchor, waiting for a second one
    moved_lon: float | None = None
    moved_acc: float = 0.0
    moved_at: float | None = None
    home_out_at: float | None = None  # first of consecutive fixes outside the home radius (not yet `tag_out`)
    last_zone: str | None = None  # the zone the tag was last seen inside
    tag_out: bool = False  # tag outside the home radius
    return_since: float | None = None  # device time of the first fix of a return not yet confirmed


_TAG_DEFAULTS = tuple((f.name, f.default) for f in fields(TagState))


class DeviceState:
    """One device's state. The fields every device has are slots; a tag's geofence fields read
    through to a `TagState` made on the first write that is not a default (memory: ~100 bytes
    instead of ~270 per device; benchmarks/rules.py)."""

    if not TYPE_CHECKING:  # hidden from mypy, which would refuse the TagState fields below
        __slots__ = ("battery", "battery_low", "health", "last_heard", "last_sos_at", "offline_since", "tag", "watch_start")
    else:  # the TagState fields, properties set up below the class
        fix_lat: float | None
        fix_lon: float | None
        fix_at: float | None
        outside_fixes: int
        outside_since: float | None
        out_lat: float | None
        out_lon: float | None
        out_acc: float
        out_at: float | None
        anchor_lat: float | None
        anchor_lon: float | None
        anchor_acc: float
        anchor_n: int
        moved_lat: float | None
        moved_lon: float | None
        moved_acc: float
        moved_at: float | None
        home_out_at: float | None
        last_zone: str | None
        tag_out: bool
        return_since: float | None

    def __init__(
        self,
        last_heard: float | None = None,  # hub receive time of the newest message (any channel counts)
        watch_start: float | None = None,  # when the engine began expecting this device to report
        health: DeviceHealth | None = None,  # None until first judged
        offline_since: float | None = None,
        battery: int | None = None,
        battery_low: bool = False,  # hysteresis state: set at ≤ open_at, cleared above clear_at
        last_sos_at: float | None = None,
        **tag: Any,
    ) -> None:
        self.last_heard, self.watch_start, self.health, self.offline_since = last_heard, watch_start, health, offline_since
        self.battery, self.battery_low, self.last_sos_at = battery, battery_low, last_sos_at
        self.tag: TagState | None = None
        for name, value in tag.items():
            setattr(self, name, value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DeviceState) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"DeviceState({self.to_compact()!r})"

    def to_dict(self) -> dict[str, Any]:
        return {name: _plain(getattr(self, name)) for name, _ in _DEVICE_DEFAULTS}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeviceState:
        values: dict[str, Any] = {name: data.get(name, default) for name, default in _DEVICE_DEFAULTS}
        state = cls(**values)
        if state.health is not None:
            state.health = DeviceHealth(state.health)
        return state

    def to_compact(self) -> dict[str, Any]:
        """Only the fields away from their defaults: a heartbeat-only device is ~4 of 28."""
        return {name: _plain(value) for name, default in _DEVICE_DEFAULTS if (value := getattr(self, name)) != default}

    @classmethod
    def from_compact(cls, data: dict[str, Any]) -> DeviceState:
        state = cls(**data)
        if state.health is not None:
            state.health = _HEALTH[state.health]
        return state


def _tag_field(name: str, default: Any) -> property:
    def get(self: DeviceState) -> Any:
        tag = self.tag
        return default if tag is None else getattr(tag, name)

    def put(self: DeviceState, value: Any) -> None:
        tag = self.tag
        if tag is None:
            if value == default:
                return
            tag = self.tag = TagState()
        setattr(tag, name, value)

    return property(get, put)


for _name, _default in _TAG_DEFAULTS:
    setattr(DeviceState, _name, _tag_field(_name, _default))

_CORE_DEFAULTS = (("last_heard", None), ("watch_start", None), ("health", None), ("offline_since", None),
                  ("battery", None), ("battery_low", False))
_DEVICE_DEFAULTS = (*_CORE_DEFAULTS, *_TAG_DEFAULTS, ("last_sos_at", None))  # the order of the JSON snapshot


@dataclass(slots=True)
class RoutineHistory:
    """Compact learned routine: on how many local days the resident was active in each hour.

    24 counters plus the day being filled as a 24-bit mask: about 250 bytes per resident.
    """

    days: int = 0
    active_days: list[int] = field(default_factory=lambda: [0] * 24)
    day: int | None = None  # local day ordinal being filled
    mask: int = 0
    day_start: float = 0.0  # epoch seconds of that local midnight (cache for cheap hour lookups)

    def to_dict(self) -> dict[str, Any]:
        return {"days": self.days, "active_days": list(self.active_days), "day": self.day, "mask": self.mask, "day_start": self.day_start}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RoutineHistory:
        return cls(data["days"], list(data["active_days"]), data["day"], data["mask"], data["day_start"])


@dataclass(slots=True)
class QuietHistory:
    """Per local day, in minutes: the longest daytime quiet spell at home, and how long after
    the night window's end the night's silence ended (alerts/rules/quiet.py)."""

    day: int | None = None  # local day ordinal being filled
    today: list[int] = field(default_factory=lambda: [0, 0])  # longest daytime spell, latest wake-up after the night[, per hour] (quiet.py)
    past: list[list[int]] = field(default_factory=list)  # [day, minutes per slot...]
    nights: list[list[int]] = field(default_factory=list)  # [day, bedtime, wake-up] in minutes after noon (quiet.py)
    beds: list[list[int]] = field(default_factory=list)  # [day, bedtime] in minutes after noon (quiet.record_bedtime)

    def to_dict(self) -> dict[str, Any]:
        return {"day": self.day, "today": list(self.today), "past": [list(row) for row in self.past],
                "nights": [list(row) for row in self.nights], "beds": [list(row) for row in self.beds]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QuietHistory:
        nights = [list(row) for row in data.get("nights", [])]  # state saved before nights were kept has none
        beds = [list(row) for row in data.get("beds", [])]
        return cls(data["day"], list(data["today"]), [list(row) for row in data["past"]], nights, beds)


@dataclass(slots=True)
class MotionBackground:
    """Home motion a pet may explain (alerts/rules/pets.py): the latest motion times (device
    time) and, per local night, the lone motions of its deep night."""

    recent: list[float] = field(default_factory=list)
    first_day: int | None = None  # local day of the first deep night watched whole (after the first motion)
    nights: list[list[int]] = field(default_factory=list)  # [day, lone motions 01:00-05:00]
    away: list[float] = field(default_factory=list)  # home-unit motion during the current door-confirmed absence
    absences: list[list[float]] = field(default_factory=list)  # recent absences: [motions, seconds, 1 through the door / 0 not]

    def to_dict(self) -> dict[str, Any]:
        return {"recent": list(self.recent), "first_day": self.first_day, "nights": [list(row) for row in self.nights],
                "away": list(self.away), "absences": [list(row) for row in self.absences]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MotionBackground:
        return cls(list(data["recent"]), data["first_day"], [list(row) for row in data["nights"]],
                   list(data.get("away", [])), [list(row) for row in data.get("absences", [])])


@dataclass(slots=True)
class ResidentState:
    watch_start: float | None = None
    last_activity: float | None = None  # device time of the newest activity; never moves backwards
    last_activity_device: str | None = None  # the device that saw it (the alert's explanation names it)
    active_since: float | None = None  # first activity after a pause of RUN_PAUSE_S: this run of activity began
    went_to_bed: float | None = None  # start of the night's first pause of RUN_PAUSE_S that may be sleep (a going to bed)
    bed_after_run: bool | None = None  # ... and a run of late_bedtime_run_minutes ended there (an evening up, not a trip)
    last_home_activity: float | None = None  # newest activity seen by a home sensor (not door events)
    door_open_at: float | None = None  # pending departure: door opened, no motion seen since
    away_since: float | None = None
    away_by: str | None = None  # "door" or "tag"
    last_door_at: float | None = None  # newest door event (hub time when live): a return through the door
    stray_motion_at: float | None = None  # first home motion of a burst during a door-confirmed absence
    stray_motions: int | None = None  # home motion events in that burst (a return at RETURN_MOTIONS)
    unwatched_since: float | None = None  # no activity sensor online since
    person: PersonState | None = None
    routine: RoutineHistory | None = None  # created on first activity when the learned routine is enabled
    quiet: QuietHistory | None = None  # created on the first daytime quiet spell when learned_day is enabled
    background: MotionBackground | None = None  # created on the first home motion when rules.pets is enabled

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: _plain(getattr(self, f.name)) for f in fields(self) if f.name not in _HISTORIES}
        data["routine"] = None if self.routine is None else self.routine.to_dict()
        data["quiet"] = None if self.quiet is None else self.quiet.to_dict()
        data["background"] = None if self.background is None else self.background.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ResidentState:
        values = {f.name: data.get(f.name) for f in fields(cls) if f.name not in _HISTORIES}
        routine = None if data.get("routine") is None else RoutineHistory.from_dict(data["routine"])
        quiet = None if data.get("quiet") is None else QuietHistory.from_dict(data["quiet"])
        background = None if data.get("background") is None else MotionBackground.from_dict(data["background"])
        state = cls(**values, routine=routine, quiet=quiet, background=background)
        if state.person is not None:
            state.person = PersonState(state.person)
        return state

    def to_compact(self) -> dict[str, Any]:
        """The fields that are set (every default is None)."""
        data = {name: _plain(value) for name in _RESIDENT_FIELDS if (value := getattr(self, name)) is not None}
        if self.routine is not None:
            data["routine"] = self.routine.to_dict()
        if self.quiet is not None:
            data["quiet"] = self.quiet.to_dict()
        if self.background is not None:
            data["background"] = self.background.to_dict()
        return data

    @classmethod
    def from_compact(cls, data: dict[str, Any]) -> ResidentState:
        state = cls(**data)
        if state.person is not None:
            state.person = _PERSON[state.person]
        if state.routine is not None:
            state.routine = RoutineHistory.from_dict(state.routine)  # type: ignore[arg-type]
        if state.quiet is not None:
            state.quiet = QuietHistory.from_dict(state.quiet)  # type: ignore[arg-type]
        if state.background is not None:
            state.background = MotionBackground.from_dict(state.background)  # type: ignore[arg-type]
        return state


_HEALTH = {h.value: h for h in DeviceHealth}
_PERSON = {p.value: p for p in PersonState}
_HISTORIES = ("routine", "quiet", "background")
_RESIDENT_FIELDS = tuple(f.name for f in fields(ResidentState) if f.name not in _HISTORIES)


def _plain(value: Any) -> Any:
    return value.value if hasattr(value, "value") else value
