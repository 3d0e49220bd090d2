"""Rule fixes found by the scenario tests and the detection report (docs/DETECTION.md)."""

from __future__ import annotations

from rules_kit import HOME, T0, Driver, Zone, with_zones

from alerts.actions import Severity

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
