"""inactivity.door_ajar_unseen: a door that stands open sees no departures (a farmhouse's door
propped open from morning to dusk): her home is judged as one without a door sensor until it is
shut. On the virtual clock; T0 is 10:00 in Asia/Shanghai."""

from __future__ import annotations

import pytest
from rules_kit import T0, Device, Driver, registry, resident

from alerts.config import RulesConfig
from devices import DeviceKind

CAT = Device("cat-0001", DeviceKind.PINGAN_CAT, "r-0001", 300)
DOOR = Device("door-0001", DeviceKind.DOOR_SENSOR, "r-0001", 300)
H = 3600.0
LAST = 3030  # her last motion, seconds after T0


def _silence_alert_at(ajar_unseen: bool, door: list[tuple[float, str]], later: tuple[float, ...] = ()) -> float | None:
    """Her door's events (seconds after T0), her motion every 10 min until LAST, then nothing but
    the unit's motions `later`: when her inactivity alert opens, in seconds after LAST (None: not
    within 10 h of T0)."""
    opened = _first_silence_alert({"door_ajar_unseen": ajar_unseen}, door, [*range(30, LAST + 1, 600), *later], 10)
    return None if opened is None else opened - T0 - LAST


def _first_silence_alert(inactivity: dict[str, object], door: list[tuple[float, str]], motions: list[float],
                         hours: int) -> float | None:
    """Her door's events and the unit's motions (seconds after T0) under these inactivity keys (a
    door sensor's 2.5 h by day, 6 h without), both devices' heartbeats all along: when her first
    inactivity alert opens (None: not within `hours` of T0)."""
    rules = RulesConfig(inactivity={"day_hours": 6, "day_hours_door": 2.5, **inactivity})
    drv = Driver.start(registry([resident()], [CAT, DOOR]), rules)
    steps = sorted([(t, "door-0001", kind) for t, kind in door] + [(t, "cat-0001", "motion") for t in motions]
                   + [(t, device, "heartbeat") for t in range(0, hours * 3600, 300) for device in ("cat-0001", "door-0001")])
    for t, device, kind in steps:
        drv.advance_to(T0 + t)
        if kind == "heartbeat":
            drv.heartbeat(device, at=T0 + t)
        else:
            drv.event(device, kind, at=T0 + t)
    opened = [a.opened_at for a in drv.opened("inactivity")]
    return opened[0] if opened else None


@pytest.mark.parametrize(("door", "ajar_unseen", "alert_after_h"), [
    pytest.param([(0, "door_open")], False, 2.5, id="propped open, rule off: the door's 2.5 h"),
    pytest.param([(0, "door_open")], True, 6.0, id="propped open: she may have walked out unseen, 6 h"),
    pytest.param([(0, "door_open"), (60, "door_close")], True, 2.5, id="opened and shut: the door sees her going, 2.5 h"),
    pytest.param([(0, "door_open"), (2900, "door_close")], True, 2.5, id="shut after standing open: it sees her going again"),
    pytest.param([(2400, "door_open")], True, 6.0, id="opened 10 min before her last motion, then left open"),
    pytest.param([(2900, "door_open")], True, 6.0, id="opened 2 min before her last motion: standing open when judged"),
])
def test_a_door_standing_open_sees_no_departures(door: list[tuple[float, str]], ajar_unseen: bool, alert_after_h: float) -> None:
    at = _silence_alert_at(ajar_unseen, door)
    assert at is not None and at == pytest.approx(alert_after_h * H, abs=60)


def test_one_motion_after_she_left_leaving_the_door_open_is_no_return() -> None:
    """She went out and left the door standing open (opened after her last motion, none after it:
    a departure). A pet's one motion an hour later is no return — several motions or a door event
    are — so she stays away and no silence is judged, with the rule on as with it off
    (inactivity.unshut_door_return off, the engine's default; shipped on, below)."""
    for ajar_unseen in (False, True):
        assert _silence_alert_at(ajar_unseen, [(LAST + 300, "door_open")], later=(LAST + 3600,)) is None




OUT = 10 * H + 51 * 60  # 20:51, her door opens and no motion follows (lingnan s1 r-0011)
NIGHT_LONE = (12 * H + 44 * 60, 16 * H + 32 * 60)  # 22:44 (to bed) and 02:32 (the bathroom): then a fall


def _alert_after_departure(mode: str, door: list[tuple[float, str]], lone: tuple[float, ...] = NIGHT_LONE) -> float | None:
    """Her motion every 10 min until 10 min before the door's last opening of `door` (seconds after
    T0, 10:00), her door's events — that opening with no motion for 10 min after it, a departure —,
    her lone motions `lone`, then nothing. When her inactivity alert opens, in hours after her last
    motion (None: not within 28 h of T0)."""
    out = max(t for t, kind in door if kind == "door_open")
    motions = [*range(0, int(out) - 600 + 1, 600), *lone]
    opened = _first_silence_alert({"unshut_door_return": mode}, door, motions, 28)
    return None if opened is None else (opened - T0 - motions[-1]) / H


@pytest.mark.parametrize(("mode", "door", "lone", "alert_after_h"), [
    pytest.param("never", [(OUT, "door_open")], NIGHT_LONE, None,
                 id="rule off: she is away until 24 h after the door, her night is never judged"),
    pytest.param("night", [(OUT, "door_open")], NIGHT_LONE, 7.5,
                 id="the door she left by never shut: her motion at 22:44 is her return, the night is judged, found at 10:00"),
    pytest.param("night", [(OUT, "door_open"), (OUT + 60, "door_close")], NIGHT_LONE, None,
                 id="shut behind her: a lone motion is no return, she is away"),
    pytest.param("night", [(590, "door_open"), (OUT, "door_open")], NIGHT_LONE, None,
                 id="a sensor that reports openings only: the door stands open since 10:09, not since her going"),
    pytest.param("night", [(5 * H, "door_open")], (6 * H,), None,
                 id="propped open at 15:00: a lone motion by day is no return (a pet, a heater; she comes back moving)"),
    pytest.param("always", [(5 * H, "door_open")], (6 * H,), 2.5,
                 id="always: the lone motion at 16:00 is her return, the day's 2.5 h from it"),
])
def test_a_departure_through_a_door_left_open_ends_with_her_first_motion(
        mode: str, door: list[tuple[float, str]], lone: tuple[float, ...], alert_after_h: float | None) -> None:
    at = _alert_after_departure(mode, door, lone)
    assert at == (None if alert_after_h is None else pytest.approx(alert_after_h, abs=0.05))
