"""Inactivity: day/night thresholds in local time, night window across midnight, other time zones,
departures and away_max_hours, absence calendar, late (buffered) activity, clearing on activity."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from rules_kit import Absence, Device, Driver, registry, resident

from alerts.actions import AlertResolved, Outcome, PersonState, PersonStateChanged, Reason
from alerts.reasons import ReasonCode, explain
from devices import DeviceKind

QUIET_HB = 86400 * 30  # heartbeat interval long enough that offline never interferes


def local(tz: str, day: int, hour: int, minute: int = 0) -> float:
    return datetime(2025, 11, day, hour, minute, tzinfo=ZoneInfo(tz)).timestamp()


def cat_only(tz: str = "Asia/Shanghai", at: float | None = None) -> Driver:
    reg = registry([resident(tz=tz)], [Device("cat-0001", DeviceKind.PINGAN_CAT, "r-0001", QUIET_HB)])
    return Driver.start(reg, at=local(tz, 26, 8) if at is None else at)


@pytest.mark.parametrize(
    ("tz", "last_motion", "due"),
    [
        ("Asia/Shanghai", (26, 10, 0), (26, 16, 0)),  # day: 6 h
        ("Asia/Shanghai", (26, 20, 0), (27, 8, 0)),  # bedtime: the 12 h night allowance
        ("Asia/Shanghai", (26, 23, 0), (27, 10, 0)),  # asleep at most until 07:00 + 3 h sleep-in, across midnight
        ("Asia/Shanghai", (27, 2, 0), (27, 10, 0)),  # back to bed after a bathroom visit: the same end of the night
        ("America/New_York", (26, 20, 0), (27, 8, 0)),  # another community's time zone
        ("Europe/Berlin", (26, 23, 0), (27, 10, 0)),
    ],
)
def test_silence_due_in_local_time(tz: str, last_motion: tuple[int, int, int], due: tuple[int, int, int]) -> None:
    start = local(tz, *last_motion)
    drv = cat_only(tz, at=start - 3600)
    drv.event("cat-0001", "motion", start)
    expected = local(tz, *due)
    drv.advance_to(expected - 1)
    assert drv.opened("inactivity") == []
    drv.advance_to(expected + 1)
    [alert] = drv.opened("inactivity")
    assert alert.opened_at == pytest.approx(expected)
    assert alert.triggered_at == start
    why = alert.reason  # the silence as data: since when, what saw it last, on what it was judged, how long allowed
    assert why.code is ReasonCode.SILENCE_EXCEEDED
    assert (why.params["since"], why.params["last_activity"], why.params["last_device"]["id"]) == (start, start, "cat-0001")
    assert [d["id"] for d in why.params["devices"]] == ["cat-0001"]
    assert why.params["threshold_s"] == round(expected - start)
    assert why.params["basis"] == ("day" if last_motion[1] == 10 else "night")


def test_any_activity_resolves_as_cleared() -> None:
    drv = cat_only()
    t = local("Asia/Shanghai", 26, 9)
    drv.event("cat-0001", "motion", t)
    drv.advance_to(t + 7 * 3600)
    [alert] = drv.open_alerts("inactivity")
    drv.event("cat-0001", "water_flow" if False else "door_close", t + 7 * 3600 + 60)
    [res] = drv.of_type(AlertResolved)
    assert res.alert.id == alert.id and res.outcome is Outcome.CLEARED and res.reason is Reason.ACTIVITY_RESUMED
    assert drv.open_alerts() == []


def test_tamper_is_not_activity() -> None:
    drv = cat_only()
    t = local("Asia/Shanghai", 26, 9)
    drv.event("cat-0001", "motion", t)
    drv.event("cat-0001", "tamper", t + 3 * 3600)
    drv.advance_to(t + 6 * 3600 + 1)
    assert len(drv.opened("inactivity")) == 1


def test_unknown_event_type_counted_not_fatal() -> None:
    drv = cat_only()
    drv.event("cat-0001", "teleport")
    assert drv.engine.counters["unknown_event_types"] == 1


def test_door_departure_means_away_until_away_max() -> None:
    reg = registry([resident()], [Device("cat-0001", DeviceKind.PINGAN_CAT, "r-0001", QUIET_HB),
                                  Device("door-0001", DeviceKind.DOOR_SENSOR, "r-0001", QUIET_HB)])
    t = local("Asia/Shanghai", 26, 9)
    drv = Driver.start(reg, at=t - 60)
    drv.event("cat-0001", "motion", t)
    drv.event("door-0001", "door_open", t + 60)
    drv.event("door-0001", "door_close", t + 90)
    drv.advance_to(t + 20 * 3600)
    assert drv.opened("inactivity") == []
    states = [a.state for a in drv.of_type(PersonStateChanged)]
    assert PersonState.AWAY in states
    drv.advance_to(t + 60 + 24 * 3600 + 1)
    [alert] = drv.opened("inactivity")
    assert alert.transitions[0].note == Reason.AWAY_TOO_LONG.value


def test_door_then_motion_is_a_return_home() -> None:
    reg = registry([resident()], [Device("cat-0001", DeviceKind.PINGAN_CAT, "r-0001", QUIET_HB),
                                  Device("door-0001", DeviceKind.DOOR_SENSOR, "r-0001", QUIET_HB)])
    t = local("Asia/Shanghai", 26, 9)
    drv = Driver.start(reg, at=t - 60)
    drv.event("door-0001", "door_open", t)
    drv.advance_to(t + 3600)
    assert drv.engine.resident_state("r-0001").away_since == t  # type: ignore[union-attr]
    drv.event("door-0001", "door_open", t + 2 * 3600)
    drv.event("cat-0001", "motion", t + 2 * 3600 + 30)
    assert drv.engine.resident_state("r-0001").away_since is None  # type: ignore[union-attr]
    drv.advance_to(t + 2 * 3600 + 6 * 3600 + 60)
    assert len(drv.opened("inactivity")) == 1  # judged again once home


def test_door_open_then_motion_inside_is_not_a_departure() -> None:
    reg = registry([resident()], [Device("cat-0001", DeviceKind.PINGAN_CAT, "r-0001", QUIET_HB),
                                  Device("door-0001", DeviceKind.DOOR_SENSOR, "r-0001", QUIET_HB)])
    t = local("Asia/Shanghai", 26, 9)
    drv = Driver.start(reg, at=t - 60)
    drv.event("door-0001", "door_open", t)
    drv.event("cat-0001", "motion", t + 120)
    drv.advance_to(t + 3600)
    assert drv.engine.resident_state("r-0001").away_since is None  # type: ignore[union-attr]


def test_absence_entered_mid_silence_pauses_judgement() -> None:
    drv = cat_only()
    t = local("Asia/Shanghai", 26, 9)
    drv.event("cat-0001", "motion", t)
    drv.advance_to(t + 3 * 3600)
    reg = drv.engine._ctx.index.snapshot
    until = t + 48 * 3600
    drv.record(drv.engine.set_registry(replace(reg, absences=(Absence("r-0001", t + 3 * 3600, until, "visiting daughter"),))))
    drv.advance_to(until - 60)
    assert drv.opened("inactivity") == []
    away = [a for a in drv.of_type(PersonStateChanged) if a.state is PersonState.AWAY]
    assert away and away[-1].explanation == explain(ReasonCode.ABSENCE, until=until)
    drv.advance_to(until + 6 * 3600 + 60)  # silence counted from the expected return
    assert len(drv.opened("inactivity")) == 1


def test_absence_recorded_resolves_open_inactivity_alert() -> None:
    drv = cat_only()
    t = local("Asia/Shanghai", 26, 9)
    drv.event("cat-0001", "motion", t)
    drv.advance_to(t + 7 * 3600)
    assert len(drv.open_alerts("inactivity")) == 1
    reg = drv.engine._ctx.index.snapshot
    drv.record(drv.engine.set_registry(replace(reg, absences=(Absence("r-0001", t, t + 86400),))))
    [res] = drv.of_type(AlertResolved)
    assert res.reason is Reason.ABSENCE_RECORDED and drv.open_alerts() == []


def test_buffered_activity_fills_the_silence_it_covers() -> None:
    """The cat loses its network for 7 h but keeps motion events; the flush shows she was active."""
    reg = registry([resident()], [Device("cat-0001", DeviceKind.PINGAN_CAT, "r-0001", 300)])
    t = local("Asia/Shanghai", 26, 8)
    drv = Driver.start(reg, at=t)
    drv.heartbeats_every("cat-0001", t, t + 3600)
    drv.event("cat-0001", "motion", t + 3600)
    reconnect = t + 8 * 3600
    drv.advance_to(reconnect)
    assert len(drv.open_alerts("device_offline")) == 1
    assert drv.opened("inactivity") == []  # the offline device inhibits the judgement that depended on it
    for k in range(1, 15):  # hours of buffered motion, flushed at reconnect with original ts
        drv.event("cat-0001", "motion", at=reconnect + k * 0.01, ts=t + 3600 + k * 1800)
    drv.heartbeats_every("cat-0001", reconnect + 1, reconnect + 3 * 3600)
    assert drv.open_alerts("device_offline") == []
    assert drv.opened("inactivity") == []
    assert drv.engine.resident_state("r-0001").last_activity == t + 3600 + 14 * 1800  # type: ignore[union-attr]


def test_old_ts_never_moves_last_activity_backwards() -> None:
    drv = cat_only()
    t = local("Asia/Shanghai", 26, 9)
    drv.event("cat-0001", "motion", t)
    drv.event("cat-0001", "motion", at=t + 60, ts=t - 3600)
    assert drv.engine.resident_state("r-0001").last_activity == t  # type: ignore[union-attr]


def test_resident_override_of_thresholds() -> None:
    from alerts.registry import InactivityOverride

    r = replace(resident(), inactivity=InactivityOverride(day_hours=2))
    t = local("Asia/Shanghai", 26, 9)
    drv = Driver.start(registry([r], [Device("cat-0001", DeviceKind.PINGAN_CAT, "r-0001", QUIET_HB)]), at=t - 60)
    drv.event("cat-0001", "motion", t)
    drv.advance_to(t + 2 * 3600 + 1)
    assert len(drv.opened("inactivity")) == 1
