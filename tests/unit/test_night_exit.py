"""geofence.night_exit: a resident with safe zones goes out through the door in the deep night
(her tag left on the table) and is not back 20 min later: a geofence_exit alert, resolved by her
return. On the virtual clock; T0 is 10:00 in Asia/Shanghai."""

from __future__ import annotations

import pytest
from rules_kit import HOME, T0, Device, Driver, Zone, registry, resident

from alerts.actions import Outcome
from alerts.config import RulesConfig
from alerts.reasons import ReasonCode
from devices import DeviceKind

CAT = Device("cat-0001", DeviceKind.PINGAN_CAT, "r-0001", 300)
DOOR = Device("door-0001", DeviceKind.DOOR_SENSOR, "r-0001", 300)
ZONE = Zone("小区周边", center=HOME, radius_m=500)
H = 3600.0
NIGHT = "00:00-05:00"


def _drive(window: str | None, out_at: float, zones: tuple[Zone, ...] = (ZONE,), back_after: float | None = None) -> Driver:
    """Her motion every 10 min until `out_at` (hours after T0), the door opens then and nothing
    moves at home after it; with `back_after` (hours) she comes back: the door, then her motion."""
    rules = RulesConfig(geofence={"night_exit": window})
    drv = Driver.start(registry([resident(zones=zones)], [CAT, DOOR]), rules)
    out = T0 + out_at * H
    steps = [(t, "cat-0001", "motion") for t in range(int(T0), int(out) - 60, 600)] + [(out, "door-0001", "door_open")]
    if back_after is not None:
        steps += [(out + back_after * H, "door-0001", "door_open"), (out + back_after * H + 60, "cat-0001", "motion")]
    steps += [(t, device, "heartbeat") for t in range(int(T0), int(out + 4 * H), 300) for device in ("cat-0001", "door-0001")]
    for t, device, kind in sorted(steps):
        drv.advance_to(t)
        if kind == "heartbeat":
            drv.heartbeat(device, at=t)
        else:
            drv.event(device, kind, at=t)
    drv.advance_to(out + 4 * H)
    return drv


@pytest.mark.parametrize(("window", "out_at", "zones", "opens"), [
    pytest.param(NIGHT, 18.5, (ZONE,), True, id="out at 04:30 with safe zones: a night exit"),
    pytest.param(None, 18.5, (ZONE,), False, id="rule off"),
    pytest.param(NIGHT, 19.5, (ZONE,), False, id="out at 05:30: the morning walk"),
    pytest.param(NIGHT, 5.0, (ZONE,), False, id="out at 15:00"),
    pytest.param(NIGHT, 18.5, (), False, id="no safe zones: nobody asked to watch her wander"),
    pytest.param(NIGHT, 18.5, (Zone("白天", center=HOME, radius_m=500, hours="08:00-20:00"),), False,
                 id="her zones are for the day only"),
])
def test_a_departure_in_the_night_window_opens_a_geofence_exit(window: str | None, out_at: float,
                                                              zones: tuple[Zone, ...], opens: bool) -> None:
    exits = _drive(window, out_at, zones).opened("geofence_exit")
    assert len(exits) == (1 if opens else 0)
    if opens:
        exit_ = exits[0]
        assert exit_.severity.value == "high" and exit_.device is None
        assert exit_.reason.code == ReasonCode.LEFT_HOME_AT_NIGHT and exit_.reason.params["at"] == T0 + out_at * H
        assert exit_.opened_at == pytest.approx(T0 + out_at * H + 1200, abs=60)  # not back 20 min after the door


def test_back_within_20_minutes_is_a_step_outside() -> None:
    assert _drive(NIGHT, 18.5, back_after=0.25).opened("geofence_exit") == []


def test_her_return_through_the_door_resolves_it() -> None:
    drv = _drive(NIGHT, 18.5, back_after=1.0)
    exit_ = drv.final(drv.opened("geofence_exit")[0])
    assert exit_.outcome is Outcome.RETURNED
    assert exit_.resolved_at == pytest.approx(T0 + 19.5 * H + 60, abs=1)
    assert [n.code for n in exit_.notes] == [ReasonCode.RETURNED_TO_ZONE]  # not "motion at home: check the tag"
