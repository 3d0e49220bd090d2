"""Inactivity after a Wi-Fi outage whose devices flush nothing (rules.inactivity.outage_not_silence;
alerts/rules/offline.py `_blind_span`, docs/RULES.md "Outages are unseen, not silence").

The home unit and the door sensor go silent together for 8 h (a router down); back online they
send no kept events. Before: the 8 unseen hours were silence, and an inactivity alert opened
two minutes after the rejoin although she had been up and about. With the key, the silence seen
before the outage and after it counts; a flush that proves her last movement is judged as before.
"""

from __future__ import annotations

import pytest
from rules_kit import T0, Device, Driver, registry, resident

from alerts.config import InactivityConfig, RulesConfig
from devices import DeviceKind

H = 3600.0
CAT = Device("cat-0001", DeviceKind.PINGAN_CAT, "r-0001", 300)
DOOR = Device("door-0001", DeviceKind.DOOR_SENSOR, "r-0001", 900)
DOWN, BACK = T0 + 0.5 * H, T0 + 8.5 * H  # the outage (10:30-18:30 local)


def _run(on: bool, moves_after: bool, flushed: float | None) -> Driver:
    rules = RulesConfig(inactivity=InactivityConfig(outage_not_silence=on))
    drv = Driver.start(registry([resident()], [CAT, DOOR]), rules=rules)
    drv.event("cat-0001", "motion", T0)
    for k in range(6):
        drv.heartbeat("cat-0001", T0 + k * 300)
    drv.heartbeat("door-0001", T0 + 60)
    for device in ("cat-0001", "door-0001"):
        drv.send(device, "status", {"state": "online"}, BACK)
        drv.heartbeat(device, BACK + 1)
    if flushed is not None:  # a device that kept what it saw flushes it with its own time stamps
        drv.event("cat-0001", "motion", BACK + 2, ts=flushed)
    t = BACK + 1
    while t < BACK + 12 * H:
        t += 300
        drv.heartbeat("cat-0001", t)
        if moves_after and int(t) % 1800 == int(BACK + 1 + 300) % 1800:
            drv.event("cat-0001", "motion", t)
        if int(t - BACK) % 900 < 300:
            drv.heartbeat("door-0001", t)
    return drv


@pytest.mark.parametrize(("name", "on", "moves_after", "flushed", "alert_within"), [
    ("up and about, nothing flushed, off (before)", False, True, None, (0.0, 0.1)),
    ("up and about, nothing flushed, on", True, True, None, None),
    ("on the floor since 10:00, nothing flushed, on", True, False, None, (5.0, 5.5)),
    ("on the floor since 12:00, the flush says so, on", True, False, T0 + 2 * H, (0.0, 0.1)),
])
def test_outage_without_a_flush(name: str, on: bool, moves_after: bool, flushed: float | None,
                                alert_within: tuple[float, float] | None) -> None:
    drv = _run(on, moves_after, flushed)
    alerts = drv.opened("inactivity")
    if alert_within is None:
        assert alerts == [], name
        return
    assert alerts, name
    after_h = (alerts[0].opened_at - BACK) / H
    assert alert_within[0] <= after_h <= alert_within[1], (name, after_h)
