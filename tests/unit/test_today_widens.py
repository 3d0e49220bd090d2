"""A false alarm she ended herself widens the rest of her day (rules.learned_day.today_widens;
alerts/rules/quiet.py `_today`, docs/RULES.md "Her day, once an alert found her well").

Day 1 of watching (the 2.5 h prior, a door sensor): quiet from 10:00, the alert opens at 12:30
and her own movement at 13:00 ends it — the responder found her well, in bed with a cold or by
the fire. Quiet again from 15:30 to 18:45. Before, that opened a second alert at 18:00 (harbin's
colds and sichuan's firesides: one every few hours). With the key, the rest of the day is allowed
1.5 × the alerted spell (3.75 h). A morning alert ended by the door (someone coming in to find
her) or a long quiet morning with no alert widens nothing.
"""

from __future__ import annotations

import pytest
from rules_kit import T0, Device, Driver, registry, resident

from alerts.config import RulesConfig
from devices import DeviceKind

H = 3600.0
CAT = Device("cat-0001", DeviceKind.PINGAN_CAT, "r-0001", 300)
DOOR = Device("door-0001", DeviceKind.DOOR_SENSOR, "r-0001", 900)
AFTERNOON = T0 + 5.5 * H  # 15:30 local


def _day(on: bool, morning_quiet_h: float, ended_by_door: bool) -> Driver:
    rules = RulesConfig(inactivity={"day_hours": 6, "day_hours_door": 2.5, "nap": None},
                        learned_day={"enabled": True, "min_days": 1, "margin": 1.5, "today_widens": on})
    drv = Driver.start(registry([resident()], [CAT, DOOR]), rules=rules, at=T0 - 60)
    back = T0 + morning_quiet_h * H  # her first movement after the morning's quiet
    busy = [back + k * 600 for k in range(1, 30) if back + k * 600 <= AFTERNOON]  # up and about until 15:30
    moves = [T0, back, *busy, AFTERNOON, AFTERNOON + 3.25 * H]
    t = T0 - 60
    while t < AFTERNOON + 3.5 * H:
        t += 300
        drv.heartbeat("cat-0001", t)
        if int(t - T0) % 900 < 300:
            drv.heartbeat("door-0001", t + 1)
        for at in [m for m in moves if t - 300 < m <= t]:
            if ended_by_door and at == moves[1]:
                drv.event("door-0001", "door_open", at)  # a neighbour comes in to find her
                drv.event("door-0001", "door_close", at + 20)
            drv.event("cat-0001", "motion", at + 30)
    return drv


@pytest.mark.parametrize(("name", "on", "morning_quiet_h", "ended_by_door", "afternoon_alert"), [
    ("off: a second alert at 18:00", False, 3.0, False, True),
    ("on: the morning's false alarm widens her afternoon", True, 3.0, False, False),
    ("on: the morning's alert ended by someone at the door", True, 3.0, True, True),
    ("on: a quiet morning with no alert widens nothing", True, 2.25, False, True),
])
def test_an_alert_she_ended_herself_widens_the_rest_of_her_day(name: str, on: bool, morning_quiet_h: float,
                                                               ended_by_door: bool, afternoon_alert: bool) -> None:
    drv = _day(on, morning_quiet_h, ended_by_door)
    alerts = drv.opened("inactivity")
    morning = [a for a in alerts if a.triggered_at < AFTERNOON - H]
    afternoon = [a for a in alerts if a.triggered_at >= AFTERNOON]
    assert len(morning) == (1 if morning_quiet_h > 2.5 else 0), name
    assert bool(afternoon) == afternoon_alert, (name, [(a.opened_at - AFTERNOON) / H for a in afternoon])
    if afternoon:
        assert (afternoon[0].opened_at - AFTERNOON) / H == pytest.approx(2.5, abs=0.1), name
