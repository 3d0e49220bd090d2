"""device_offline on a lossy link (rules.flaky_links; alerts/rules/offline.py, docs/RULES.md "Flaky links").

A home unit beating every 300 s on a link that drops some heartbeats: two dropped in a row let
the third arrive a second past the 3-interval deadline. With flaky_links the hub has counted the
link's single misses and waits out such runs; a sound link, or a real outage, keeps its alert.
"""

from __future__ import annotations

import pytest
from rules_kit import T0, Device, Driver, registry, resident

from alerts.config import FlakyLinksConfig, RulesConfig
from devices import DeviceKind

HB = 300.0
CAT = Device("cat-0001", DeviceKind.PINGAN_CAT, "r-0001", int(HB))
DAY = 86400.0


def _run(flaky: bool, lost: set[int], beats: int, outage: tuple[int, int] | None = None) -> tuple[Driver, float]:
    """Heartbeats k = 0..beats-1 at T0 + k·HB (+1 s: a beat after a loss arrives a little late),
    minus the lost ones and those inside `outage` (first, last beat index)."""
    rules = RulesConfig(flaky_links=FlakyLinksConfig(enabled=flaky))
    drv = Driver.start(registry([resident()], [CAT]), rules=rules)
    drv.record(drv.engine.tick(T0))
    outage_at = 0.0
    for k in range(beats):
        if outage and outage[0] <= k <= outage[1]:
            outage_at = outage_at or T0 + k * HB
            continue
        if k in lost:
            continue
        drv.heartbeat("cat-0001", T0 + k * HB + (1.0 if k - 1 in lost else 0.0))
    drv.advance_to(T0 + beats * HB)
    return drv, outage_at


EVERY_TENTH = {k for k in range(5, 576, 10)}  # 10 % of the beats, one at a time: a lossy link
TWO_IN_A_ROW = {401, 402}  # then two dropped in a row: the third comes 1 s past 3 intervals


@pytest.mark.parametrize(("name", "flaky", "lost", "outage", "offline"), [
    ("sound link, flaky_links off", False, set(), None, 0),
    ("sound link, flaky_links on", True, set(), None, 0),
    ("lossy link, two lost in a row, off", False, EVERY_TENTH | TWO_IN_A_ROW, None, 1),
    ("lossy link, two lost in a row, on", True, EVERY_TENTH | TWO_IN_A_ROW, None, 0),
    ("lossy link, 2 h outage, on", True, EVERY_TENTH, (450, 474), 1),
    ("sound link, 20 min outage, on", True, set(), (450, 453), 1),
])
def test_offline_on_a_lossy_link(name: str, flaky: bool, lost: set[int], outage: tuple[int, int] | None, offline: int) -> None:
    drv, outage_at = _run(flaky, lost, 576, outage)  # two days
    alerts = drv.opened("device_offline")
    assert len(alerts) == offline, name
    if outage and not lost:  # a sound link keeps offline_after_missed exactly: 3 intervals after the last beat
        assert alerts[0].transitions[0].at == pytest.approx(outage_at - HB + 3 * HB)


def test_a_lossy_link_still_goes_offline_within_max_missed() -> None:
    drv, outage_at = _run(True, EVERY_TENTH, 576, (450, 574))
    [alert] = drv.opened("device_offline")
    last = outage_at - HB
    opened = alert.transitions[0].at
    assert last + 3 * HB < opened <= last + FlakyLinksConfig().max_missed * HB


GAS = Device("gas-0001", DeviceKind.GAS_ALARM, "r-0001", 1800)


@pytest.mark.parametrize(("cut_s", "gas_told"), [(5500.0, True), (3000.0, False)])
def test_a_power_cut_silences_a_lossy_device_within_the_contracts_intervals(cut_s: float, gas_told: bool) -> None:
    """A gas alarm on a lossy link (every fifth beat lost, one at a time) has earned a longer wait.
    When the home unit beside it goes offline in a power cut, that wait (8 intervals here) is no
    longer a lost beat's: the gas alarm is offline after 3 intervals (1.5 h) again, and her one
    offline alert tells of it. A cut that silences it for 2 intervals tells only of the unit."""
    drv = Driver.start(registry([resident()], [CAT, GAS]), rules=RulesConfig(flaky_links=FlakyLinksConfig(enabled=True)))
    cut = T0 + DAY + 10.0  # just after a beat of each
    beats = sorted([(T0 + k * HB, "cat-0001") for k in range(int(2 * DAY / HB))]
                   + [(T0 + k * 1800.0, "gas-0001") for k in range(int(2 * DAY / 1800)) if k % 5 != 4])
    for t, device in beats:
        if not cut <= t < cut + cut_s:
            drv.heartbeat(device, t)
    [alert] = drv.opened("device_offline")
    told = {n.params["device"]["id"] for n in drv.final(alert).notes if n.code.value == "heartbeats_missed"}
    assert alert.device == "cat-0001" and ("gas-0001" in told) is gas_told


@pytest.mark.parametrize(("name", "flaky"), [
    ("sound link", False),
    ("lossy link: its longer wait is for lost beats, not for a Last Will", True),
])
def test_a_late_last_will_opens_the_alert_at_the_contracts_intervals(name: str, flaky: bool) -> None:
    """Weak Wi-Fi drops the unit for 11 min: its Last Will comes 10.6 min after the last beat
    (the broker's keepalive), it is back 4.7 min later, inside the Last Will's grace. The missed
    beats ran out at 15 min and the alert opens then (`shanghai` s1 r-0001, missed before:
    the lossy link's learned wait was taken for the Last Will's cap too)."""
    rules = RulesConfig(flaky_links=FlakyLinksConfig(enabled=flaky), last_will_grace_s=300)
    drv = Driver.start(registry([resident()], [CAT]), rules=rules)
    drv.record(drv.engine.tick(T0))
    last = T0 + 449 * HB
    for k in range(450):
        if k not in EVERY_TENTH:
            drv.heartbeat("cat-0001", T0 + k * HB + (1.0 if k - 1 in EVERY_TENTH else 0.0))
    drv.send("cat-0001", "status", {"state": "offline"}, last + 638)
    drv.send("cat-0001", "status", {"state": "online"}, last + 921)
    for k in range(12):
        drv.heartbeat("cat-0001", last + 922 + k * HB)
    alerts = drv.opened("device_offline")
    assert len(alerts) == 1, name
    assert alerts[0].opened_at == pytest.approx(last + 3 * HB), name
