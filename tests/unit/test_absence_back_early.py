"""A recorded absence ends for the rules when she is seen back through the door, and holds again
when she leaves (alerts/rules/activity.py `_back_early`, alerts/context.py `absence_at`;
docs/RULES.md "Absence calendar").

The family records "at her daughter's" from 10:00 for three days; she leaves at 10:05 through
the door. Before, the calendar held every judgement until its expected return: back a day early,
a fall that evening went untold until the third day. Now a door event then her motion inside is
a return; the silence after it is judged as at home until a departure hands her back to the
absence (a visitor who checks the flat and leaves, a trip back in for something forgotten).
"""

from __future__ import annotations

import pytest
from rules_kit import T0, Device, Driver, registry, resident

from alerts.config import RulesConfig
from alerts.registry import Absence
from devices import DeviceKind

H = 3600.0
CAT = Device("cat-0001", DeviceKind.PINGAN_CAT, "r-0001", 300)
DOOR = Device("door-0001", DeviceKind.DOOR_SENSOR, "r-0001", 900)
LEAVES = T0 + 300  # 10:05 on the day the absence begins (T0 = 10:00)
ABSENCE = Absence("r-0001", T0, T0 + 3 * 24 * H, "visiting daughter")


def _through_the_door(drv: Driver, at: float, stays: bool) -> None:
    """In through the door (a door event, then motion inside); out again 10 min later unless she stays."""
    drv.event("door-0001", "door_open", at)
    drv.event("door-0001", "door_close", at + 10)
    for k in range(1, 4):
        drv.event("cat-0001", "motion", at + k * 60)
    if not stays:
        drv.event("door-0001", "door_open", at + 600)
        drv.event("door-0001", "door_close", at + 610)


def _run(visits: list[tuple[float, bool]]) -> Driver:
    rules = RulesConfig(inactivity={"day_hours": 6, "day_hours_door": 2.5, "nap": None})
    drv = Driver.start(registry([resident()], [CAT, DOOR], absences=(ABSENCE,)), rules=rules, at=T0 - 600)
    drv.event("cat-0001", "motion", T0 - 300)
    drv.event("door-0001", "door_open", LEAVES)
    drv.event("door-0001", "door_close", LEAVES + 10)
    pending = sorted(visits)
    t = T0 - 600
    while t < ABSENCE.until + H:
        t += 300
        drv.heartbeat("cat-0001", t)
        if int(t - T0) % 900 < 300:
            drv.heartbeat("door-0001", t + 1)
        while pending and pending[0][0] <= t:
            _through_the_door(drv, *pending.pop(0))
    return drv


@pytest.mark.parametrize(("name", "visits", "alert_after_h"), [
    ("away the whole absence: nothing", [], None),
    ("back a day early at 10:00, then on the floor", [(T0 + 24 * H, True)], 2.5),
    ("a visitor checks the flat and leaves", [(T0 + 24 * H, False)], None),
    ("back in for something forgotten, out again", [(LEAVES + 120, False)], None),
])
def test_seen_back_through_the_door_she_is_judged_at_home(name: str, visits: list[tuple[float, bool]],
                                                          alert_after_h: float | None) -> None:
    drv = _run(visits)
    alerts = [a for a in drv.opened("inactivity") if a.opened_at < ABSENCE.until]  # (at its end she is away > 24 h)
    if alert_after_h is None:
        assert alerts == [], (name, [(a.opened_at - T0) / H for a in alerts])
        return
    back = visits[0][0]
    assert len(alerts) == 1, name
    assert (alerts[0].opened_at - (back + 180)) / H == pytest.approx(alert_after_h, abs=0.1), name
