"""The compact JSON forms of device and resident state skip the fields of side records not made
yet (they read as defaults): the same dicts, in the same key order, as reading every field."""

from __future__ import annotations

import random
from typing import Any

from alerts.actions import DeviceHealth, PersonState
from alerts.state import (
    _DEPARTURE_FIELDS,
    _DEVICE_DEFAULTS,
    _RARE_DEFAULTS,
    _RESIDENT_FIELDS,
    _RESIDENT_FIELDS_HOME,
    _TAG_DEFAULTS,
    DeviceState,
    MotionBackground,
    QuietHistory,
    ResidentState,
    RoutineHistory,
    _plain,
)


def every_field(state: Any, names: Any, skip: Any) -> list[tuple[str, Any]]:
    return [(name, _plain(value)) for name, default in names if (value := getattr(state, name)) != skip(default)]


def value_for(rng: random.Random, default: Any) -> Any:
    if isinstance(default, bool):
        return not default
    if isinstance(default, int):
        return default + rng.randrange(1, 5)
    if isinstance(default, float):
        return default + rng.uniform(1, 5)
    return rng.choice([1_765_000_000.5, 3, "zone-1"])


def test_device_compact_is_every_field_away_from_its_default() -> None:
    rng = random.Random(3)
    for _ in range(500):
        state = DeviceState(rng.choice([None, 1.5]), rng.choice([None, 2.5]), rng.choice([None, *DeviceHealth]),
                            rng.choice([None, 40]))
        for name, default in rng.sample([*_TAG_DEFAULTS, *_RARE_DEFAULTS], rng.randrange(0, 4)):
            setattr(state, name, value_for(rng, default))
        compact = state.to_compact()
        assert list(compact.items()) == every_field(state, _DEVICE_DEFAULTS, lambda d: d)
        assert DeviceState.from_compact(compact) == state


def test_resident_compact_is_every_field_that_is_set() -> None:
    rng = random.Random(4)
    names = [(name, None) for name in _RESIDENT_FIELDS]
    for _ in range(500):
        state = ResidentState(rng.choice([None, 1.5]), rng.choice([None, 2.5]), rng.choice([None, "d-1"]),
                              rng.choice([None, 3.5]), rng.choice([None, *PersonState]))
        for name in rng.sample([*_DEPARTURE_FIELDS, "active_since", "went_to_bed", "bed_after_run"], rng.randrange(0, 4)):
            setattr(state, name, 1_765_000_000.25)
        assert list(state.to_compact().items()) == every_field(state, names, lambda d: None)


def test_resident_compact_with_histories_is_every_field_then_the_histories() -> None:
    """The compiled compact forms (alerts/state.py `_compact_resident`): the fields that are set,
    then the histories made, each as its `to_dict`, in this order."""
    rng = random.Random(5)
    histories = {"routine": RoutineHistory, "quiet": QuietHistory, "background": MotionBackground}
    for _ in range(300):
        state = ResidentState(rng.choice([None, 1.5]), rng.choice([None, 2.5]), None, None, rng.choice([None, *PersonState]))
        for name in rng.sample([*_DEPARTURE_FIELDS, "active_since", "went_to_bed", "bed_after_run"], rng.randrange(0, 4)):
            setattr(state, name, rng.choice([1_765_000_000.25, "door", True]))
        made = rng.sample(sorted(histories), rng.randrange(0, 4))
        for name in made:
            setattr(state, name, histories[name]())
        names = _RESIDENT_FIELDS if state.departure is not None else _RESIDENT_FIELDS_HOME
        expected = [(name, _plain(value)) for name in names if (value := getattr(state, name)) is not None]
        expected += [(name, getattr(state, name).to_dict()) for name in histories if name in made]
        assert list(state.to_compact().items()) == expected
