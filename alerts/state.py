"""Per-device and per-resident state the rules keep between messages, and its JSON form.

Plain mutable records with slots (a million devices must fit in memory); the engine owns
them, the rules read and update them, `snapshot()`/`restore()` go through `to_dict`/`from_dict`.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from enum import Enum
from typing import TYPE_CHECKING, Any

from alerts.actions import DeviceHealth, PersonState


@dataclass(slots=True)
class TagState:
    """A GPS tag's geofence state (alerts/rules/geofence.py): kept only once a tag has a fix, so
    the million home units and meters of a city carry none of its 20 fields."""

    fix_lat: float | None = None
    fix_lon: float | None = None
    fix_at: float | None = None
    fix_moving: bool = False  # the newest fix reported a trusted speed (geofence._moving)
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
    moved_speed: bool = False  # it reported a speed (a second such fix anywhere confirms it)
    home_out_at: float | None = None  # first of consecutive fixes outside the home radius (not yet `tag_out`)
    last_zone: str | None = None  # the zone the tag was last seen inside
    tag_out: bool = False  # tag outside the home radius
    return_since: float | None = None  # device time of the first fix of a return not yet confirmed


_TAG_DEFAULTS = tuple((f.name, f.default) for f in fields(TagState))


@dataclass(slots=True)
class DeviceRare:
    """A device's fields that stay at their defaults until something goes wrong (offline, low
    battery, an SOS): kept only from their first set, so a healthy device carries none."""

    offline_since: float | None = None
    battery_low: bool = False  # hysteresis state: set at ≤ open_at, cleared above clear_at
    last_sos_at: float | None = None
    early_cancel_at: float | None = None  # an sos_cancel ruled before the SOS it cancels (alerts/rules/critical.py)
    clock_behind_s: float | None = None  # how far its clock runs behind (alerts/clocks.py)
    lag_low: float | None = None  # the lowest lag of a watch for a clock behind ...
    lag_low_at: float | None = None  # ... and the receive time it began
    leak_day: int | None = None  # a water meter: the local day of the last deep night with a flow ... (alerts/rules/leaks.py)
    leak_count: int = 0  # ... its flows so far ...
    leak_mask: int = 0  # ... and which of the recent nights reached `night_flows` (bit 0: that night)
    single_misses: int = 0  # silences of one lost heartbeat between two messages (alerts/rules/offline.py: a lossy link)
    offline_told: bool = False  # its going offline is told in the resident's device_offline alert (alerts/rules/offline.py)


_RARE_DEFAULTS = tuple((f.name, f.default) for f in fields(DeviceRare))


class DeviceState:
    """One device's state. The fields every device has are slots; a tag's geofence fields read
    through to a `TagState`, and the rarely set ones to a `DeviceRare`, each made on the first
    write that is not a default (memory: benchmarks/rules.py). `due` is the wanted time of the
    device's deadline (alerts/deadlines.py keeps it here, not in a table of its own; it is
    saved with the deadlines, not with the state)."""

    if not TYPE_CHECKING:  # hidden from mypy, which would refuse the side-record fields below
        __slots__ = ("battery", "due", "health", "last_heard", "rare", "tag", "watch_start")
    else:  # the TagState and DeviceRare fields, properties set up below the class
        offline_since: float | None
        battery_low: bool
        last_sos_at: float | None
        early_cancel_at: float | None
        clock_behind_s: float | None
        lag_low: float | None
        lag_low_at: float | None
        leak_day: int | None
        leak_count: int
        leak_mask: int
        single_misses: int
        offline_told: bool
        fix_lat: float | None
        fix_lon: float | None
        fix_at: float | None
        fix_moving: bool
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
        moved_speed: bool
        home_out_at: float | None
        last_zone: str | None
        tag_out: bool
        return_since: float | None

    def __init__(
        self,
        last_heard: float | None = None,  # hub receive time of the newest message (any channel counts)
        watch_start: float | None = None,  # when the engine began expecting this device to report
        health: DeviceHealth | None = None,  # None until first judged
        battery: int | None = None,
        **extra: Any,  # DeviceRare's and TagState's fields
    ) -> None:
        self.last_heard, self.watch_start, self.health, self.battery = last_heard, watch_start, health, battery
        self.tag: TagState | None = None
        self.rare: DeviceRare | None = None
        self.due: float | None = None
        for name, value in extra.items():
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
        """Only the fields away from their defaults: a heartbeat-only device is ~4 of 28. The
        fields of a side record not made yet all read as their defaults, so they are not read
        (each is a property: the engine's state save reads every changed unit); those of a
        record made are read on the record itself (`_compact_device`)."""
        return _DEVICE_COMPACT[self.tag is not None, self.rare is not None](self)

    @classmethod
    def from_compact(cls, data: dict[str, Any]) -> DeviceState:
        state = cls(**data)
        if state.health is not None:
            state.health = _HEALTH[state.health]
        return state


def _side_field(record: str, make: type, name: str, default: Any) -> property:
    """A field kept in the side record in slot `record`: reads give the default while there is
    none; the first write of another value makes it. The two accessors are compiled for their
    names (attribute reads, the default a constant): a rule reads such a field on every message
    (`battery_low` on every heartbeat), and a read through two `getattr`s cost 1.7× the
    instructions of this one (about 1,560 against 910, callgrind; docs/BENCHMARKS.md, session 8)."""
    source = (f"def get(self):\n"
              f"    side = self.{record}\n"
              f"    return {default!r} if side is None else side.{name}\n"
              f"def put(self, value):\n"
              f"    side = self.{record}\n"
              f"    if side is None:\n"
              f"        if value == {default!r}:\n"
              f"            return\n"
              f"        side = self.{record} = make()\n"
              f"    side.{name} = value\n")
    namespace: dict[str, Any] = {"make": make}
    exec(compile(source, f"<{record}.{name}>", "exec"), namespace)  # our own names, fixed at import
    return property(namespace["get"], namespace["put"])


for _name, _default in _TAG_DEFAULTS:
    setattr(DeviceState, _name, _side_field("tag", TagState, _name, _default))
for _name, _default in _RARE_DEFAULTS:
    setattr(DeviceState, _name, _side_field("rare", DeviceRare, _name, _default))

_CORE_DEFAULTS = (("last_heard", None), ("watch_start", None), ("health", None), ("offline_since", None),
                  ("battery", None), ("battery_low", False))
_DEVICE_DEFAULTS = (*_CORE_DEFAULTS, *_TAG_DEFAULTS, ("last_sos_at", None), ("early_cancel_at", None),
                    ("clock_behind_s", None), ("lag_low", None), ("lag_low_at", None),
                    ("leak_day", None), ("leak_count", 0), ("leak_mask", 0), ("single_misses", 0),
                    ("offline_told", False))  # the JSON order
# to_compact's fields, in the JSON order, by (has a TagState, has a DeviceRare): without the record, none of its fields
_COMPACT_FIELDS = {(tag, rare): tuple((name, default) for name, default in _DEVICE_DEFAULTS
                                      if (tag or name not in dict(_TAG_DEFAULTS)) and (rare or name not in dict(_RARE_DEFAULTS)))
                   for tag in (False, True) for rare in (False, True)}


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


def day_row(values: Iterable[int]) -> array[int]:
    """A kept day of QuietHistory: 4-byte integers in an array, not a list of int objects (with
    the hours, 27 numbers a day: 5.6 KB a resident over 28 days instead of 9.1 KB)."""
    return array("i", values)


@dataclass(slots=True)
class QuietHistory:
    """Per local day, in minutes: the longest daytime quiet spell at home, and how long after
    the night window's end the night's silence ended (alerts/rules/quiet.py)."""

    day: int | None = None  # local day ordinal being filled
    today: list[int] = field(default_factory=lambda: [0, 0])  # longest daytime spell, latest wake-up after the night[, per hour] (quiet.py)
    past: list[array[int]] = field(default_factory=list)  # [day, minutes per slot...] (`day_row`)
    beds: list[list[int]] = field(default_factory=list)  # [day, bedtime] in minutes after noon (quiet.record_bedtime)
    risings: list[list[int]] = field(default_factory=list)  # [day, minutes after the night window's end, signed] (quiet.record_rising)
    #: not saved: the last answer of inactivity.bedtime_of, (evening, night window, learned_day config, bedtime);
    #: quiet.record_bedtime clears it when it records a night
    bedtime: tuple[int, str, object, float | None] | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        # `tolist()`: the rows are arrays (`day_row`), and list(row) went through their iterator (twice the CPU)
        return {"day": self.day, "today": list(self.today), "past": [row.tolist() for row in self.past],
                "beds": [list(row) for row in self.beds],
                **({"risings": [list(row) for row in self.risings]} if self.risings else {})}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QuietHistory:
        beds = [list(row) for row in data.get("beds", [])]  # a saved "nights" (learned_day.own_night, removed) is not read
        risings = [list(row) for row in data.get("risings", [])]  # kept only with learned_day.early_risers
        return cls(data["day"], list(data["today"]), [day_row(row) for row in data["past"]], beds, risings)


@dataclass(slots=True)
class MotionBackground:
    """Home motion a pet may explain (alerts/rules/pets.py): the latest motion times (device
    time) and, per local night, the lone motions of its deep night."""

    recent: list[float] = field(default_factory=list)
    first_day: int | None = None  # local day of the first deep night watched whole (after the first motion)
    nights: list[list[int]] = field(default_factory=list)  # [day, lone motions 01:00-05:00]
    away: list[float] = field(default_factory=list)  # home-unit motion during the current door-confirmed absence
    absences: list[list[float]] = field(default_factory=list)  # recent absences: [motions, seconds, 1 through the door / 0 not / 2 her tag far (tag_absences)]
    hours: list[list[list[float]]] = field(default_factory=list)  # per absence of `absences` (rules.pets.by_hour): [local hour, motions, seconds]
    #: rules.pets.hindsight: a departure lone motion cancelled — [door opened, door seen again or 0, motions since...]
    maybe_out: list[float] = field(default_factory=list)
    #: rules.pets.by_hour, a row a local day: [day, lone motions in hour 0, ..., 23] as C ints
    #: (kept in every home with a home unit: 164 bytes a day against 256 as a list)
    lone_hours: list[array[int]] = field(default_factory=list)
    #: rules.pets.tag_absences: her tag's run of fixes beyond the home radius — [first, last, fixes, bout, motions since...]
    tag_out: list[float] = field(default_factory=list)
    #: rules.pets.wake_bound: the newest motion after a night's silence that made a bout against the background's
    #: estimate but not against its bound (her getting up, or the sensor's chance bout: the night's end waits a little)
    doubt_at: float | None = None
    #: rules.motion_gap: the home unit's shortest usual gap between two motions (its PIR's blind time after a
    #: trigger: 60 s here, 120-300 s on many battery PIRs; a low quantile of its gaps, alerts/rules/pets.py
    #: `note_gap`), and its newest motion (device time)
    gap: float | None = None
    gap_last: float | None = None
    #: rules.motion_gap_per_unit: the unit the gap above was learned on, and — from a second unit's first
    #: motion on — each unit's own [gap, newest motion, gaps seen] (None in a one-unit home: no cost there)
    gap_unit: str | None = None
    units: dict[str, list[float | None]] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"recent": list(self.recent), "first_day": self.first_day, "nights": [list(row) for row in self.nights],
                "away": list(self.away), "absences": [list(row) for row in self.absences],
                "hours": [[list(row) for row in rows] for rows in self.hours], "maybe_out": list(self.maybe_out),
                "lone_hours": [row.tolist() for row in self.lone_hours], "tag_out": list(self.tag_out),  # arrays: see QuietHistory
                "doubt_at": self.doubt_at, "gap": self.gap, "gap_last": self.gap_last, "gap_unit": self.gap_unit,
                "units": None if self.units is None else {k: list(v) for k, v in self.units.items()}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MotionBackground:
        return cls(list(data["recent"]), data["first_day"], [list(row) for row in data["nights"]],
                   list(data.get("away", [])), [list(row) for row in data.get("absences", [])],
                   [[list(row) for row in rows] for rows in data.get("hours", [])], list(data.get("maybe_out", [])),
                   [array("i", row) for row in data.get("lone_hours", [])], list(data.get("tag_out", [])),
                   data.get("doubt_at"), data.get("gap"), data.get("gap_last"), data.get("gap_unit"),
                   None if data.get("units") is None else {k: list(v) for k, v in data["units"].items()})


@dataclass(slots=True)
class Departure:
    """A resident's fields of a departure (alerts/rules/activity.py) and of being unwatched
    (alerts/rules/offline.py): made on the first of them set, so a resident who never left
    home with a door sensor or a tag carries none."""

    door_open_at: float | None = None  # pending departure: door opened, no motion seen since
    away_since: float | None = None
    away_by: str | None = None  # "door" or "tag"
    last_door_at: float | None = None  # newest door event (hub time when live): a return through the door
    stray_motion_at: float | None = None  # first home motion of a burst during a door-confirmed absence
    stray_motions: int | None = None  # home motion events in that burst (a return at RETURN_MOTIONS)
    tag_moved_at: float | None = None  # newest proven movement of her tag while away (device time; may predate this absence)
    tag_left_at: float | None = None  # when her tag last left the home radius (its first fix out): did it go with her?
    door_in_at: float | None = None  # door_left_open: a door opened while she was away, not closed since
    longest_away_s: float | None = None  # away_learned: her longest absence seen to end through the door, beyond away_max_hours
    longest_away_at: float | None = None  # ... and when it ended (it counts for learned_day.window_days)
    blind_from: float | None = None  # outage_not_silence: the last unwatched span began here ...
    blind_floor: float | None = None  # ... and the silence, while no activity of hers is newer than its start, counts from here
    door_ajar_at: float | None = None  # door_ajar_unseen, unshut_door_return: her door opened then and not closed since (hub time when live)
    night_exit_due: float | None = None  # geofence.night_exit: she went out at night; tell of it then if she is not back
    flush_until: float | None = None  # a device is flushing kept events: her silence is judged after this (hub time)
    back_at: float | None = None  # seen back through the door during a recorded absence: judged as at home until she leaves
    unwatched_since: float | None = None  # no activity sensor online since


@dataclass(slots=True)
class Learned:
    """What the rules learn from a resident's activity: the histories, each made when its rule
    first learns, and late_bedtime's run of activity and going to bed (None until then). Under
    the default config an active resident has one from the first activity (routine)."""

    active_since: float | None = None  # first activity after a pause of RUN_PAUSE_S: this run of activity began
    went_to_bed: float | None = None  # start of the night's first pause of RUN_PAUSE_S that may be sleep (a going to bed)
    bed_after_run: bool | None = None  # ... and a run of late_bedtime_run_minutes ended there (an evening up, not a trip)
    routine: RoutineHistory | None = None  # created on first activity when the learned routine is enabled
    quiet: QuietHistory | None = None  # created on the first daytime quiet spell when learned_day is enabled
    background: MotionBackground | None = None  # created on the first home motion when rules.pets is enabled


_DEPARTURE_FIELDS = tuple(f.name for f in fields(Departure))
_LEARNED_FIELDS = tuple(f.name for f in fields(Learned))


class ResidentState:
    """One resident's state. The fields every watched resident has are slots; the departure's
    and the learned histories read through to a `Departure` and a `Learned` made on the first
    write that is not None (memory: benchmarks/rules.py). `due` is the wanted time of the
    resident's deadline, as for `DeviceState`."""

    if not TYPE_CHECKING:  # hidden from mypy, which would refuse the side-record fields below
        __slots__ = ("departure", "due", "last_activity", "last_activity_device", "last_home_activity", "learned", "person",
                     "watch_start")
    else:  # the Departure and Learned fields, properties set up below the class
        active_since: float | None
        went_to_bed: float | None
        bed_after_run: bool | None
        door_open_at: float | None
        away_since: float | None
        away_by: str | None
        last_door_at: float | None
        stray_motion_at: float | None
        stray_motions: int | None
        tag_moved_at: float | None
        tag_left_at: float | None
        door_in_at: float | None
        longest_away_s: float | None
        longest_away_at: float | None
        blind_from: float | None
        blind_floor: float | None
        door_ajar_at: float | None
        night_exit_due: float | None
        flush_until: float | None
        back_at: float | None
        unwatched_since: float | None
        routine: RoutineHistory | None
        quiet: QuietHistory | None
        background: MotionBackground | None

    def __init__(
        self,
        watch_start: float | None = None,
        last_activity: float | None = None,  # device time of the newest activity; never moves backwards
        last_activity_device: str | None = None,  # the device that saw it (the alert's explanation names it)
        last_home_activity: float | None = None,  # newest activity seen by a home sensor (not door events)
        person: PersonState | None = None,
        **extra: Any,  # Departure's and Learned's fields
    ) -> None:
        self.watch_start, self.last_activity, self.last_activity_device = watch_start, last_activity, last_activity_device
        self.last_home_activity, self.person = last_home_activity, person
        self.departure: Departure | None = None
        self.learned: Learned | None = None
        self.due: float | None = None
        for name, value in extra.items():
            setattr(self, name, value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ResidentState) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"ResidentState({self.to_compact()!r})"

    def to_dict(self) -> dict[str, Any]:
        data = {name: _plain(getattr(self, name)) for name in _RESIDENT_FIELDS}
        data["routine"] = None if self.routine is None else self.routine.to_dict()
        data["quiet"] = None if self.quiet is None else self.quiet.to_dict()
        data["background"] = None if self.background is None else self.background.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ResidentState:
        values = {name: data.get(name) for name in _RESIDENT_FIELDS}
        routine = None if data.get("routine") is None else RoutineHistory.from_dict(data["routine"])
        quiet = None if data.get("quiet") is None else QuietHistory.from_dict(data["quiet"])
        background = None if data.get("background") is None else MotionBackground.from_dict(data["background"])
        state = cls(**values, routine=routine, quiet=quiet, background=background)
        if state.person is not None:
            state.person = PersonState(state.person)
        return state

    def to_compact(self) -> dict[str, Any]:
        """The fields that are set (every default is None); as DeviceState.to_compact, a side
        record's fields are read on the record, and not at all when it was never made."""
        return _RESIDENT_COMPACT[self.departure is not None, self.learned is not None](self)

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


for _name in _DEPARTURE_FIELDS:
    setattr(ResidentState, _name, _side_field("departure", Departure, _name, None))
for _name in _LEARNED_FIELDS:
    setattr(ResidentState, _name, _side_field("learned", Learned, _name, None))

# The order of the JSON forms (as when every field was a slot).
_RESIDENT_FIELDS = ("watch_start", "last_activity", "last_activity_device", "active_since", "went_to_bed", "bed_after_run",
                    "last_home_activity", *_DEPARTURE_FIELDS[:-1], "unwatched_since", "person")

_RESIDENT_FIELDS_HOME = tuple(name for name in _RESIDENT_FIELDS if name not in _DEPARTURE_FIELDS)  # no Departure yet

_HEALTH = {h.value: h for h in DeviceHealth}
_PERSON = {p.value: p for p in PersonState}


# The compact forms, compiled once per pair of side records present or not (as `_side_field`): the
# same dict, key for key and in the same order, as a comprehension of `getattr(self, name)` over
# the fields with `_plain` on every value, which the state save paid for on every changed unit
# (a getattr, a property call for a side record's field, a `_plain` call and its isinstance
# per field: 74,000 instructions a unit; docs/BENCHMARKS.md "Session 14: the rules' CPU per message").
# A value of a plain type is written as it is; any other as `_plain` writes it (an enum: its value).
_PLAIN_TYPES = frozenset({float, int, str, bool, type(None)})


def _compact_source(fields_: Iterable[tuple[str, str, str]]) -> str:
    """Lines that put (name, where, test) — `where` the expression holding the field, `test` the
    comparison that keeps it — into `data`."""
    return "".join(f"    value = {where}.{name}\n"
                   f"    if value {test}:\n"
                   f"        data[{name!r}] = value if type(value) in PLAIN else value._value_ if isinstance(value, Enum) else value\n" for name, where, test in fields_)


def _compact_device(tag: bool, rare: bool) -> Callable[[DeviceState], dict[str, Any]]:
    tags, rares = dict(_TAG_DEFAULTS), dict(_RARE_DEFAULTS)
    lines = [(name, "tag" if name in tags else "rare" if name in rares else "self", f"!= {default!r}")
             for name, default in _COMPACT_FIELDS[tag, rare]]
    source = ("def compact(self):\n    tag, rare = self.tag, self.rare\n    data = {}\n"
              + _compact_source(lines) + "    return data\n")
    namespace: dict[str, Any] = {"PLAIN": _PLAIN_TYPES, "Enum": Enum}
    exec(compile(source, f"<DeviceState.to_compact {tag} {rare}>", "exec"), namespace)  # our own names, fixed at import
    compact: Callable[[DeviceState], dict[str, Any]] = namespace["compact"]
    return compact


def _compact_resident(departure: bool, learned: bool) -> Callable[[ResidentState], dict[str, Any]]:
    lines = [(name, "departure" if name in _DEPARTURE_FIELDS else "learned" if name in _LEARNED_FIELDS else "self", "is not None")
             for name in (_RESIDENT_FIELDS if departure else _RESIDENT_FIELDS_HOME) if learned or name not in _LEARNED_FIELDS]
    histories = "".join(f"    value = learned.{name}\n"
                        f"    if value is not None:\n"
                        f"        data[{name!r}] = value.to_dict()\n" for name in ("routine", "quiet", "background"))
    source = ("def compact(self):\n    departure, learned = self.departure, self.learned\n    data = {}\n"
              + _compact_source(lines) + (histories if learned else "") + "    return data\n")
    namespace: dict[str, Any] = {"PLAIN": _PLAIN_TYPES, "Enum": Enum}
    exec(compile(source, f"<ResidentState.to_compact {departure} {learned}>", "exec"), namespace)  # our own names, fixed at import
    compact: Callable[[ResidentState], dict[str, Any]] = namespace["compact"]
    return compact


def _plain(value: Any) -> Any:
    # isinstance, not hasattr(value, "value"): on a float or an int that raised and cleared an
    # AttributeError, for every field the state save wrote
    return value._value_ if isinstance(value, Enum) else value  # `_value_`: what the `value` property returns, without it


_DEVICE_COMPACT = {(tag, rare): _compact_device(tag, rare) for tag in (False, True) for rare in (False, True)}
_RESIDENT_COMPACT = {(departure, learned): _compact_resident(departure, learned)
                     for departure in (False, True) for learned in (False, True)}
