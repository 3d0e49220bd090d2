"""A flush of kept events after an outage is judged once it is over, not at each event
(alerts/rules/activity.py `note_activity` sets `flush_until`, alerts/rules/inactivity.py
`evaluate` waits for it; docs/RULES.md "device_offline", "A late event holds the judgement").

A power cut while she is out: the door sensor and the home unit go dark together. Back on, the
unit flushes the motions it kept (a pet, a heater, or she, home again) one every 0.1 s, hours old.
The first of them ends her absence (no door online to see her way back in) and the silence from
it is already past the allowance. Before, each kept motion cleared the alert the one before had
opened and the next silence opened another at once: 11 inactivity alerts at one instant on
`sichuan` (s2 r-0024). Now the silence is judged REJOIN_GRACE_S after the newest late event,
whichever rule's deadline comes first (a flushed door event's too: `shanghai` s1 r-0003's alert
opened and cleared in the same second is gone — measured by replay, docs/RULES.md).
"""

from __future__ import annotations

import pytest
from rules_kit import T0, Device, Driver, registry, resident

from alerts.context import REJOIN_GRACE_S
from devices import DeviceKind

H = 3600.0
CAT = Device("cat-0001", DeviceKind.PINGAN_CAT, "r-0001", 300)
DOOR = Device("door-0001", DeviceKind.DOOR_SENSOR, "r-0001", 900)
OUT, DOWN, BACK = T0 + 0.25 * H, T0 + 0.5 * H, T0 + 9 * H  # out by the door at 10:15, power cut 10:30-19:00


def _flush(newest_before_back_h: float) -> tuple[Driver, list[float]]:
    drv = Driver.start(registry([resident()], [CAT, DOOR]))
    drv.event("cat-0001", "motion", T0)
    drv.heartbeat("door-0001", T0 + 60)
    drv.event("door-0001", "door_open", OUT)
    drv.event("door-0001", "door_close", OUT + 20)
    for k in range(7):
        drv.heartbeat("cat-0001", T0 + k * 300)
    drv.send("cat-0001", "status", {"state": "online"}, BACK)
    kept = [DOWN + 0.25 * H + k * 0.25 * H for k in range(40)]
    kept = [ts for ts in kept if ts <= BACK - newest_before_back_h * H]
    for k, ts in enumerate(kept):  # flushed one every 0.1 s with their own time stamps
        drv.event("cat-0001", "motion", BACK + 0.1 * (k + 1), ts=ts)
    t = BACK + 5
    while t < BACK + 0.5 * H:
        drv.heartbeat("cat-0001", t)
        drv.heartbeat("door-0001", t + 1)
        t += 300
    return drv, kept


@pytest.mark.parametrize(("name", "newest_before_back_h", "alerts"), [
    ("the flush runs to 1 h before the rejoin: no silence to judge", 1.0, 0),
    ("the flush stops 7 h before the rejoin: one alert, after the flush", 7.0, 1),
])
def test_a_flush_opens_at_most_one_alert_and_only_after_it(name: str, newest_before_back_h: float, alerts: int) -> None:
    drv, kept = _flush(newest_before_back_h)
    assert len(kept) >= 3, name  # a flush of several kept motions
    opened = drv.opened("inactivity")
    assert len(opened) == alerts, (name, [(a.opened_at - BACK, a.triggered_at) for a in opened])
    for alert in opened:
        assert alert.triggered_at == kept[-1], name  # judged from the newest kept motion
        assert alert.opened_at >= BACK + REJOIN_GRACE_S, name
