"""Why an alert opened, changed or ended, as data: a reason code and typed values.

The engine writes no sentences. Each rule builds an `Explanation` — a code of CATALOGUE and
its parameters — and the edges translate it: the board and the API (dashboards/reasons.py,
wording in dashboards/i18n), the SMS (alerts/texts.py, device words from `device_words`).
An alert carries the explanation it opened with (`Alert.reason`) and the notes added later
(`Alert.notes`: a door event with no motion after it, a cancel that came too late, what
ended it). Person-state changes carry one too.

Parameter values are plain JSON (stored in the database and the engine snapshot, compared in
tests): a device is `{"id": ..., "kind": ...}` so a text can name it by kind (and, when the
registry has one, by the resident's word for its place) instead of by id; times are epoch
seconds (rendered in the resident's local time at the edge); durations are seconds. Stored
rows from before the catalogue hold an English sentence: they read back as `legacy_text`.

docs/RULES.md "Reason codes" lists every code with its parameters and its zh / en text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from devices.kinds import DeviceKind
from devices.labels import device_label


class ParamType(StrEnum):
    DEVICE = "device"  # {"id": "cat-0001", "kind": "pingan_cat"}
    DEVICES = "devices"  # a list of devices
    TIME = "time"  # epoch seconds
    SECONDS = "seconds"  # a duration
    METRES = "metres"
    PERCENT = "percent"
    COUNT = "count"
    TEXT = "text"  # a name from the registry (a zone)
    CHOICE = "choice"  # one of Param.choices


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    type: ParamType
    optional: bool = False  # may be None
    choices: tuple[str, ...] = ()


class ReasonCode(StrEnum):
    """Stable codes; where the same cause is an action's `alerts.actions.Reason`, the same string."""

    # an alert opens
    SOS_PRESSED = "sos_pressed"
    FALL_DETECTED = "fall_detected"
    SMOKE_DETECTED = "smoke_detected"
    GAS_DETECTED = "gas_detected"
    SILENCE_EXCEEDED = "silence_exceeded"
    AWAY_TOO_LONG = "away_too_long"
    HEARTBEATS_MISSED = "heartbeats_missed"
    LAST_WILL = "last_will"
    LEFT_SAFE_ZONES = "left_safe_zones"
    LEFT_HOME_AT_NIGHT = "left_home_at_night"
    BATTERY_LOW = "battery_low"
    MANUAL_REPORT = "manual_report"  # recorded by hand: a neighbour phoned in
    # a note added to an open alert
    DELIVERED_LATE = "delivered_late"
    HOME_MOTION_WHILE_TAG_AWAY = "home_motion_while_tag_away"
    DOOR_ONLY_ACTIVITY = "door_only_activity"
    UNWATCHED = "unwatched"
    SOS_CANCEL_TOO_LATE = "sos_cancel_too_late"
    RETURNED_TO_ZONE = "returned_to_zone"
    # what ended it (the engine's own resolutions; a responder's is the alert's outcome)
    ACTIVITY_RESUMED = "activity_resumed"
    LATE_ACTIVITY = "late_activity"
    ABSENCE_RECORDED = "absence_recorded"
    DEVICE_HEARD = "device_heard"
    DEVICE_REMOVED = "device_removed"
    BATTERY_RECOVERED = "battery_recovered"
    SOS_CANCELLED = "sos_cancelled"
    # person state
    ACTIVITY = "activity"
    QUIET = "quiet"
    DEPARTED = "departed"
    TAG_LEFT_HOME = "tag_left_home"
    ABSENCE = "absence"
    NO_WORKING_SENSOR = "no_working_sensor"
    NO_MOTION_SENSOR = "no_motion_sensor"
    ALERT_OPEN = "alert_open"
    ALERT_CLOSED = "alert_closed"
    # a stored row from before the catalogue: its English sentence, shown as written
    LEGACY_TEXT = "legacy_text"


T = ParamType
_DEVICE = Param("device", T.DEVICE)
#: Why the allowed silence was what it was: fixed thresholds (by day, by day with a door sensor
#: seeing departures, the resident's own override, a nap window, the night allowance) or learned.
SILENCE_BASES = ("day", "day_door", "resident", "nap", "night", "learned", "learned_day")
#: What a removed rule stored (learned_day.own_night: the basis `own_night` with her usual bedtime
#: and wake-up): a stored alert still reads, as the night allowance it was judged on.
_RETIRED_BASES = {"own_night": "night"}
_RETIRED_PARAMS = {ReasonCode.SILENCE_EXCEEDED: ("usual_bed", "usual_wake")}

CATALOGUE: dict[ReasonCode, tuple[Param, ...]] = {
    ReasonCode.SOS_PRESSED: (_DEVICE,),
    ReasonCode.FALL_DETECTED: (_DEVICE,),
    ReasonCode.SMOKE_DETECTED: (_DEVICE,),
    ReasonCode.GAS_DETECTED: (_DEVICE,),
    ReasonCode.SILENCE_EXCEEDED: (
        Param("since", T.TIME),  # the silence began (last activity, start of monitoring, a return)
        Param("last_activity", T.TIME, optional=True),  # None: nothing heard since monitoring began
        Param("last_device", T.DEVICE, optional=True),  # what saw the last activity
        Param("devices", T.DEVICES),  # the online sensors the silence was judged on
        Param("threshold_s", T.SECONDS),  # the silence allowed from `since`
        Param("basis", T.CHOICE, choices=SILENCE_BASES),
        Param("usual_hour", T.COUNT, optional=True),  # learned: the first hour she is usually active in
        Param("usual_days", T.COUNT, optional=True),  # … on this many days
        Param("history_days", T.COUNT, optional=True),  # … of this many
    ),
    ReasonCode.AWAY_TOO_LONG: (
        Param("since", T.TIME), Param("by", T.CHOICE, choices=("door", "tag")), Param("limit_s", T.SECONDS),
    ),
    ReasonCode.HEARTBEATS_MISSED: (_DEVICE, Param("missed", T.COUNT), Param("last_seen", T.TIME, optional=True)),
    ReasonCode.LAST_WILL: (_DEVICE, Param("last_seen", T.TIME, optional=True)),
    ReasonCode.LEFT_SAFE_ZONES: (
        _DEVICE, Param("outside_m", T.METRES), Param("accuracy_m", T.METRES), Param("fixes", T.COUNT),
        Param("zone", T.TEXT, optional=True),  # the zone it was last inside
    ),
    ReasonCode.LEFT_HOME_AT_NIGHT: (Param("at", T.TIME),),  # the door opened, nothing moved at home after it
    ReasonCode.BATTERY_LOW: (_DEVICE, Param("level", T.PERCENT)),
    ReasonCode.DELIVERED_LATE: (_DEVICE, Param("late_s", T.SECONDS)),
    ReasonCode.HOME_MOTION_WHILE_TAG_AWAY: (Param("at", T.TIME),),
    ReasonCode.DOOR_ONLY_ACTIVITY: (_DEVICE, Param("at", T.TIME)),
    ReasonCode.UNWATCHED: (Param("for_s", T.SECONDS),),
    ReasonCode.SOS_CANCEL_TOO_LATE: (_DEVICE, Param("after_s", T.SECONDS, optional=True)),
    ReasonCode.RETURNED_TO_ZONE: (Param("zone", T.TEXT, optional=True),),  # None: back home
    ReasonCode.ACTIVITY_RESUMED: (_DEVICE, Param("at", T.TIME)),
    ReasonCode.LATE_ACTIVITY: (_DEVICE, Param("at", T.TIME)),
    ReasonCode.ABSENCE_RECORDED: (Param("until", T.TIME),),
    ReasonCode.DEVICE_HEARD: (_DEVICE,),
    ReasonCode.DEVICE_REMOVED: (Param("device", T.DEVICE, optional=True),),  # None: stored before it was named
    ReasonCode.BATTERY_RECOVERED: (_DEVICE, Param("level", T.PERCENT)),
    ReasonCode.SOS_CANCELLED: (_DEVICE,),
    ReasonCode.ACTIVITY: (),
    ReasonCode.QUIET: (),
    ReasonCode.DEPARTED: (),
    ReasonCode.TAG_LEFT_HOME: (),
    ReasonCode.ABSENCE: (Param("until", T.TIME),),
    ReasonCode.NO_WORKING_SENSOR: (),
    ReasonCode.NO_MOTION_SENSOR: (Param("devices", T.DEVICES),),  # the home's motion sensors, all offline
    ReasonCode.ALERT_OPEN: (),
    ReasonCode.ALERT_CLOSED: (),
    ReasonCode.MANUAL_REPORT: (Param("by", T.TEXT), Param("note", T.TEXT)),
    ReasonCode.LEGACY_TEXT: (Param("text", T.TEXT),),
}


@dataclass(frozen=True, slots=True)
class Explanation:
    """A reason code and its values; build with `explain`, which checks them against CATALOGUE."""

    code: ReasonCode
    params: Mapping[str, Any] = field(default_factory=dict)

    def __hash__(self) -> int:  # params is a dict: hash its canonical JSON
        return hash((self.code, json.dumps(self.params, sort_keys=True)))

    def __str__(self) -> str:
        """For logs and diagnostics: `silence_exceeded since=1764124800 devices=cat-0001,door-0001 …`
        (devices by id). People read the worded form (dashboards/reasons.py)."""
        return " ".join([self.code.value, *(f"{k}={_brief(v)}" for k, v in self.params.items() if v is not None)])

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code.value, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | str | None) -> Explanation:
        """A stored explanation; a bare string (a row or snapshot from before the catalogue) is legacy text.
        Values of a removed rule (_RETIRED_BASES, _RETIRED_PARAMS) read as what replaced them."""
        if data is None or isinstance(data, str):
            return legacy(data or "")
        code, params = ReasonCode(data["code"]), dict(data.get("params", {}))
        for name in _RETIRED_PARAMS.get(code, ()):
            params.pop(name, None)
        if params.get("basis") in _RETIRED_BASES:
            params["basis"] = _RETIRED_BASES[params["basis"]]
        return explain(code, **params)


def explain(code: ReasonCode, **params: Any) -> Explanation:
    """The explanation `code` with `params`; a missing, unknown or mistyped value is a ValueError
    naming the code and the parameter (a rule's bug, caught by the tests that run it)."""
    spec = CATALOGUE[code]
    unknown = set(params) - {p.name for p in spec}
    if unknown:
        raise ValueError(f"reason {code.value}: unknown parameter(s) {', '.join(sorted(unknown))}")
    values = {}
    for p in spec:
        value = params.get(p.name)
        if value is None and not p.optional:
            raise ValueError(f"reason {code.value}: parameter {p.name} is required")
        if value is not None and not _fits(p, value):
            raise ValueError(f"reason {code.value}: parameter {p.name} is not a {p.type.value}: {value!r}")
        values[p.name] = value
    return Explanation(code, values)


def _brief(value: Any) -> str:
    if isinstance(value, Mapping):
        return str(value.get("id"))
    if isinstance(value, list | tuple):
        return ",".join(_brief(v) for v in value) or "-"
    return f"{value:.0f}" if isinstance(value, float) else str(value)


def legacy(text: str) -> Explanation:
    return Explanation(ReasonCode.LEGACY_TEXT, {"text": text})


def device_ref(device_id: str, kind: DeviceKind | str) -> dict[str, str]:
    """A device as a parameter: its id (for links) and its kind (for words)."""
    return {"id": device_id, "kind": DeviceKind(kind).value}


#: The notes of a device_offline alert that tell of a device going offline, and of one back (alerts/rules/offline.py).
WENT_OFFLINE = (ReasonCode.HEARTBEATS_MISSED, ReasonCode.LAST_WILL)
CAME_BACK = (ReasonCode.DEVICE_HEARD, ReasonCode.DEVICE_REMOVED)


def still_offline(story: Iterable[Explanation]) -> list[dict[str, str]]:
    """The devices that a device_offline alert's reason and notes, read in order, leave offline:
    one alert tells of every device of a resident that went silent (a power cut, a Wi-Fi outage)."""
    offline: dict[str, dict[str, str]] = {}
    for why in story:
        device = why.params.get("device")
        if not isinstance(device, dict) or not _is_device(device):
            continue
        if why.code in WENT_OFFLINE:
            offline.setdefault(device["id"], device)
        elif why.code in CAME_BACK:
            offline.pop(device["id"], None)
    return list(offline.values())


def _fits(p: Param, value: Any) -> bool:
    if p.type is T.DEVICE:
        return _is_device(value)
    if p.type is T.DEVICES:
        return isinstance(value, list | tuple) and all(_is_device(v) for v in value)
    if p.type is T.TEXT:
        return isinstance(value, str)
    if p.type is T.CHOICE:
        return value in p.choices
    if p.type in (T.COUNT, T.PERCENT):
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, int | float) and not isinstance(value, bool)


_KINDS = frozenset(k.value for k in DeviceKind)


def _is_device(value: Any) -> bool:
    return isinstance(value, Mapping) and isinstance(value.get("id"), str) and value.get("kind") in _KINDS


# --- device words: how people name a device -------------------------------------------------

def device_words(kind: DeviceKind | str, lang: str, place: str | None = None) -> str:
    """A device as residents and responders say it: by kind ("平安猫", "door sensor"), with the
    resident's word for where it is when the registry has one ("前门门磁", "door sensor (front
    door)"); never the id. One table for every edge: devices/labels.py."""
    return device_label(str(kind), place, lang)
