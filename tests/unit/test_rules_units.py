"""Homes with several devices (issue 15, session 16): a Ping'an Cat in the bedroom and one in the
living room, a front door and a balcony door. The rules read a resident's motion as one stream,
whichever unit saw it; what breaks is what belongs to one device — a door that is no way out.

rules.inactivity.departure_door_shut: whoever leaves home shuts the door behind her. A door
opened and left standing open with nothing moving inside — the balcony door while she is out
there, the front door she collapsed in — is no departure; her silence is judged meanwhile."""

from __future__ import annotations

import pytest
from rules_kit import Driver, registry, resident

from alerts.config import RulesConfig
from alerts.reasons import ReasonCode
from alerts.registry import Device
from devices import DeviceKind

H = 3600.0
MIN = 60.0
T7 = 1764111600.0  # 2025-11-26 07:00 Asia/Shanghai
MONTH = 86400 * 30  # heartbeats out of the way: these tests are about events
DEVICES = [Device("cat-0001", DeviceKind.PINGAN_CAT, "r-0001", MONTH),
           Device("cat-0001-lr", DeviceKind.PINGAN_CAT, "r-0001", MONTH),
           Device("door-0001", DeviceKind.DOOR_SENSOR, "r-0001", MONTH),
           Device("door-0001-bal", DeviceKind.DOOR_SENSOR, "r-0001", MONTH)]

# (hours after 07:00, device, event) after a morning about the flat (07:00-09:59, both units)
BALCONY_FALL = [(3.0, "door-0001-bal", "door_open")]  # out on the balcony, falls there: the door stands open
BALCONY = [(3.0, "door-0001-bal", "door_open"), (3.25, "door-0001-bal", "door_close"), (3.26, "cat-0001-lr", "motion")]
DOORWAY_FALL = [(3.0, "door-0001", "door_open")]  # the front door opened, she collapses in the doorway
OUTING = [(3.0, "door-0001", "door_open"), (3.0014, "door-0001", "door_close"),  # shut behind her 5 s later
          (7.0, "door-0001", "door_open"), (7.0014, "door-0001", "door_close"), (7.01, "cat-0001-lr", "motion")]
SLOW_DOOR = [(3.0, "door-0001", "door_open"), (3.4, "door-0001", "door_close"),  # 24 min ajar, then shut: she left
             (7.0, "door-0001", "door_open"), (7.0014, "door-0001", "door_close"), (7.01, "cat-0001-lr", "motion")]


def day(events: list[tuple[float, str, str]], shut: bool, closings: bool = True) -> Driver:
    """A morning about the flat (both units, 20 min in each room) with, at 07:30, a look out of the
    front door (`closings`: opened and shut, as door sensors report); then `events`; home again
    after them unless she fell, about the flat until 22:00 and from 07:00 the next morning."""
    rules = RulesConfig(inactivity={"day_hours_door": 2.5, "departure_door_shut": shut})
    drv = Driver.start(registry([resident()], DEVICES), rules=rules, at=T7 - 60)
    drv.event("door-0001", "door_open", T7 + 0.5 * H + 30)
    if closings:
        drv.event("door-0001", "door_close", T7 + 0.5 * H + 35)
    t = T7
    while t < T7 + 3 * H - 60:
        drv.event("cat-0001" if int((t - T7) // (20 * MIN)) % 2 else "cat-0001-lr", "motion", t)
        t += 4 * MIN
    for hours, device, event in events:
        drv.event(device, event, T7 + hours * H)
    back = events[-1][0] * H + 10 * MIN if events[-1][2] == "motion" else None  # home again (not fallen)
    for start, end in (((back, 15 * H), (24 * H, 28 * H)) if back is not None else ()):
        t = T7 + start  # about the flat until 22:00, and from 07:00 the next morning
        while t < T7 + end:
            drv.event("cat-0001-lr", "motion", t)
            t += 10 * MIN
    drv.advance_to(T7 + 28 * H)
    return drv


@pytest.mark.parametrize(
    ("name", "events", "shut", "alerts"),
    [
        ("a fall on the balcony, its door standing open: her silence judged, found 2.5 h after her last motion",
         BALCONY_FALL, True, [(ReasonCode.SILENCE_EXCEEDED, 5.5)]),
        ("key off: the balcony door read as a departure, found only when away too long (24 h)",
         BALCONY_FALL, False, [(ReasonCode.AWAY_TOO_LONG, 27.0)]),
        ("a fall in the front doorway, the door standing open: found as a silence", DOORWAY_FALL, True,
         [(ReasonCode.SILENCE_EXCEEDED, 5.5)]),
        ("key off: the same, a departure", DOORWAY_FALL, False, [(ReasonCode.AWAY_TOO_LONG, 27.0)]),
        ("15 min on the balcony and back in: nothing", BALCONY, True, []),
        ("the same, key off", BALCONY, False, []),
        ("out 4 h, the front door shut behind her: a departure as before, no alert", OUTING, True, []),
        ("the same, key off", OUTING, False, []),
        ("the front door ajar 24 min, then shut, nothing moving inside: a departure from its opening", SLOW_DOOR, True, []),
    ],
)
def test_a_door_standing_open_is_no_departure(name: str, events: list[tuple[float, str, str]], shut: bool,
                                              alerts: list[tuple[ReasonCode, float]]) -> None:
    drv = day(events, shut)
    got = [(a.reason.code, round((a.opened_at - T7) / H, 1)) for a in drv.opened("inactivity")]
    assert got == alerts, name


def test_a_door_sensor_that_reports_openings_only_keeps_its_departures() -> None:
    """A door sensor that never reports a closing (openings only): every departure would stand
    open for ever. The rule holds only where a closing has been seen: an outing is a departure."""
    for shut in (True, False):
        drv = day([(3.0, "door-0001", "door_open"), (7.0, "door-0001", "door_open"), (7.01, "cat-0001-lr", "motion")], shut,
                  closings=False)
        assert drv.opened("inactivity") == [], shut
