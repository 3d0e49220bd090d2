"""A running cistern (alerts/rules/leaks.py), on the virtual clock: its water meter flows every
15 min day and night; a resident who falls must still be found, and one who flushes at night
keeps her water as activity."""

from __future__ import annotations

import json

import pytest
from rules_kit import T0, Device, Driver, registry, resident

from alerts.config import RulesConfig
from devices import DeviceKind

H = 3600.0
DAY = 24 * H
CAT = Device("cat-0001", DeviceKind.PINGAN_CAT, "r-0001", 300)
WATER = Device("water-0001", DeviceKind.WATER_METER, "r-0001", 3600)
# T0 is 10:00 local (Asia/Shanghai); day d's hour h is T0 + d * DAY + (h - 10) * H


def at(day: int, hour: float) -> float:
    return T0 + day * DAY + (hour - 10) * H


def home(leaks: bool, cistern: bool, night_flushes: int, fall_day: int, days: int = 6) -> Driver:
    """Days of motion every 20 min 07:00-22:00 with water at meals; `night_flushes` flushes around
    03:00; a running cistern (every 15 min) or not; from 10:00 on `fall_day`, motion stops."""
    rules = RulesConfig(leaks={"enabled": leaks})
    drv = Driver.start(registry([resident()], [CAT, WATER]), rules=rules, at=at(0, 0))
    events: list[tuple[float, str, str]] = []
    for d in range(days):
        for k in range(45):
            t = at(d, 7 + k / 3)
            if d < fall_day or t < at(fall_day, 10):
                events.append((t, "cat-0001", "motion"))
        for meal in (7.5, 12, 18):
            if d < fall_day or at(d, meal) < at(fall_day, 10):
                events.append((at(d, meal) + 60, "water-0001", "water_flow"))
        for f in range(night_flushes):
            if d < fall_day:
                events.append((at(d, 3 + f * 0.5), "cat-0001", "motion"))
                events.append((at(d, 3 + f * 0.5) + 60, "water-0001", "water_flow"))
        if cistern:
            events += [(at(d, 0) + 900 * k + 7, "water-0001", "water_flow") for k in range(96)]
        events += [(at(d, 0) + 300 * k + 3, "cat-0001", "heartbeat") for k in range(288)]
        events += [(at(d, 0) + 3600 * k + 5, "water-0001", "heartbeat") for k in range(24)]
    for t, device, kind in sorted(events):
        if kind == "heartbeat":
            drv.heartbeat(device, t)
        else:
            drv.event(device, kind, at=t)
    drv.advance_to(at(days, 0))
    return drv


@pytest.mark.parametrize(
    ("name", "leaks", "cistern", "night_flushes", "found"),
    [
        ("a running cistern: the fall on day 4 is found", True, True, 0, True),
        ("a running cistern, leaks off (before): every refill was activity", False, True, 0, False),
        ("no cistern, three flushes a night: found as always", True, False, 3, True),
        ("no cistern, leaks off: found as always", False, False, 3, True),
    ],
)
def test_a_running_cistern_does_not_hide_a_fall(name: str, leaks: bool, cistern: bool, night_flushes: int, found: bool) -> None:
    drv = home(leaks, cistern, night_flushes, fall_day=4)
    alerts = [a for a in drv.opened("inactivity") if at(4, 10) <= a.opened_at <= at(4, 22)]
    assert bool(alerts) is found, name


@pytest.mark.parametrize(("name", "cistern", "night_flushes", "leaking"),
                         [("a running cistern", True, 0, True), ("four flushes a night", False, 4, False)])
def test_only_a_meter_that_flows_through_the_night_leaks(name: str, cistern: bool, night_flushes: int, leaking: bool) -> None:
    drv = home(True, cistern, night_flushes, fall_day=6)
    flows = drv.engine._ctx.counters.get("leak_flows", 0)
    assert (flows > 0) is leaking, name
    assert drv.opened("inactivity") == [], name  # no false alert either way while she is well


def test_the_leak_is_forgotten_once_fixed_and_survives_a_restart() -> None:
    drv = home(True, True, 0, fall_day=6, days=4)
    saved = json.loads(json.dumps(drv.engine.snapshot()))
    again = Driver.start(drv.engine._ctx.index.snapshot, rules=drv.engine._ctx.rules, at=drv.now)
    again.engine.restore(saved)
    ds = again.engine._ctx.devices["water-0001"]
    assert ds.leak_mask == drv.engine._ctx.devices["water-0001"].leak_mask and ds.leak_mask.bit_count() >= 3
    for d in range(4, 9):  # fixed: only meals' water from day 4 on
        for meal in (7.5, 12, 18):
            again.event("water-0001", "water_flow", at=at(d, meal))
        again.event("water-0001", "water_flow", at=at(d, 3))  # one flush a night
    before = again.engine._ctx.counters.get("leak_flows", 0)
    again.event("water-0001", "water_flow", at=at(9, 8))
    assert again.engine._ctx.counters.get("leak_flows", 0) == before
