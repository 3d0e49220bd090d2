"""sos, sos_cancel, fall, smoke, gas: critical at once; cancel window; late SOS; re-triggers attach."""

from __future__ import annotations

import pytest
from rules_kit import T0, Driver

from alerts.actions import AlertResolved, AlertUpdated, Outcome, Reason, Severity


@pytest.mark.parametrize("event", ["sos", "fall", "smoke", "gas"])
def test_critical_event_opens_critical_alert_at_once(event: str) -> None:
    drv = Driver.start()
    drv.event("cat-0001", event, T0 + 10)
    [alert] = drv.opened(event)
    assert alert.severity is Severity.CRITICAL and alert.opened_at == T0 + 10 and alert.resident == "r-0001"
    assert len(alert.code) == 4 and not set(alert.code) & set("01OIL")


@pytest.mark.parametrize(("delay", "cancelled"), [(5, True), (30, True), (31, False), (300, False)])
def test_sos_cancel_inside_and_outside_window(delay: float, cancelled: bool) -> None:
    drv = Driver.start()
    drv.event("cat-0001", "sos", T0 + 10)
    drv.event("cat-0001", "sos_cancel", T0 + 10 + delay)
    [alert] = drv.opened("sos")
    final = drv.final(alert)
    if cancelled:
        [res] = drv.of_type(AlertResolved)
        assert res.outcome is Outcome.CANCELLED and res.notify_previous
        assert final.outcome is Outcome.CANCELLED
    else:
        assert final.is_open
        assert drv.of_type(AlertUpdated)[-1].reason is Reason.SOS_CANCEL_TOO_LATE


def test_retrigger_attaches_to_open_alert() -> None:
    drv = Driver.start()
    drv.event("cat-0001", "sos", T0 + 10)
    drv.event("cat-0001", "sos", T0 + 100)
    assert len(drv.opened("sos")) == 1
    assert len(drv.open_alerts("sos")) == 1
    assert drv.open_alerts("sos")[0].triggers == 2


def test_buffered_sos_still_raises_marked_late() -> None:
    drv = Driver.start()
    drv.event("cat-0001", "sos", at=T0 + 3600, ts=T0 + 600)
    [alert] = drv.opened("sos")
    assert alert.late and alert.triggered_at == T0 + 600 and alert.opened_at == T0 + 3600


@pytest.mark.parametrize(
    ("pressed", "cancelled_at", "cancelled"),
    [(10, 15, True), (10, 40, True), (10, 41, False), (20, 15, False)],
)
def test_cancel_ruled_before_its_sos(pressed: float, cancelled_at: float, cancelled: bool) -> None:
    """Out of order (two hubs, a stalled commit): the cancel is ruled first and the SOS it
    follows by ≤ sos_cancel_s of device time is cancelled on arrival, as in press order."""
    drv = Driver.start()
    drv.event("cat-0001", "sos_cancel", at=T0 + 100, ts=T0 + cancelled_at)
    drv.event("cat-0001", "sos", at=T0 + 101, ts=T0 + pressed)
    [alert] = drv.opened("sos")
    assert drv.final(alert).outcome is (Outcome.CANCELLED if cancelled else None)
    assert drv.final(alert).is_open is not cancelled


def test_cancel_ruled_before_a_repress_cancels_the_open_sos() -> None:
    """An SOS open from a minute ago; she presses again and cancels, the cancel ruled first:
    the re-press attaches and the cancel then applies to it, as in press order."""
    drv = Driver.start()
    drv.event("cat-0001", "sos", T0 + 10)
    drv.event("cat-0001", "sos_cancel", at=T0 + 100, ts=T0 + 75)
    drv.event("cat-0001", "sos", at=T0 + 101, ts=T0 + 70)
    [alert] = drv.opened("sos")
    assert drv.final(alert).outcome is Outcome.CANCELLED


def test_an_old_cancel_does_not_cancel_a_later_sos() -> None:
    drv = Driver.start()
    drv.event("cat-0001", "sos_cancel", T0 + 10)
    drv.event("cat-0001", "sos", T0 + 20)
    [alert] = drv.opened("sos")
    assert drv.final(alert).is_open
