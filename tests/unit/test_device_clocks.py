"""A device clock that runs behind (alerts/clocks.py), on the virtual clock: a home unit whose
clock is set hours back or reset to 2000-01-01 by a power cut, against one that buffered
through a Wi-Fi outage and flushes."""

from __future__ import annotations

import json

import pytest
from rules_kit import T0, Device, Driver, registry, resident

from alerts.config import RulesConfig
from devices import DeviceKind

H = 3600.0
CAT = Device("cat-0001", DeviceKind.PINGAN_CAT, "r-0001", 300)
DOOR = Device("door-0001", DeviceKind.DOOR_SENSOR, "r-0001", 900)
Y2000 = 946684800.0  # where a cheap real-time clock starts after losing power
RULES = RulesConfig(inactivity={"day_hours_door": 2.5})


def active_day(clock: float | None, clock_behind: bool = True, reset_at_h: float | None = None,
               fall_at_h: float | None = None) -> Driver:
    """10:00-22:00: motion every 20 min and a heartbeat every 5 min, the home unit's clock `clock`
    seconds behind (None: right); from `reset_at_h` its clock restarts at 2000-01-01; from
    `fall_at_h` heartbeats only. A door sensor (right clock) in the home: 2.5 h by day."""
    drv = Driver.start(registry([resident()], [CAT, DOOR]), rules=RULES.model_copy(update={"clock_behind": clock_behind}))
    t = T0
    while t < T0 + 12 * H:
        h = (t - T0) / H
        reset = reset_at_h is not None and h >= reset_at_h
        ts = Y2000 + (h - (reset_at_h or 0.0)) * H if reset else t - (clock or 0.0)
        if t % 1200 == T0 % 1200 and (fall_at_h is None or h < fall_at_h):
            drv.event("cat-0001", "motion", at=t, ts=ts)
        drv.send("cat-0001", "heartbeat", {}, at=t + 1, ts=ts + 1)
        if t % 900 == T0 % 900:
            drv.heartbeat("door-0001", t + 2)
        t += 300
    drv.advance_to(T0 + 12 * H)
    return drv


@pytest.mark.parametrize(
    ("name", "clock", "reset_at_h", "clock_behind", "alerts"),
    [
        ("clock right", None, None, True, 0),
        ("clock 90 s behind: live", 90.0, None, True, 0),
        ("clock 10 min behind", 600.0, None, True, 0),
        ("clock 3 h behind (a time zone off)", 3 * H, None, True, 0),
        ("clock 3 h behind, judged as late (before)", 3 * H, None, False, 17),
        ("clock reset to 2000-01-01 at 13:00", None, 3.0, True, 0),
        ("clock reset to 2000-01-01 at 13:00, judged as late (before)", None, 3.0, False, 1),
    ],
)
def test_a_clock_behind_does_not_silence_an_active_day(name: str, clock: float | None, reset_at_h: float | None,
                                                        clock_behind: bool, alerts: int) -> None:
    drv = active_day(clock, clock_behind, reset_at_h)
    assert len(drv.opened("inactivity")) == alerts, name


@pytest.mark.parametrize(
    ("name", "clock", "reset_at_h"),
    [("clock right", None, None), ("clock 2 h behind", 2 * H, None), ("clock reset at 11:00", None, 1.0)],
)
def test_a_fall_is_found_on_time_whatever_the_clock(name: str, clock: float | None, reset_at_h: float | None) -> None:
    drv = active_day(clock, reset_at_h=reset_at_h, fall_at_h=7.0)
    [alert] = drv.opened("inactivity")
    last_motion = T0 + 7 * H - 1200  # 16:40, the last motion before 17:00
    assert alert.opened_at == pytest.approx(last_motion + 2.5 * H, abs=30), name


def test_a_flush_after_an_outage_is_late_and_teaches_no_offset() -> None:
    """Wi-Fi gone 12:00-14:00 with the clock right: the buffered motions arrive within a minute
    at 14:00 (late, in device time), then live messages. No offset is taken."""
    drv = Driver.start(registry([resident()], [CAT, DOOR]), rules=RULES)
    for k in range(12):  # 12:00-13:50, buffered, flushed at 14:00:00-14:00:55
        drv.event("cat-0001", "motion", at=T0 + 4 * H + 5 * k, ts=T0 + 2 * H + 600 * k)
    ds = drv.engine._ctx.devices["cat-0001"]
    assert ds.lag_low is not None and ds.clock_behind_s is None
    for k in range(6):
        drv.send("cat-0001", "heartbeat", {}, at=T0 + 4 * H + 60 + 300 * k)
    assert ds.clock_behind_s is None and ds.lag_low is None
    assert drv.engine._ctx.counters["late_messages"] == 12


def test_a_slow_flush_is_not_a_clock_behind() -> None:
    """Six hours of buffered heartbeats delivered over 20 min: the lag falls all along."""
    drv = Driver.start(registry([resident()], [CAT, DOOR]), rules=RULES)
    for k in range(72):  # one every 5 min of device time, one every 17 s of receive time
        drv.send("cat-0001", "heartbeat", {}, at=T0 + 6 * H + 17 * k, ts=T0 + 300 * k)
    assert drv.engine._ctx.devices["cat-0001"].clock_behind_s is None


def test_a_clock_set_right_again_ends_the_correction() -> None:
    drv = active_day(2 * H)
    ds = drv.engine._ctx.devices["cat-0001"]
    assert ds.clock_behind_s == pytest.approx(2 * H, abs=5)
    drv.send("cat-0001", "heartbeat", {}, at=drv.now + 300)  # set by NTP: ts = receive time
    assert ds.clock_behind_s is None


def test_the_offset_survives_a_restart() -> None:
    drv = active_day(2 * H)
    saved = json.loads(json.dumps(drv.engine.snapshot()))
    again = Driver.start(drv.engine._ctx.index.snapshot, rules=drv.engine._ctx.rules, at=drv.now)
    again.engine.restore(saved)
    assert again.engine._ctx.devices["cat-0001"].clock_behind_s == drv.engine._ctx.devices["cat-0001"].clock_behind_s
    again.event("cat-0001", "motion", at=drv.now + 60, ts=drv.now + 60 - 2 * H)
    again.advance_to(drv.now + 2 * H)
    assert again.opened("inactivity") == []
