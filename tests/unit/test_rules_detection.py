"""Rule fixes found by the scenario tests and the detection report (docs/DETECTION.md)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from rules_kit import HOME, T0, Device, Driver, Zone, registry, resident, with_zones

from alerts.actions import AlertResolved, Outcome, Severity
from devices import DeviceKind

M_PER_DEG = 111_195.0
CIRCLE = Zone("小区周边", center=HOME, radius_m=500)


def north(m: float) -> tuple[float, float]:
    return HOME.lat + m / M_PER_DEG, HOME.lon


def walk_out(drv: Driver, start: float) -> None:
    """Walk north at ~1 m/s, one fix a minute, out of the 500 m zone."""
    for k in range(1, 12):
        drv.fix("tag-0001", *north(60.0 * k), acc=10, at=start + 60 * k, speed=1.0)


def test_motion_before_walking_out_keeps_the_exit_high() -> None:
    drv = Driver.start(with_zones(CIRCLE))
    drv.event("cat-0001", "motion", T0 + 30)  # getting ready, then out of the door
    walk_out(drv, T0 + 60)
    [alert] = drv.opened("geofence_exit")
    assert alert.severity is Severity.HIGH


def test_motion_after_the_tag_left_home_lowers_the_exit() -> None:
    drv = Driver.start(with_zones(CIRCLE))
    for k in range(1, 5):
        drv.fix("tag-0001", *north(60.0 * k), acc=10, at=T0 + 60 * k, speed=1.0)  # 240 m: left home
    drv.event("cat-0001", "motion", T0 + 300)  # someone is at home while the tag walks on
    for k in range(5, 12):
        drv.fix("tag-0001", *north(60.0 * k), acc=10, at=T0 + 60 * k, speed=1.0)
    [alert] = drv.opened("geofence_exit")
    assert alert.severity is Severity.LOW


def test_motion_just_before_an_impossible_trip_lowers_the_exit() -> None:
    drv = Driver.start(with_zones(CIRCLE))
    drv.event("cat-0001", "motion", T0 + 30)
    drv.fix("tag-0001", *north(5000), acc=20, at=T0 + 120)  # 5 km in 90 s: not the resident
    drv.fix("tag-0001", *north(5000), acc=20, at=T0 + 180)
    [alert] = drv.opened("geofence_exit")
    assert alert.severity is Severity.LOW


def exit_then(drv: Driver, fixes_north_m: list[float], every_s: float = 60.0) -> None:
    """Open an exit (two fixes 900 m out), then one fix per `every_s` at the given distances."""
    drv.fix("tag-0001", *north(900), acc=10, at=drv.now + 60)
    drv.fix("tag-0001", *north(950), acc=10, at=drv.now + 60)
    for m in fixes_north_m:
        drv.fix("tag-0001", *north(m), acc=10, at=drv.now + every_s)


def test_a_stray_fix_inside_does_not_end_a_wandering() -> None:
    drv = Driver.start(with_zones(CIRCLE))
    exit_then(drv, [60, 1000, 1050])  # one fix at home (a cached position), then out
    assert len(drv.opened("geofence_exit")) == 1
    assert drv.of_type(AlertResolved) == []
    assert drv.open_alerts("geofence_exit")


def test_meandering_along_the_edge_is_one_alert() -> None:
    drv = Driver.start(with_zones(CIRCLE))
    exit_then(drv, [450, 420, 400, 420, 450, 900, 950])  # 5 min inside, then out again
    assert len(drv.opened("geofence_exit")) == 1 and drv.open_alerts("geofence_exit")


def test_return_confirmed_after_staying_inside() -> None:
    drv = Driver.start(with_zones(CIRCLE))
    exit_then(drv, [400, 350, 300, 320, 300, 310, 300], every_s=300)  # inside from the first, 30 min later confirmed
    [res] = drv.of_type(AlertResolved)
    assert res.outcome is Outcome.RETURNED and res.alert.resolved_at == drv.now


def test_return_home_is_confirmed_by_a_second_fix() -> None:
    drv = Driver.start(with_zones(CIRCLE))
    exit_then(drv, [60])  # one fix at home straight from outside: could be a cached position
    assert drv.of_type(AlertResolved) == []
    drv.fix("tag-0001", *north(40), acc=30, at=drv.now + 60)
    [res] = drv.of_type(AlertResolved)
    assert res.outcome is Outcome.RETURNED


def test_meandering_back_in_for_a_quarter_hour_is_still_one_alert() -> None:
    drv = Driver.start(with_zones(CIRCLE))
    exit_then(drv, [450, 420, 400, 380, 400, 420, 450, 900, 950], every_s=120)  # 14 min inside, out again
    assert len(drv.opened("geofence_exit")) == 1 and drv.open_alerts("geofence_exit")


def local(day: int, hour: int, minute: int = 0) -> float:
    return datetime(2025, 11, day, hour, minute, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()


def cat_only(at: float) -> Driver:
    reg = registry([resident()], [Device("cat-0001", DeviceKind.PINGAN_CAT, "r-0001", 3600)])
    return Driver.start(reg, at=at)


@pytest.mark.parametrize(
    ("last_motion", "due"),
    [
        ((26, 18, 30), (27, 0, 30)),  # 2.5 h before the night window: never went to bed — day rate, 6 h
        ((26, 20, 0), (27, 8, 0)),  # 1 h before: may be bedtime — the 12 h night allowance
        ((26, 21, 30), (27, 9, 30)),  # in the window: 12 h (the night ends by 07:00 + 3 h sleep-in at the latest)
    ],
)
def test_evening_silence_gets_the_night_allowance_only_near_bedtime(
    last_motion: tuple[int, int, int], due: tuple[int, int, int]
) -> None:
    start = local(*last_motion)
    drv = cat_only(start - 600)
    drv.event("cat-0001", "motion", start)
    drv.heartbeats_every("cat-0001", start + 1800, local(*due) - 60, every=1800)
    drv.advance_to(local(*due) - 1)
    assert drv.opened("inactivity") == []
    drv.advance_to(local(*due) + 1)
    [alert] = drv.opened("inactivity")
    assert alert.opened_at == pytest.approx(local(*due))
