"""device_offline (missed heartbeats, Last Will, unwatched), low_battery hysteresis, person state."""

from __future__ import annotations

import pytest
from rules_kit import T0, Device, Driver, registry, resident

from alerts.actions import (
    AlertResolved,
    AlertUpdated,
    DeviceHealth,
    DeviceStateChanged,
    Outcome,
    PersonState,
    PersonStateChanged,
    Reason,
    Severity,
)
from devices import DeviceKind

CAT = Device("cat-0001", DeviceKind.PINGAN_CAT, "r-0001", 300)
DOOR = Device("door-0001", DeviceKind.DOOR_SENSOR, "r-0001", 600)
SMOKE = Device("smoke-0001", DeviceKind.SMOKE_ALARM, "r-0001", 3600)


def test_missed_heartbeats_open_offline_then_high_when_unwatched() -> None:
    drv = Driver.start(registry([resident()], [CAT]))
    drv.heartbeats_every("cat-0001", T0, T0 + 1200)
    drv.advance_to(T0 + 1200 + 900 - 1)
    assert drv.opened("device_offline") == []
    drv.advance_to(T0 + 1200 + 900)
    [alert] = drv.opened("device_offline")
    assert alert.severity is Severity.LOW and alert.device == "cat-0001" and not alert.late
    drv.advance_to(T0 + 1200 + 900 + 3600)
    assert drv.open_alerts("device_offline")[0].severity is Severity.HIGH
    assert any(isinstance(a, AlertUpdated) and a.reason is Reason.UNWATCHED for a in drv.actions)
    assert drv.opened("inactivity") == []  # never both for the same cause
    assert any(isinstance(a, PersonStateChanged) and a.state is PersonState.UNKNOWN for a in drv.actions)


def test_any_message_counts_as_heard() -> None:
    drv = Driver.start(registry([resident()], [CAT]))
    for k in range(10):
        drv.event("cat-0001", "motion", T0 + k * 600)
    assert drv.opened("device_offline") == []


def test_last_will_then_heartbeat_clears() -> None:
    drv = Driver.start(registry([resident()], [CAT]))
    drv.heartbeat("cat-0001", T0 + 10)
    drv.send("cat-0001", "status", {"state": "offline"}, T0 + 20)
    [alert] = drv.opened("device_offline")
    assert alert.transitions[0].note == Reason.LAST_WILL.value
    states = [a.state for a in drv.of_type(DeviceStateChanged)]
    assert states[-1] is DeviceHealth.OFFLINE
    drv.heartbeat("cat-0001", T0 + 200)
    [res] = drv.of_type(AlertResolved)
    assert res.outcome is Outcome.CLEARED and res.reason is Reason.DEVICE_HEARD
    assert drv.of_type(DeviceStateChanged)[-1].state is DeviceHealth.ONLINE


def test_door_sensor_offline_stays_low_and_the_motion_sensor_still_judges() -> None:
    drv = Driver.start(registry([resident()], [CAT, DOOR]))
    drv.heartbeats_every("cat-0001", T0, T0 + 12 * 3600, every=300)
    [alert] = drv.opened("device_offline")
    assert alert.device == "door-0001" and drv.final(alert).severity is Severity.LOW
    assert len(drv.opened("inactivity")) == 1


def test_motion_sensor_offline_next_to_a_live_door_sensor_is_unwatched() -> None:
    """The door sensor alone cannot see someone on the floor: no inactivity judgement, the
    offline alert is raised to high after unwatched_hours, person state says so."""
    drv = Driver.start(registry([resident()], [CAT, DOOR]))
    drv.heartbeats_every("door-0001", T0, T0 + 12 * 3600, every=600)
    [alert] = drv.opened("device_offline")
    assert alert.device == "cat-0001" and drv.final(alert).severity is Severity.HIGH
    assert drv.opened("inactivity") == []
    states = [(c.state, c.reason) for c in drv.of_type(PersonStateChanged)]
    assert (PersonState.UNKNOWN, Reason.NO_MOTION_SENSOR) in states  # then `alert`, once the offline alert is high


def test_non_activity_device_offline_is_low() -> None:
    drv = Driver.start(registry([resident()], [CAT, SMOKE]))
    drv.heartbeats_every("cat-0001", T0, T0 + 3 * 3600 + 3600)
    [alert] = drv.opened("device_offline")
    assert alert.device == "smoke-0001" and drv.final(alert).severity is Severity.LOW


@pytest.mark.parametrize(
    ("levels", "open_after"),
    [
        ([50, 25, 21], [False, False, False]),
        ([50, 20, 25, 30, 31], [False, True, True, True, False]),
        ([15, 10, 5], [True, True, True]),
        ([19, 35, 19], [True, False, True]),
    ],
)
def test_low_battery_hysteresis(levels: list[int], open_after: list[bool]) -> None:
    drv = Driver.start(registry([resident()], [CAT]))
    for k, (level, expect) in enumerate(zip(levels, open_after, strict=True)):
        drv.heartbeat("cat-0001", T0 + k * 300, battery=level)
        assert bool(drv.open_alerts("low_battery")) is expect, (k, level)
    assert len(drv.open_alerts("low_battery")) <= 1


def test_person_state_active_then_quiet() -> None:
    drv = Driver.start(registry([resident()], [CAT]))
    drv.event("cat-0001", "motion", T0 + 10)
    drv.heartbeats_every("cat-0001", T0 + 300, T0 + 3600)
    states = [a.state for a in drv.of_type(PersonStateChanged)]
    assert states[-2:] == [PersonState.HOME_ACTIVE, PersonState.HOME_QUIET]
    drv.event("cat-0001", "sos", T0 + 4000)
    assert drv.of_type(PersonStateChanged)[-1].state is PersonState.ALERT


@pytest.mark.parametrize(("grace_s", "back_at", "opens_at"), [
    (0, 200, 20),  # the contract's reading: a Last Will opens the alert at once
    (300, 200, None),  # a router's reboot: heard again within the grace, no alert
    (300, None, 320),  # not heard again: the alert opens when the grace is over
    (600, 400, None),
    (1800, None, 910),  # never later than its missed heartbeats would open it: last heard at 10, 3 × 300 s
    (1800, 800, None),  # back before its heartbeats ran out: never offline by that reading either
])
def test_a_last_will_waits_out_its_grace(grace_s: float, back_at: float | None, opens_at: float | None) -> None:
    drv = Driver.start(registry([resident()], [CAT]), last_will_grace_s=grace_s)
    drv.heartbeat("cat-0001", T0 + 10)
    drv.send("cat-0001", "status", {"state": "offline"}, T0 + 20)
    assert drv.of_type(DeviceStateChanged)[-1].state is DeviceHealth.OFFLINE  # the board sees it at once
    if back_at is not None:
        drv.heartbeats_every("cat-0001", T0 + back_at, T0 + 20 + grace_s + 1)
    drv.advance_to(T0 + 20 + grace_s + 1)
    opened = drv.opened("device_offline")
    assert [a.opened_at - T0 for a in opened] == ([] if opens_at is None else [opens_at])
    if opened:
        assert opened[0].transitions[0].note == Reason.LAST_WILL.value and opened[0].triggered_at == T0 + 20


@pytest.mark.parametrize(("back", "open_at_end"), [
    ((), True),  # a power cut that lasts: one alert names both devices
    (("cat-0001",), True),  # the unit is back, the door sensor is not: the alert stays, with a note
    (("door-0001",), True),
    (("cat-0001", "door-0001"), False),  # both back: cleared by the last one heard
    (("door-0001", "cat-0001"), False),
])
def test_one_offline_alert_per_resident(back: tuple[str, ...], open_at_end: bool) -> None:
    """A power cut silences the unit and the door sensor together: one alert for her (PRODUCT.md:
    at most one open alert per (resident, kind)), cleared when the last of them is heard again."""
    drv = Driver.start(registry([resident()], [CAT, DOOR]))
    drv.heartbeat("cat-0001", T0)
    drv.heartbeat("door-0001", T0)
    drv.advance_to(T0 + 3 * 3600)
    [alert] = drv.opened("device_offline")
    told = drv.final(alert)
    assert alert.device == "cat-0001" and told.triggers == 2
    assert [n.params["device"]["id"] for n in told.notes if n.code == "heartbeats_missed"] == ["door-0001"]
    for k, device in enumerate(back):
        drv.heartbeat(device, T0 + 4 * 3600 + k * 60)
    assert bool(drv.open_alerts("device_offline")) is open_at_end
    assert len(drv.opened("device_offline")) == 1
    heard = [n.params["device"]["id"] for n in drv.final(alert).notes if n.code == "device_heard"]
    assert heard == list(back)


def test_a_watching_device_attached_raises_her_offline_alert() -> None:
    """The smoke alarm's low alert is open when the unit dies too: she is unwatched, the one alert turns high."""
    drv = Driver.start(registry([resident()], [CAT, SMOKE]))
    drv.heartbeats_every("cat-0001", T0, T0 + 4 * 3600)
    [alert] = drv.opened("device_offline")
    assert alert.device == "smoke-0001" and drv.final(alert).severity is Severity.LOW
    drv.advance_to(T0 + 4 * 3600 + 900 + 3600)
    assert len(drv.opened("device_offline")) == 1 and drv.final(alert).severity is Severity.HIGH


def test_an_offline_alert_per_device_saved_before_one_per_resident_each_clear() -> None:
    """A state saved when the key held the device: two offline alerts for one resident, no
    `offline_told`. Each clears when its own device is heard again, and neither loses the other."""
    drv = Driver.start(registry([resident()], [CAT, DOOR]))
    drv.advance_to(T0 + 3600)
    saved = drv.engine.snapshot()
    [alert] = saved["alerts"]
    saved["alerts"] = [alert | {"device": "cat-0001"}, alert | {"id": alert["id"] + "-door", "code": "OLD2", "device": "door-0001"}]
    for device in saved["devices"].values():
        del device["offline_told"]
    drv.engine.restore(saved)
    assert sorted(a.device or "" for a in drv.open_alerts("device_offline")) == ["cat-0001", "door-0001"]
    drv.heartbeat("door-0001", at=T0 + 3700)
    assert [a.device for a in drv.open_alerts("device_offline")] == ["cat-0001"]
    drv.heartbeat("cat-0001", at=T0 + 3800)
    assert drv.open_alerts("device_offline") == []
    assert sorted(r.alert.device for r in drv.of_type(AlertResolved)) == ["cat-0001", "door-0001"]


def test_removing_the_last_offline_device_clears_her_alert() -> None:
    drv = Driver.start(registry([resident()], [CAT, DOOR]))
    drv.heartbeats_every("cat-0001", T0, T0 + 3 * 3600)
    [alert] = drv.opened("device_offline")
    assert alert.device == "door-0001"
    drv.record(drv.engine.set_registry(registry([resident()], [CAT])))
    [resolved] = drv.of_type(AlertResolved)
    assert resolved.alert.id == alert.id and resolved.reason is Reason.DEVICE_REMOVED
